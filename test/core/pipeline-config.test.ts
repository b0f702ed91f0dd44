import {
  definePipelineConfig,
  deserializePipelineConfig,
  PipelineConfigError,
  serializePipelineConfig,
} from '../../functions/core/pipeline-config';
import { ViewDeclarationError } from '../../functions/core/view-declaration';

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
});
