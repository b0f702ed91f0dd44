import { Duration } from 'aws-cdk-lib';
import type { RestApi } from 'aws-cdk-lib/aws-apigateway';
import {
  Alarm,
  ComparisonOperator,
  Dashboard,
  GraphWidget,
  Metric,
  type IWidget,
  TreatMissingData,
  type IMetric,
} from 'aws-cdk-lib/aws-cloudwatch';
import type { CfnDeliveryStream } from 'aws-cdk-lib/aws-kinesisfirehose';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { PipelineConfig } from '../functions/core/pipeline-config';

export interface MonitoringProps {
  readonly pipeline: PipelineConfig;
  readonly consumer: IFunction;
  /** Every function of the pipeline, by service name: an errors alarm each. */
  readonly functions: Readonly<Record<string, IFunction>>;
  readonly onFailureQueue: IQueue;
  readonly deliveryStream: CfnDeliveryStream;
  readonly api: RestApi;
  /** The batch job, when the architecture has one. */
  readonly batchFunction?: IFunction;
  /** How far behind the stream the speed layer may fall. @default 5 minutes */
  readonly maxIteratorAge?: Duration;
}

/**
 * Alarms and a dashboard over what the layers expose. The batch-age alarm is the one DESIGN.md §3 asks for: if no
 * batch run has succeeded within half the realtime retention, realtime items would expire before a batch version
 * covers them, so it fires while there is still time to act.
 */
export class Monitoring extends Construct {
  readonly alarms: Alarm[] = [];
  readonly dashboard: Dashboard;

  constructor(scope: Construct, id: string, props: MonitoringProps) {
    super(scope, id);
    const alarm = (
      name: string,
      metric: IMetric,
      threshold: number,
      description: string,
      options: { comparison?: ComparisonOperator; periods?: number; missing?: TreatMissingData } = {},
    ) => {
      const created = new Alarm(this, name, {
        metric,
        threshold,
        evaluationPeriods: options.periods ?? 1,
        comparisonOperator: options.comparison ?? ComparisonOperator.GREATER_THAN_THRESHOLD,
        treatMissingData: options.missing ?? TreatMissingData.NOT_BREACHING,
        alarmDescription: description,
      });
      this.alarms.push(created);
      return created;
    };

    const iteratorAge = props.consumer.metric('IteratorAge', { statistic: 'Maximum', period: Duration.minutes(1) });
    alarm(
      'IteratorAge',
      iteratorAge,
      (props.maxIteratorAge ?? Duration.minutes(5)).toMilliseconds(),
      'The speed layer is falling behind the stream.',
      { periods: 3 },
    );
    for (const [service, fn] of Object.entries(props.functions)) {
      alarm(
        `${service}Errors`,
        fn.metricErrors({ period: Duration.minutes(5) }),
        0,
        `The ${service} function is failing.`,
      );
    }
    const queueDepth = props.onFailureQueue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5) });
    alarm('DiscardedBatches', queueDepth, 0, 'The speed layer discarded batches to its on-failure queue: replay them.');
    const freshness = new Metric({
      namespace: 'AWS/Firehose',
      metricName: 'DeliveryToS3.DataFreshness',
      dimensionsMap: { DeliveryStreamName: props.deliveryStream.ref },
      statistic: 'Maximum',
      period: Duration.minutes(5),
    });
    const freshnessLimit = props.pipeline.bufferIntervalMs / 1000 + props.pipeline.safetyMarginMs / 1000;
    alarm(
      'ArchiveFreshness',
      freshness,
      freshnessLimit,
      'Firehose is archiving later than the batch cutoff allows for.',
      { periods: 3 },
    );
    // A count the pipeline's handlers publish, summed over 5 minutes.
    const serviceSum = (service: string, metricName: string) =>
      new Metric({
        namespace: 'LambdaArchitecture',
        metricName,
        dimensionsMap: { service },
        statistic: 'Sum',
        period: Duration.minutes(5),
      });
    // Records the speed layer set aside (functions/speed/speed-handler.ts): they count in no realtime view until an
    // operator replays them from set-aside/ in the master bucket.
    alarm(
      'RecordsSetAside',
      serviceSum('speed', 'RecordsSetAside'),
      0,
      'The speed layer set records aside that the realtime table refused: see set-aside/speed/ in the master bucket.',
    );
    const scoring = props.pipeline.views.some((view) => view.baseline !== undefined);
    if (scoring) {
      // Not a fault: the point of scoring. The alarm routes anomalies to the alarm topic with the pipeline's other
      // alarms (functions/speed: each anomaly is also an EventBridge event, for finer routing).
      alarm(
        'AnomaliesRecorded',
        serviceSum('speed', 'AnomaliesRecorded'),
        1,
        'The speed layer recorded anomalies: readings far from their baseline (GET /views/{view}/anomalies lists them).',
        { comparison: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD },
      );
    }
    alarm(
      'Api5xx',
      props.api.metricServerError({ period: Duration.minutes(5) }),
      0,
      'The API answered with 5xx: a 5xx is a bug.',
    );

    const batchWidgets: IWidget[] = [];
    if (props.batchFunction !== undefined) {
      // What each batch run publishes (functions/batch): a run's cost is its window's, not the history's (DESIGN.md §6).
      const batchRun = (metricName: string, statistic: string) =>
        new Metric({
          namespace: 'LambdaArchitecture',
          metricName,
          dimensionsMap: { service: 'batch' },
          statistic,
          period: Duration.hours(1),
        });
      batchWidgets.push(
        new GraphWidget({ title: 'Batch bytes scanned', left: [batchRun('BatchBytesScanned', 'Sum')] }),
        new GraphWidget({ title: 'Batch view rows written', left: [batchRun('BatchViewRows', 'Sum')] }),
        new GraphWidget({
          title: 'Batch windows flipped / runs succeeded',
          left: [batchRun('BatchWindowsFlipped', 'Sum'), batchRun('BatchRunSucceeded', 'Sum')],
        }),
        new GraphWidget({ title: 'Batch window length (s)', left: [batchRun('BatchWindowSeconds', 'Maximum')] }),
      );
      const succeeded = new Metric({
        namespace: 'LambdaArchitecture',
        metricName: 'BatchRunSucceeded',
        dimensionsMap: { service: 'batch' },
        statistic: 'Sum',
        period: Duration.hours(1),
      });
      const hours = Math.max(1, Math.min(24, Math.floor(props.pipeline.realtimeRetentionMs / 3_600_000 / 2)));
      alarm(
        'BatchRowsSetAside',
        serviceSum('batch', 'BatchRowsSetAside'),
        0,
        'A batch run set rows aside that the batch table refused: the batch job logs each with its key and reason.',
      );
      alarm(
        'BatchViewAge',
        succeeded,
        1,
        `No batch run has succeeded for ${hours} h: realtime items may expire before a batch covers them.`,
        {
          comparison: ComparisonOperator.LESS_THAN_THRESHOLD,
          periods: hours,
          missing: TreatMissingData.BREACHING,
        },
      );
    }

    this.dashboard = new Dashboard(this, 'Dashboard', {
      widgets: [
        [
          new GraphWidget({ title: 'Speed layer iterator age (ms)', left: [iteratorAge] }),
          new GraphWidget({
            title: 'Function errors',
            left: Object.values(props.functions).map((fn) => fn.metricErrors()),
          }),
        ],
        [
          new GraphWidget({ title: 'Discarded batches', left: [queueDepth] }),
          new GraphWidget({ title: 'Archive freshness (s)', left: [freshness] }),
          new GraphWidget({
            title: 'API 4xx / 5xx',
            left: [props.api.metricClientError(), props.api.metricServerError()],
          }),
        ],
        ...(batchWidgets.length === 0 ? [] : [batchWidgets]),
        ...(scoring
          ? [
              [
                new GraphWidget({
                  title: 'Readings scored / not scored (cold) / anomalies',
                  left: ['ReadingsScored', 'ReadingsNotScored', 'AnomaliesRecorded'].map((name) =>
                    serviceSum('speed', name),
                  ),
                }),
                new GraphWidget({
                  title: 'Baseline reads / scoring failures',
                  left: ['BaselineReads', 'ScoringFailures'].map((name) => serviceSum('speed', name)),
                }),
              ],
            ]
          : []),
      ],
    });
  }
}
