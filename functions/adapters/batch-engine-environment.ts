import { z } from 'zod';
import type { BatchEngine } from '../batch/batch-engine';
import { AthenaEngine } from './athena-engine';
import { createAthenaClient, createS3Client } from './aws-clients';
import { requiredVariable } from './handler-environment';
import type { EventSchema } from '../core/event-schema';

/** The environment variables that choose and configure a batch engine, for the batch job and the rebuild Lambda. */
export function batchEngineVariables<T extends z.ZodRawShape>(common: z.ZodObject<T>) {
  return z.discriminatedUnion(
    'BATCH_ENGINE',
    [
      common.extend({
        BATCH_ENGINE: z.literal('athena'),
        ATHENA_WORKGROUP: requiredVariable('the Athena workgroup'),
        ATHENA_DATABASE: requiredVariable('the Glue database'),
        ATHENA_TABLE: requiredVariable('the master dataset Glue table'),
      }),
      common.extend({
        BATCH_ENGINE: z.literal('duckdb'),
        MASTER_BUCKET: requiredVariable('the master dataset bucket'),
        MASTER_PREFIX: z.string().default('events/'),
        ERROR_PREFIX: z.string().default('errors/'),
      }),
    ],
    { error: 'expected athena or duckdb' },
  );
}

export type BatchEngineEnvironment =
  | {
      readonly BATCH_ENGINE: 'athena';
      readonly ATHENA_WORKGROUP: string;
      readonly ATHENA_DATABASE: string;
      readonly ATHENA_TABLE: string;
    }
  | {
      readonly BATCH_ENGINE: 'duckdb';
      readonly MASTER_BUCKET: string;
      readonly MASTER_PREFIX: string;
      readonly ERROR_PREFIX: string;
    };

/**
 * The engine, from clients made at cold start. DuckDB is a native module that the AWS bundle leaves out: it is
 * imported only when it is the configured engine, on first use, and kept for later runs (a failed import is tried
 * again on the next one).
 */
export function batchEngineLoader(
  environment: BatchEngineEnvironment,
  schema: EventSchema,
): () => Promise<BatchEngine> {
  if (environment.BATCH_ENGINE === 'athena') {
    const athena = new AthenaEngine({
      client: createAthenaClient({ maxAttempts: 5 }),
      s3: createS3Client(),
      workgroup: environment.ATHENA_WORKGROUP,
      database: environment.ATHENA_DATABASE,
      table: environment.ATHENA_TABLE,
    });
    return async () => athena;
  }
  const options = {
    s3: createS3Client(),
    bucket: environment.MASTER_BUCKET,
    prefix: environment.MASTER_PREFIX,
    errorPrefix: environment.ERROR_PREFIX,
    schema,
  };
  let loading: Promise<BatchEngine> | undefined;
  return () =>
    (loading ??= import('./duckdb/duckdb-engine').then(
      ({ DuckDbEngine }) => new DuckDbEngine(options),
      (error: unknown) => {
        loading = undefined;
        throw error;
      },
    ));
}
