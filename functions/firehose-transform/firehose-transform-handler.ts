import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { FirehoseTransformationEvent, FirehoseTransformationResult } from 'aws-lambda';
import type { CountMetrics, HandlerLogger } from '../adapters/telemetry';
import { archiveRecord } from './archive-record';

export const FIREHOSE_TRANSFORM_METRICS = { archived: 'RecordsArchived', rejected: 'RecordsRejected' } as const;

export interface FirehoseTransformDependencies {
  readonly logger: HandlerLogger;
  readonly metrics: CountMetrics;
}

/**
 * The Firehose transform: every record gets an answer, `Ok` with its master-dataset line and partition keys, or
 * `ProcessingFailed` with its original data, which Firehose writes under the error prefix. Nothing is `Dropped`:
 * an invalid event is kept where it can be inspected and replayed. The reason is logged with the record's
 * sequence number, because Firehose's error record carries only a generic message.
 */
export function createFirehoseTransformHandler({ logger, metrics }: FirehoseTransformDependencies) {
  return async (event: FirehoseTransformationEvent): Promise<FirehoseTransformationResult> => {
    let rejected = 0;
    const records = event.records.map((record) => {
      const decision = archiveRecord(record);
      if (decision.ok) {
        return {
          recordId: record.recordId,
          result: 'Ok' as const,
          data: Buffer.from(decision.line).toString('base64'),
          metadata: { partitionKeys: decision.partitionKeys },
        };
      }
      rejected += 1;
      logger.warn('record rejected to the error prefix', {
        recordId: record.recordId,
        shardId: record.kinesisRecordMetadata?.shardId,
        sequenceNumber: record.kinesisRecordMetadata?.sequenceNumber,
        reason: decision.reason,
      });
      return { recordId: record.recordId, result: 'ProcessingFailed' as const, data: record.data };
    });
    metrics.addMetric(FIREHOSE_TRANSFORM_METRICS.archived, MetricUnit.Count, records.length - rejected);
    metrics.addMetric(FIREHOSE_TRANSFORM_METRICS.rejected, MetricUnit.Count, rejected);
    metrics.publishStoredMetrics();
    return { records };
  };
}
