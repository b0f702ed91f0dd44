import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type {
  FirehoseTransformationEvent,
  FirehoseTransformationEventRecord,
  FirehoseTransformationResult,
  FirehoseTransformationResultRecord,
} from 'aws-lambda';
import type { CountMetrics, HandlerLogger } from '../adapters/telemetry';
import { archiveRecord } from './archive-record';
import { DEFAULT_EVENT_SCHEMA, type EventSchema } from '../core/event-schema';
import { answersOverBudget, DEFAULT_RESPONSE_BUDGET_BYTES } from './response-size-limit';

export const FIREHOSE_TRANSFORM_METRICS = { archived: 'RecordsArchived', rejected: 'RecordsRejected' } as const;

export interface FirehoseTransformDependencies {
  /** How far event time may run ahead of arrival (PipelineConfig.eventTimeSkewMs): the speed layer's bound. */
  readonly eventTimeSkewMs: number;
  /** The declared event schema. @default DEFAULT_EVENT_SCHEMA */
  readonly schema?: EventSchema;
  readonly logger: HandlerLogger;
  readonly metrics: CountMetrics;
  /** The largest response the transform returns. @default DEFAULT_RESPONSE_BUDGET_BYTES (6,000,000) */
  readonly responseBudgetBytes?: number;
}

export type FirehoseTransformHandler = (event: FirehoseTransformationEvent) => Promise<FirehoseTransformationResult>;

/** Why records that were valid still went to the error prefix: see response-size-limit.ts. */
export const OVER_RESPONSE_LIMIT_REASON =
  "the transformed batch would exceed Lambda's 6 MB response limit: lower the processor's BufferSizeInMBs";

/**
 * The Firehose transform: every record gets an answer, `Ok` with its master-dataset line and partition keys, or
 * `ProcessingFailed` with its original data, which Firehose writes under the error prefix. Nothing is `Dropped`:
 * an invalid event is kept where it can be inspected.
 *
 * Firehose's error records carry only its own errorCode and errorMessage (`Lambda.ProcessingFailed`), not ours,
 * and no Kinesis metadata; so each rejection is logged here with its recordId, shard and sequence number and the
 * reason, which is how an error object is traced back to its cause.
 */
export function createFirehoseTransformHandler({
  eventTimeSkewMs,
  schema = DEFAULT_EVENT_SCHEMA,
  logger,
  metrics,
  responseBudgetBytes = DEFAULT_RESPONSE_BUDGET_BYTES,
}: FirehoseTransformDependencies): FirehoseTransformHandler {
  const failed = (record: FirehoseTransformationEventRecord): FirehoseTransformationResultRecord => ({
    recordId: record.recordId,
    result: 'ProcessingFailed',
    data: record.data,
  });
  const logRejection = (record: FirehoseTransformationEventRecord, reason: string) =>
    logger.warn('record rejected to the error prefix', {
      recordId: record.recordId,
      shardId: record.kinesisRecordMetadata?.shardId,
      sequenceNumber: record.kinesisRecordMetadata?.sequenceNumber,
      subsequenceNumber: record.kinesisRecordMetadata?.subsequenceNumber,
      reason,
    });

  return async (event) => {
    const records = event.records.map((record): FirehoseTransformationResultRecord => {
      const decision = archiveRecord(record, eventTimeSkewMs, schema);
      if (decision.ok) {
        if (decision.droppedFields.length > 0) {
          logger.warn('extra fields left out of the archived record: their names clash with others but for case', {
            recordId: record.recordId,
            sequenceNumber: record.kinesisRecordMetadata?.sequenceNumber,
            fields: decision.droppedFields,
          });
        }
        return {
          recordId: record.recordId,
          result: 'Ok',
          data: Buffer.from(decision.line).toString('base64'),
          metadata: { partitionKeys: { dt: decision.partitionKeys.dt, hour: decision.partitionKeys.hour } },
        };
      }
      logRejection(record, decision.reason);
      return failed(record);
    });

    const sizeOf = (answer: FirehoseTransformationResultRecord) => Buffer.byteLength(JSON.stringify(answer));
    const over = answersOverBudget(
      records.map((answer, index) => ({
        bytes: sizeOf(answer),
        failedBytes: answer.result === 'Ok' ? sizeOf(failed(event.records[index])) : undefined,
      })),
      responseBudgetBytes,
    );
    for (const index of over) {
      records[index] = failed(event.records[index]);
      logRejection(event.records[index], OVER_RESPONSE_LIMIT_REASON);
    }
    if (over.length > 0) {
      logger.error('valid records sent to the error prefix: the response would exceed the Lambda limit', {
        records: over.length,
        responseBudgetBytes,
      });
    }

    const rejected = records.filter((answer) => answer.result !== 'Ok').length;
    metrics.addMetric(FIREHOSE_TRANSFORM_METRICS.archived, MetricUnit.Count, records.length - rejected);
    metrics.addMetric(FIREHOSE_TRANSFORM_METRICS.rejected, MetricUnit.Count, rejected);
    metrics.publishStoredMetrics();
    return { records };
  };
}
