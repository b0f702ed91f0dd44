/**
 * Every table of the pipeline (realtime, batch, manifest, eventId de-dup) has the same key schema: a string
 * partition key and a string sort key, and one TTL attribute. The CDK app, the local runtime and the tests all
 * provision from this.
 */
export const TABLE_KEY = { partitionKey: 'pk', sortKey: 'sk' } as const;
export const TTL_ATTRIBUTE = 'expiresAt';
