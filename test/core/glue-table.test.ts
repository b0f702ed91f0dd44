import { masterDatasetGlueTable } from '../../functions/core/glue-table';

describe('master dataset Glue table', () => {
  const table = masterDatasetGlueTable({ name: 'events', bucket: 'master-bucket' });

  it('has a column for every event field and envelope field, typed for SQL', () => {
    expect(table.StorageDescriptor.Columns).toEqual([
      { Name: 'eventid', Type: 'string' },
      { Name: 'deviceid', Type: 'string' },
      { Name: 'site', Type: 'string' },
      { Name: 'metric', Type: 'string' },
      { Name: 'value', Type: 'double' },
      { Name: 'ts', Type: 'bigint' },
      { Name: 'arrival_ms', Type: 'bigint' },
      { Name: 'shard_id', Type: 'string' },
      { Name: 'sequence_number', Type: 'string' },
      { Name: 'subsequence_number', Type: 'bigint' },
    ]);
  });

  it('projects the dt and hour partitions onto the Firehose prefix, so no crawler is needed', () => {
    expect(table.PartitionKeys).toEqual([
      { Name: 'dt', Type: 'string' },
      { Name: 'hour', Type: 'string' },
    ]);
    expect(table.Parameters).toMatchObject({
      'projection.enabled': 'true',
      'projection.dt.type': 'date',
      'projection.dt.format': 'yyyy-MM-dd',
      'projection.hour.range': '0,23',
      'projection.hour.digits': '2',
      'storage.location.template': 's3://master-bucket/events/dt=${dt}/hour=${hour}/',
    });
  });

  it('reads the JSON lines with the case-insensitive OpenX SerDe, a malformed line as a row of NULLs the batch SQL skips', () => {
    expect(table.StorageDescriptor.SerdeInfo).toEqual({
      SerializationLibrary: 'org.openx.data.jsonserde.JsonSerDe',
      Parameters: { 'case.insensitive': 'true', 'ignore.malformed.json': 'true' },
    });
    expect(table.StorageDescriptor.Location).toBe('s3://master-bucket/events/');
  });
});
