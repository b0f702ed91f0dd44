import { definePipelineConfig, serializePipelineConfig } from '../../functions/core/pipeline-config';
import type { SpeedHandler } from '../../functions/speed/speed-handler';

const defaults = serializePipelineConfig(definePipelineConfig());
const deduplicating = serializePipelineConfig(
  definePipelineConfig({
    views: [{ name: 'device_once', dimensions: ['deviceId'], granularity: 'minute', dedupeByEventId: true }],
  }),
);

/** Loads the Lambda entry module afresh with this environment, as a cold start would. */
function coldStart(environment: Record<string, string>): { handler: SpeedHandler } {
  const saved = process.env;
  process.env = {
    ...saved,
    AWS_REGION: 'us-east-1',
    POWERTOOLS_LOG_LEVEL: 'SILENT',
    POWERTOOLS_METRICS_DISABLED: 'true',
    ...environment,
  };
  try {
    let loaded: { handler: SpeedHandler } | undefined;
    jest.isolateModules(() => {
      loaded = jest.requireActual<{ handler: SpeedHandler }>('../../functions/speed/handler');
    });
    return loaded as { handler: SpeedHandler };
  } finally {
    process.env = saved;
  }
}

describe('speed Lambda entry', () => {
  it('builds the handler at cold start from PIPELINE_CONFIG, REALTIME_TABLE, MANIFEST_TABLE, SET_ASIDE_BUCKET and KEY_DIRECTORY_TABLE', async () => {
    const { handler } = coldStart({
      PIPELINE_CONFIG: defaults,
      REALTIME_TABLE: 'realtime',
      MANIFEST_TABLE: 'manifest',
      SET_ASIDE_BUCKET: 'archive',
      KEY_DIRECTORY_TABLE: 'keys',
      // The default site_metric_hour view declares a baseline: the speed layer scores its readings.
      ANOMALY_TABLE: 'anomalies',
      BATCH_TABLE: 'batch',
    });
    expect(await handler({ Records: [] })).toEqual({ batchItemFailures: [] });
  });

  it('refuses to start without ANOMALY_TABLE or BATCH_TABLE when a view declares a baseline, and needs neither otherwise', () => {
    const base = {
      PIPELINE_CONFIG: defaults,
      REALTIME_TABLE: 'realtime',
      MANIFEST_TABLE: 'manifest',
      SET_ASIDE_BUCKET: 'archive',
      KEY_DIRECTORY_TABLE: 'keys',
    };
    expect(() => coldStart(base)).toThrow(/views site_metric_hour declare a baseline: .* needs ANOMALY_TABLE/);
    expect(() => coldStart({ ...base, ANOMALY_TABLE: 'anomalies' })).toThrow(/needs BATCH_TABLE/);
    const withoutBaseline = serializePipelineConfig(
      definePipelineConfig({ views: [{ name: 'site_hour', dimensions: ['site'], granularity: 'hour' }] }),
    );
    expect(typeof coldStart({ ...base, PIPELINE_CONFIG: withoutBaseline }).handler).toBe('function');
  });

  it('fails loudly at cold start, naming the variable, when one is missing or malformed', () => {
    expect(() => coldStart({ PIPELINE_CONFIG: defaults })).toThrow(/REALTIME_TABLE: required/);
    expect(() => coldStart({ PIPELINE_CONFIG: defaults, REALTIME_TABLE: 'realtime', MANIFEST_TABLE: 'm' })).toThrow(
      /SET_ASIDE_BUCKET: required: the bucket where records the realtime table refuses are set aside/,
    );
    expect(() =>
      coldStart({ PIPELINE_CONFIG: defaults, REALTIME_TABLE: 'realtime', MANIFEST_TABLE: 'm', SET_ASIDE_BUCKET: 'a' }),
    ).toThrow(/KEY_DIRECTORY_TABLE: required: the key directory table name/);
    expect(() => coldStart({ REALTIME_TABLE: 'realtime' })).toThrow(/PIPELINE_CONFIG: required/);
    expect(() => coldStart({ PIPELINE_CONFIG: '{"views": []}', REALTIME_TABLE: 'realtime' })).toThrow(
      /PIPELINE_CONFIG: not a valid pipeline configuration/,
    );
  });

  it('refuses to start without DEDUP_TABLE when a view de-duplicates by eventId', () => {
    expect(() =>
      coldStart({
        PIPELINE_CONFIG: deduplicating,
        REALTIME_TABLE: 'realtime',
        MANIFEST_TABLE: 'manifest',
        SET_ASIDE_BUCKET: 'archive',
        KEY_DIRECTORY_TABLE: 'keys',
      }),
    ).toThrow(/eventId de-duplication \(views device_once\) needs DEDUP_TABLE/);
    const { handler } = coldStart({
      PIPELINE_CONFIG: deduplicating,
      REALTIME_TABLE: 'realtime',
      MANIFEST_TABLE: 'manifest',
      DEDUP_TABLE: 'dedup',
      SET_ASIDE_BUCKET: 'archive',
      KEY_DIRECTORY_TABLE: 'keys',
    });
    expect(typeof handler).toBe('function');
  });
});
