import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { GenerationDirectory } from '../../functions/adapters/generation-directory';
import { definePipelineConfig } from '../../functions/core/pipeline-config';
import { DuckDbEngine } from '../../functions/adapters/duckdb/duckdb-engine';
import { createReplayJob } from '../../functions/replay/replay-job';
import { emulatorClientConfig, startDynamoDb, startS3, type RunningEmulator } from '../../local/emulators';
import { ensureBucket, ensureTable } from '../../local/provision';
import { RecordingLogger } from '../support/recording-telemetry';

let dynamo: RunningEmulator;
let s3Emulator: RunningEmulator;
let dynamodb: DynamoDBClient;
let s3: S3Client;

beforeAll(async () => {
  [dynamo, s3Emulator] = await Promise.all([startDynamoDb(), startS3()]);
  dynamodb = new DynamoDBClient(emulatorClientConfig(dynamo.endpoint));
  s3 = new S3Client({ ...emulatorClientConfig(s3Emulator.endpoint), forcePathStyle: true });
  await Promise.all([
    ensureTable(dynamodb, 'realtime'),
    ensureTable(dynamodb, 'manifest'),
    ensureBucket(s3, 'archive'),
    ensureBucket(s3, 'work'),
  ]);
});
afterAll(async () => {
  dynamodb.destroy();
  s3.destroy();
  await Promise.all([dynamo.stop(), s3Emulator.stop()]);
});

describe('replay: where the archive reports how far it is complete, the backfill waits for the hand-off', () => {
  it('reads the master dataset only once every record below the hand-off is archived, whatever the clock says', async () => {
    const config = definePipelineConfig({ architecture: 'kappa' });
    // The clock is far past buffer + margin: only the archive's own report can hold the backfill back.
    const clock = { ms: Date.now() + 86_400_000 };
    const reports: (number | undefined)[] = [undefined, 0];
    let asked = 0;
    let archiveReached = false;
    let listedBeforeReached = false;
    s3.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === 'ListObjectsV2Command' && !archiveReached) listedBeforeReached = true;
        return next(args);
      },
      { step: 'initialize', name: 'watchListing' },
    );
    const replay = createReplayJob({
      config,
      directory: new GenerationDirectory({ client: dynamodb, manifestTable: 'manifest', cacheMs: 0 }),
      dynamodb,
      realtimeTable: 'realtime',
      engine: new DuckDbEngine({ s3, bucket: 'archive' }),
      work: { s3, bucket: 'work' },
      logger: new RecordingLogger(),
      now: () => clock.ms,
      sleep: async () => undefined,
      archivedThroughMs: () => {
        asked += 1;
        const report = reports.shift();
        if (report !== undefined || reports.length > 0) return report;
        archiveReached = true;
        // Past the hand-off, which the replay places a few seconds ahead of its clock.
        return clock.ms + 60_000;
      },
    });
    const summary = await replay(config.views[0].name);
    expect(summary).toMatchObject({ from: 1, to: 2 });
    expect(asked).toBe(3);
    expect(listedBeforeReached).toBe(false);
  });
});
