import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  definePipelineConfig,
  PipelineConfigError,
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

/**
 * The pipeline settings a run starts from: those of a settings file (`--config examples/web-requests.json`: the
 * same JSON as cdk.json's `pipeline` context, schema and views included) when one is given, else cdk.json's.
 */
export function pipelineSettings(projectRoot = join(__dirname, '..'), settingsFile?: string): PipelineSettingsInput {
  if (settingsFile !== undefined) return readSettingsFile(settingsFile);
  const cdkJson = JSON.parse(readFileSync(join(projectRoot, 'cdk.json'), 'utf8')) as {
    context?: { pipeline?: PipelineSettingsInput };
  };
  return cdkJson.context?.pipeline ?? {};
}

/**
 * The pipeline configuration of cdk.json's `pipeline` context (or of a settings file), with local timing and any
 * overrides on top. A bad schema or view fails here, before any emulator starts, naming each problem's field.
 */
export function localPipelineConfig(
  overrides: PipelineSettingsInput = {},
  projectRoot = join(__dirname, '..'),
  settingsFile?: string,
): PipelineConfig {
  return definePipelineConfig({ ...pipelineSettings(projectRoot, settingsFile), ...LOCAL_TIMING, ...overrides });
}

/** A settings file's JSON object, its problems reported in the configuration's words (the file is the `config`). */
function readSettingsFile(file: string): PipelineSettingsInput {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new PipelineConfigError([
      `--config: cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? error})`,
    ]);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new PipelineConfigError([`--config: ${file} is not JSON (${(error as Error).message})`]);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new PipelineConfigError([
      `--config: ${file} must hold a JSON object of pipeline settings (schema, views, ...)`,
    ]);
  }
  return parsed as PipelineSettingsInput;
}
