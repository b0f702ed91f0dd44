import { definePipelineConfig, type PipelineConfig } from '../functions/core/pipeline-config';

export const STAGES = ['dev', 'prod'] as const;
export type Stage = (typeof STAGES)[number];
export const TARGETS = ['aws', 'local'] as const;
/** `local` deploys to LocalStack or MiniStack, leaving out what they cannot create. */
export type Target = (typeof TARGETS)[number];

export interface AppSettings {
  readonly stage: Stage;
  readonly target: Target;
  readonly pipeline: PipelineConfig;
}

/**
 * Reads the app's settings from CDK context (cdk.json, or `-c key=value`), failing at synth time with the
 * setting's name. `pipeline` may be an object (cdk.json) or its JSON text (`-c pipeline='{...}'`).
 */
export function appSettingsFromContext(context: (key: string) => unknown): AppSettings {
  const stage = context('stage') ?? 'dev';
  const target = context('target') ?? 'aws';
  if (!STAGES.includes(stage as Stage))
    throw new Error(`context stage: expected one of ${STAGES.join(', ')}, got ${JSON.stringify(stage)}`);
  if (!TARGETS.includes(target as Target))
    throw new Error(`context target: expected one of ${TARGETS.join(', ')}, got ${JSON.stringify(target)}`);
  const raw = context('pipeline') ?? {};
  const pipeline = definePipelineConfig(typeof raw === 'string' ? JSON.parse(raw) : raw);
  return { stage: stage as Stage, target: target as Target, pipeline };
}
