import { DEFAULT_EVENT_SCHEMA, type EventSchema } from './event-schema';
import { masterDatasetColumns, PARTITION_KEYS } from './master-dataset-columns';

/** The shape of CloudFormation's AWS::Glue::Table TableInput that the master dataset needs. */
export interface GlueTableInput {
  readonly Name: string;
  readonly Description: string;
  readonly TableType: 'EXTERNAL_TABLE';
  readonly Parameters: Record<string, string>;
  readonly PartitionKeys: readonly { Name: string; Type: string }[];
  readonly StorageDescriptor: {
    readonly Columns: readonly { Name: string; Type: string }[];
    readonly Location: string;
    readonly InputFormat: string;
    readonly OutputFormat: string;
    readonly SerdeInfo: { SerializationLibrary: string; Parameters: Record<string, string> };
  };
}

/**
 * The master dataset's Glue table, generated from the event schema's columns, with partition projection on the
 * arrival-time partitions `dt` and `hour` so Athena needs no crawler and no partition registration
 * (DESIGN.md §5). The OpenX JSON SerDe matches the JSON keys case-insensitively, as the batch SQL assumes.
 *
 * `ignore.malformed.json`: the archive is append-only, so a line Athena cannot parse would otherwise fail every
 * query over its partition on every run, for good. With it, the SerDe reads such a line as a row of NULLs, which the
 * batch SQL skips and counts as unreadable (batch-sql.ts), as DuckDB does with `ignore_errors`. What the SerDe does
 * not refuse: a lone surrogate escape (`"\ud800"`) decodes into a Java char with no check and reaches the column as
 * `?` (String.getBytes' replacement for an unpaired surrogate), so Athena cannot tell it from a real `?`; the
 * Firehose transform refuses such events since the rules changed, and only older lines can hold one.
 */
export function masterDatasetGlueTable(options: {
  name: string;
  bucket: string;
  prefix?: string;
  firstDay?: string;
  /** @default DEFAULT_EVENT_SCHEMA */
  schema?: EventSchema;
}): GlueTableInput {
  const given = options.prefix ?? 'events/';
  // Firehose's prefix names a folder: without the slash, `events` would also match `events-old/`.
  const prefix = given === '' || given.endsWith('/') ? given : `${given}/`;
  const firstDay = options.firstDay ?? '2020-01-01';
  if (!/^\d{4}-\d{2}-\d{2}$/.test(firstDay)) throw new Error(`firstDay: expected yyyy-MM-dd, got ${firstDay}`);
  const location = `s3://${options.bucket}/${prefix}`;
  return {
    Name: options.name,
    Description: 'The master dataset: every archived event, one JSON object per line, by arrival dt and hour.',
    TableType: 'EXTERNAL_TABLE',
    Parameters: {
      EXTERNAL: 'TRUE',
      classification: 'json',
      'projection.enabled': 'true',
      'projection.dt.type': 'date',
      'projection.dt.format': 'yyyy-MM-dd',
      'projection.dt.range': `${firstDay},NOW`,
      'projection.dt.interval': '1',
      'projection.dt.interval.unit': 'DAYS',
      'projection.hour.type': 'integer',
      'projection.hour.range': '0,23',
      'projection.hour.digits': '2',
      'storage.location.template': `${location}${PARTITION_KEYS.map((key) => `${key}=\${${key}}`).join('/')}/`,
    },
    PartitionKeys: PARTITION_KEYS.map((key) => ({ Name: key, Type: 'string' })),
    StorageDescriptor: {
      Columns: masterDatasetColumns(options.schema ?? DEFAULT_EVENT_SCHEMA).map((column) => ({
        Name: column.name,
        Type: column.type,
      })),
      Location: location,
      InputFormat: 'org.apache.hadoop.mapred.TextInputFormat',
      OutputFormat: 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat',
      SerdeInfo: {
        SerializationLibrary: 'org.openx.data.jsonserde.JsonSerDe',
        Parameters: { 'case.insensitive': 'true', 'ignore.malformed.json': 'true' },
      },
    },
  };
}
