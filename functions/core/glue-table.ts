import { MASTER_DATASET_COLUMNS, PARTITION_KEYS } from './master-dataset-columns';

/** The shape of CloudFormation's AWS::Glue::Table TableInput that the master dataset needs. */
export interface GlueTableInput {
  readonly Name: string;
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
 */
export function masterDatasetGlueTable(options: {
  name: string;
  bucket: string;
  prefix?: string;
  firstDay?: string;
}): GlueTableInput {
  const prefix = options.prefix ?? 'events/';
  const location = `s3://${options.bucket}/${prefix}`;
  return {
    Name: options.name,
    TableType: 'EXTERNAL_TABLE',
    Parameters: {
      classification: 'json',
      'projection.enabled': 'true',
      'projection.dt.type': 'date',
      'projection.dt.format': 'yyyy-MM-dd',
      'projection.dt.range': `${options.firstDay ?? '2020-01-01'},NOW`,
      'projection.dt.interval': '1',
      'projection.dt.interval.unit': 'DAYS',
      'projection.hour.type': 'integer',
      'projection.hour.range': '0,23',
      'projection.hour.digits': '2',
      'storage.location.template': `${location}${PARTITION_KEYS.map((key) => `${key}=\${${key}}`).join('/')}/`,
    },
    PartitionKeys: PARTITION_KEYS.map((key) => ({ Name: key, Type: 'string' })),
    StorageDescriptor: {
      Columns: MASTER_DATASET_COLUMNS.map((column) => ({ Name: column.name, Type: column.type })),
      Location: location,
      InputFormat: 'org.apache.hadoop.mapred.TextInputFormat',
      OutputFormat: 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat',
      SerdeInfo: {
        SerializationLibrary: 'org.openx.data.jsonserde.JsonSerDe',
        Parameters: { 'case.insensitive': 'true', 'ignore.malformed.json': 'false' },
      },
    },
  };
}
