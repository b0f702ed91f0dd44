import { join } from 'node:path';
import { startDynamoDb } from './dynamodb-emulator';
import { startKinesis, type KinesisEmulator } from './kinesis-emulator';
import type { EmulatorOptions, RunningEmulator } from './running-emulator';
import { startS3 } from './s3-emulator';

export { emulatorClientConfig, emulatorCredentials, type EmulatorClientConfig } from './emulator-client-config';
export { freePort } from './free-port';
export { startDynamoDb } from './dynamodb-emulator';
export {
  startEventBus,
  type EventBusEmulator,
  type EventBusOptions,
  type RecordedBusEvent,
} from './event-bus-emulator';
export { startKinesis, type KinesisEmulator } from './kinesis-emulator';
export { startS3 } from './s3-emulator';
export type { EmulatorOptions, RunningEmulator } from './running-emulator';

export interface Emulators {
  readonly dynamodb: RunningEmulator;
  readonly kinesis: KinesisEmulator;
  readonly s3: RunningEmulator;
  /** Stops all three, in parallel. */
  stop(): Promise<void>;
}

/**
 * DynamoDB, Kinesis and S3, started in parallel, each on its own free port. With a dataDir each keeps its state in
 * its own subdirectory (dynamodb/, kinesis/, s3/). If one fails to start, the others are stopped before the error
 * is rethrown, so a failed start leaves no process or port behind.
 */
export async function startEmulators(options: EmulatorOptions = {}): Promise<Emulators> {
  const { dataDir } = options;
  const under = (name: string): EmulatorOptions => (dataDir === undefined ? {} : { dataDir: join(dataDir, name) });
  const [dynamodb, kinesis, s3] = await Promise.allSettled([
    startDynamoDb(under('dynamodb')),
    startKinesis(under('kinesis')),
    startS3(under('s3')),
  ]);
  if (dynamodb.status === 'fulfilled' && kinesis.status === 'fulfilled' && s3.status === 'fulfilled') {
    const all = [dynamodb.value, kinesis.value, s3.value];
    return { dynamodb: dynamodb.value, kinesis: kinesis.value, s3: s3.value, stop: () => stopAll(all) };
  }
  const started = [dynamodb, kinesis, s3].flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
  await stopAll(started).catch(() => undefined);
  const failure = [dynamodb, kinesis, s3].find((result) => result.status === 'rejected');
  throw failure?.reason;
}

async function stopAll(emulators: readonly RunningEmulator[]): Promise<void> {
  const results = await Promise.allSettled(emulators.map((emulator) => emulator.stop()));
  const failure = results.find((result) => result.status === 'rejected');
  if (failure !== undefined) throw failure.reason;
}
