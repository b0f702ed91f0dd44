import {
  definePipelineConfig,
  deserializePipelineConfig,
  PipelineConfigError,
  serializePipelineConfig,
} from '../../functions/core/pipeline-config';
import { ViewDeclarationError } from '../../functions/core/view-declaration';
import { DEFAULT_EVENT_SCHEMA } from '../../functions/core/event-schema';

describe('pipeline configuration', () => {
  it('defaults to the IoT views, 15-minute epochs and the Lambda architecture', () => {
    const config = definePipelineConfig();
    expect(config.views.map((view) => view.name)).toEqual(['device_metric_minute', 'site_metric_hour', 'metric_day']);
    expect(config).toMatchObject({
      epochLengthMs: 900_000,
      bufferIntervalMs: 60_000,
      safetyMarginMs: 300_000,
      batchIntervalMs: 3_600_000,
      realtimeRetentionMs: 48 * 3_600_000,
      architecture: 'lambda',
    });
  });

  it('defaults the de-dup horizon, the scan cutoffs and the rebuild schedule', () => {
    expect(definePipelineConfig()).toMatchObject({
      dedupHorizonMs: 60 * 60_000,
      batchScanCutoffBytes: 10 * 1024 ** 3,
      rebuildScanCutoffBytes: 1000 * 1024 ** 3,
      rebuildIntervalMs: null,
    });
  });

  it('takes the de-dup horizon, the scan cutoffs and the rebuild schedule as set', () => {
    const config = definePipelineConfig({
      eventIdDedupHorizonMinutes: 15,
      batchScanCutoffGiB: 0.5,
      rebuildScanCutoffGiB: 200,
      rebuildScheduleDays: 7,
    });
    expect(config).toMatchObject({
      dedupHorizonMs: 15 * 60_000,
      batchScanCutoffBytes: 512 * 1024 ** 2,
      rebuildScanCutoffBytes: 200 * 1024 ** 3,
      rebuildIntervalMs: 7 * 86_400_000,
    });
    expect(definePipelineConfig({ rebuildScheduleDays: null }).rebuildIntervalMs).toBeNull();
  });

  it('allows a de-dup horizon as long as realtimeRetentionHours, and refuses a longer one naming both settings', () => {
    expect(definePipelineConfig({ eventIdDedupHorizonMinutes: 48 * 60 }).dedupHorizonMs).toBe(48 * 3_600_000);
    expect(() => definePipelineConfig({ eventIdDedupHorizonMinutes: 48 * 60 + 1 })).toThrow(
      new PipelineConfigError([
        'config.eventIdDedupHorizonMinutes: 2881 min is longer than realtimeRetentionHours (48 h), ' +
          "which the speed layer's eventId claims last",
      ]),
    );
    expect(() => definePipelineConfig({ eventIdDedupHorizonMinutes: 300, realtimeRetentionHours: 4 })).toThrow(
      /config\.eventIdDedupHorizonMinutes: 300 min is longer than realtimeRetentionHours \(4 h\)/,
    );
  });

  it.each([
    // [batchScheduleMinutes, epochLengthMinutes, window minutes]: about four runs' worth, whole epochs, at least one.
    [60, 15, 240],
    [60, 5, 240],
    [10, 15, 45],
    [1, 15, 15],
    [7, 60, 60],
    [1, 1, 4],
    [1440, 60, 5760],
  ])('sizes maxWindowMs from a %i-minute schedule and %i-minute epochs: %i minutes', (schedule, epoch, minutes) => {
    const config = definePipelineConfig({
      batchScheduleMinutes: schedule,
      epochLengthMinutes: epoch,
      // Long enough for any schedule here, so that only the window is under test.
      realtimeRetentionHours: 100,
    });
    expect(config.maxWindowMs).toBe(minutes * 60_000);
    expect(config.maxWindowMs % config.epochLengthMs).toBe(0);
  });

  it('round-trips through the JSON that handlers receive', () => {
    const config = definePipelineConfig({ epochLengthMinutes: 5, architecture: 'kappa' });
    expect(deserializePipelineConfig(serializePipelineConfig(config))).toEqual(config);
  });

  it.each([
    [{ epochLengthMinutes: 7 }, 'config.epochLengthMinutes: expected a divisor of 1440 (a day), such as 5, 15 or 60'],
    [{ architecture: 'lambda-ish' }, 'config.architecture: expected one of lambda, kappa'],
    [{ epochLength: 5 }, 'config: unknown key "epochLength"'],
    [
      { realtimeRetentionHours: 2 },
      'config.realtimeRetentionHours: 2 h is too short: realtime items must outlast a missed batch run (at least 3 h with these settings)',
    ],
    [{ eventIdDedupHorizonMinutes: 0 }, 'config.eventIdDedupHorizonMinutes: Too small: expected number to be >=1'],
    [
      { eventIdDedupHorizonMinutes: 0.5 },
      'config.eventIdDedupHorizonMinutes: Invalid input: expected int, received number',
    ],
    [{ batchScanCutoffGiB: 0 }, 'config.batchScanCutoffGiB: Too small: expected number to be >0'],
    [{ rebuildScanCutoffGiB: 'big' }, 'config.rebuildScanCutoffGiB: Invalid input: expected number, received string'],
    [{ rebuildScheduleDays: 0 }, 'config.rebuildScheduleDays: Too small: expected number to be >=1'],
  ])('rejects %j, naming the setting', (input, problem) => {
    expect(() => definePipelineConfig(input)).toThrow(PipelineConfigError);
    try {
      definePipelineConfig(input);
    } catch (error) {
      expect((error as PipelineConfigError).problems).toContain(problem);
    }
  });

  it('rejects bad views with the view declaration error', () => {
    expect(() => definePipelineConfig({ views: [{ name: 'x', dimensions: [], granularity: 'hour' }] })).toThrow(
      ViewDeclarationError,
    );
  });

  const webSchema = {
    id: 'requestId',
    time: 'at',
    dimensions: ['path', 'status', 'country'],
    numbers: ['latencyMs', 'bytes'],
  };
  const webViews = [
    {
      name: 'path_minute',
      dimensions: ['path', 'status'],
      granularity: 'minute',
      measures: { requests: 'count', slowest: { max: 'latencyMs' }, meanBytes: { avg: 'bytes' } },
      filter: [{ field: 'latencyMs', op: 'gte', value: 0 }],
    },
    { name: 'country_hour', dimensions: ['country'], granularity: 'hour' },
  ];

  it('takes the event schema from the configuration, and validates the views against it', () => {
    const config = definePipelineConfig({ schema: webSchema, views: webViews });
    expect(config.schema).toEqual(webSchema);
    expect(config.views.map((view) => view.schema)).toEqual([config.schema, config.schema]);
    expect(config.views[0].measures.map((measure) => measure.name)).toEqual(['requests', 'slowest', 'meanBytes']);
    expect(config.views[1].measures.map((measure) => measure.name)).toContain('maxLatencyMs');
    // The IoT views do not fit the web schema.
    expect(() => definePipelineConfig({ schema: webSchema })).toThrow(ViewDeclarationError);
  });

  it('defaults to the IoT schema', () => {
    expect(definePipelineConfig().schema).toBe(DEFAULT_EVENT_SCHEMA);
  });

  it.each([
    [
      { ...webSchema, dimensions: [] },
      'config.schema.dimensions: declare at least one dimension: views key by dimensions',
    ],
    [
      { ...webSchema, numbers: ['bytes', 'Bytes'] },
      'config.schema.numbers[1]: Bytes is already declared at schema.numbers[0] (bytes) (Athena reads field names without regard to case)',
    ],
    ['iot', 'config.schema: expected an event schema { id, time, dimensions, numbers }'],
  ])('rejects the bad schema %j under config.schema', (schema, problem) => {
    let problems: readonly string[] = [];
    try {
      definePipelineConfig({ schema, views: webViews });
    } catch (error) {
      expect(error).toBeInstanceOf(PipelineConfigError);
      problems = (error as PipelineConfigError).problems;
    }
    expect(problems).toContain(problem);
    expect(problems.every((text) => text.startsWith('config.schema'))).toBe(true);
  });

  it('round-trips a declared schema and named measures through the JSON that handlers receive', () => {
    const config = definePipelineConfig({ schema: webSchema, views: webViews, architecture: 'kappa' });
    const again = deserializePipelineConfig(serializePipelineConfig(config));
    expect(again).toEqual(config);
    expect(again.views[0].stored).toEqual(config.views[0].stored);
    expect(again.views[0].filter).toEqual([{ field: 'latencyMs', op: 'gte', value: 0 }]);
  });

  it('refuses a serialized configuration whose views no longer fit its schema', () => {
    const json = JSON.parse(serializePipelineConfig(definePipelineConfig({ schema: webSchema, views: webViews })));
    json.schema.numbers = ['latencyMs'];
    expect(() => deserializePipelineConfig(JSON.stringify(json))).toThrow(/views\[0\]\.measures\.meanBytes\.avg/);
  });
});
