import { RemovalPolicy } from 'aws-cdk-lib';
import { AttributeType, BillingMode, Table, TableEncryption } from 'aws-cdk-lib/aws-dynamodb';
import { Construct } from 'constructs';
import { TABLE_KEY, TTL_ATTRIBUTE } from '../functions/core/table-layout';

export interface ViewTablesProps {
  /** RETAIN in production, DESTROY in dev. */
  readonly removalPolicy: RemovalPolicy;
  /** Create the eventId de-dup table (a view declares dedupeByEventId). @default false */
  readonly deduplication?: boolean;
  /** Create the anomalies table (a view declares a baseline). @default false */
  readonly anomalies?: boolean;
}

/**
 * The pipeline's DynamoDB tables, all with the key layout of functions/core/table-layout.ts: on-demand capacity
 * (load follows the stream), TTL (realtime items, old batch versions and de-dup claims expire; the key directory's
 * items do not), point-in-time recovery, and encryption at rest with the AWS-managed key (no key policy to maintain;
 * the data is derived and can be recomputed from the master dataset).
 */
export class ViewTables extends Construct {
  readonly realtime: Table;
  readonly batch: Table;
  readonly manifest: Table;
  readonly dedup?: Table;
  /**
   * The key directory (DESIGN.md §10): one item per view and key ever seen, written by the speed layer, batch
   * runs, rebuilds and replays, read (Query only) by the serving layer. Its items never expire: no TTL.
   */
  readonly keyDirectory: Table;
  /**
   * The anomalies (DESIGN.md §12; layout in functions/core/anomaly.ts): written by the speed layer, listed (Query
   * only) by the serving layer. Items expire with their view's retention after their event time.
   */
  readonly anomalies?: Table;

  constructor(scope: Construct, id: string, props: ViewTablesProps) {
    super(scope, id);
    const table = (name: string, expiring = true) =>
      new Table(this, name, {
        partitionKey: { name: TABLE_KEY.partitionKey, type: AttributeType.STRING },
        sortKey: { name: TABLE_KEY.sortKey, type: AttributeType.STRING },
        billingMode: BillingMode.PAY_PER_REQUEST,
        ...(expiring ? { timeToLiveAttribute: TTL_ATTRIBUTE } : {}),
        pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
        encryption: TableEncryption.AWS_MANAGED,
        removalPolicy: props.removalPolicy,
      });
    this.realtime = table('Realtime');
    this.batch = table('Batch');
    this.manifest = table('Manifest');
    if (props.deduplication) this.dedup = table('Dedup');
    this.keyDirectory = table('KeyDirectory', false);
    if (props.anomalies) this.anomalies = table('Anomalies');
  }
}
