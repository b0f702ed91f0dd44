import { z } from 'zod';
import { describeIssues } from '../core/schema-issues';
import { deserializePipelineConfig, type PipelineConfig } from '../core/pipeline-config';

/**
 * Parses a handler's environment with a schema, once, at cold start: a missing or malformed variable fails the
 * function loudly with the variable's name instead of surfacing later as an undefined table name.
 */
export function readEnvironment<T extends z.ZodType>(schema: T, env: NodeJS.ProcessEnv = process.env): z.output<T> {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    throw new Error(`invalid Lambda environment:\n  - ${describeIssues(parsed.error.issues, 'env').join('\n  - ')}`);
  }
  return parsed.data;
}

/** PIPELINE_CONFIG: the pipeline configuration (views and timing) as JSON, from serializePipelineConfig. */
export const pipelineConfigVariable = z
  .string({ error: 'required: the pipeline configuration as JSON' })
  .transform((json, ctx): PipelineConfig => {
    try {
      return deserializePipelineConfig(json);
    } catch (error) {
      ctx.addIssue({ code: 'custom', message: `not a valid pipeline configuration: ${(error as Error).message}` });
      return z.NEVER;
    }
  });

export const requiredVariable = (what: string) => z.string({ error: `required: ${what}` }).min(1, `required: ${what}`);
