/**
 * Names of the columns the batch SQL adds to the master dataset's in its working tables (batch-sql.ts), which a
 * schema field may therefore not take (event-schema-definition.ts).
 */
export const SQL_WORKING_COLUMNS = [
  'skip_reason',
  'copy_rank',
  'previous_copy',
  'hash_hex',
  'hash_hi',
  'hash_lo',
  'slot',
  'slot_value',
  'slot_input',
  'cells',
] as const;

/** The prefix of the group columns (dimensions, bucket, epoch) the batch SQL adds to the rows a view keeps. */
export const KEPT_PREFIX = 'kept_';
