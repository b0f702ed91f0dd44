import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  definePipelineConfig,
  type PipelineConfig,
  type PipelineSettingsInput,
} from '../functions/core/pipeline-config';

/**
 * Timing for a pipeline on one machine: one-minute epochs and a batch run every minute, so a person sees a batch
 * flip within minutes instead of hours. Views and everything else come from cdk.json, as the CDK app's do. No
 * safety margin is needed: the local runtime holds the batch job's clock to what its Firehose stand-in has archived
 * (archiveBoundedClock in local-runtime.ts), so a cutoff never passes a record still on its way to S3.
 */
export const LOCAL_TIMING: PipelineSettingsInput = {
  epochLengthMinutes: 1,
  firehoseBufferIntervalSeconds: 5,
  safetyMarginMinutes: 0,
  batchScheduleMinutes: 1,
};

/** The pipeline configuration of cdk.json's `pipeline` context, with local timing and any overrides on top. */
export function localPipelineConfig(
  overrides: PipelineSettingsInput = {},
  projectRoot = join(__dirname, '..'),
): PipelineConfig {
  const cdkJson = JSON.parse(readFileSync(join(projectRoot, 'cdk.json'), 'utf8')) as {
    context?: { pipeline?: PipelineSettingsInput };
  };
  return definePipelineConfig({ ...cdkJson.context?.pipeline, ...LOCAL_TIMING, ...overrides });
}
