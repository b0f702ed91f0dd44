import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { DuckDbEngine } from '../../functions/adapters/duckdb/duckdb-engine';
import { toArchivedEvent, type StreamRecord } from '../../functions/core/stream-record';
import { emulatorClientConfig, startS3, type RunningEmulator } from '../../local/emulators';
import { ensureBucket } from '../../local/provision';

let emulator: RunningEmulator;
let s3: S3Client;
let work: string;
let bucketCounter = 0;

beforeAll(async () => {
  emulator = await startS3();
  s3 = new S3Client(emulatorClientConfig(emulator.endpoint));
  work = await mkdtemp(join(tmpdir(), 'duckdb-engine-test-'));
});
afterAll(async () => {
  s3.destroy();
  await emulator.stop();
  await rm(work, { recursive: true, force: true });
});

function archived(index: number, arrivalMs: number): string {
  const record: StreamRecord = {
    event: {
      eventId: `e-${index}`,
      deviceId: `device-${index}`,
      site: 'plant-a',
      metric: 'temperature',
      value: index / 4,
      ts: arrivalMs - 1_000,
    },
    shardId: 'shardId-000000000000',
    sequenceNumber: `4968050735682739114052902291316385832563490804136830${String(index).padStart(4, '0')}`,
    subSequenceNumber: 0,
    arrivalMs,
  };
  return JSON.stringify({ ...toArchivedEvent(record), firmware: '1.2' });
}

async function bucketWith(objects: Record<string, string | Buffer>): Promise<string> {
  bucketCounter += 1;
  const bucket = `master-${bucketCounter}`;
  await ensureBucket(s3, bucket);
  for (const [Key, Body] of Object.entries(objects)) {
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key, Body: Buffer.from(Body) }));
  }
  return bucket;
}

const ARRIVAL = Date.UTC(2026, 10, 24, 14, 30);
const readAll = 'SELECT "eventid" AS id, "dt" AS dt, "hour" AS hour FROM master_dataset ORDER BY id';

describe('DuckDB engine over S3 (s3rver)', () => {
  it('reads every object under the prefix whatever its key layout: gzip or plain, with or without a final newline', async () => {
    const bucket = await bucketWith({
      // Firehose: GZIP NDJSON under Hive partitions, newline-terminated.
      'events/dt=2026-11-24/hour=14/archive-1.gz': gzipSync(`${archived(1, ARRIVAL)}\n${archived(2, ARRIVAL)}\n`),
      // GZIP whose last line has no newline.
      'events/dt=2026-11-24/hour=15/archive-2.gz': gzipSync(`${archived(3, ARRIVAL + 3_600_000)}`),
      // An emulator: one plain object per record under YYYY/MM/DD/HH/, no trailing newline, no extension.
      'events/2026/11/24/14/ministack-1': archived(4, ARRIVAL),
      'events/2026/11/24/14/ministack-2': `${archived(5, ARRIVAL)}\n${archived(6, ARRIVAL)}`,
      // Plain text that happens to be named .gz, and gzip named .json: the content decides.
      'events/misnamed.gz': `${archived(7, ARRIVAL)}\n`,
      'events/misnamed.json': gzipSync(`${archived(8, ARRIVAL)}\n`),
      // Folder markers and empty objects hold no records.
      'events/2026/': '',
      'events/empty': '',
      // Outside the prefix: not the master dataset.
      'other/archive.gz': gzipSync(`${archived(90, ARRIVAL)}\n`),
    });
    // A client of its own that counts list requests, to show the listing is paginated (2 keys a page).
    const counting = new S3Client(emulatorClientConfig(emulator.endpoint));
    let listRequests = 0;
    counting.middlewareStack.add(
      (next, context) => (args) => {
        if (context.commandName === 'ListObjectsV2Command') listRequests += 1;
        return next(args);
      },
      { step: 'initialize' },
    );
    const session = await new DuckDbEngine({ s3: counting, bucket, listPageSize: 2 }).open();
    counting.destroy();
    expect(listRequests).toBe(4);
    try {
      const { rows, bytesScanned } = await session.run(readAll);
      expect(rows.map((row) => row.id)).toEqual(['e-1', 'e-2', 'e-3', 'e-4', 'e-5', 'e-6', 'e-7', 'e-8']);
      expect(rows.find((row) => row.id === 'e-3')).toEqual({ id: 'e-3', dt: '2026-11-24', hour: '15' });
      expect(session.preparation).toMatchObject({ objects: 6, bytes: bytesScanned });
      expect(bytesScanned).toBeGreaterThan(0);
    } finally {
      await session.close();
    }
  });

  it('never reads the error prefix, even when it lies under the master prefix', async () => {
    const bucket = await bucketWith({
      '2026/11/24/14/record-1': archived(1, ARRIVAL),
      'errors/processing-failed/2026/11/24/14/failed-1': JSON.stringify({
        errorCode: 'Lambda.ProcessingFailed',
        rawData: Buffer.from('{"bad').toString('base64'),
      }),
      'errors/raw': '{"bad',
    });
    const session = await new DuckDbEngine({ s3, bucket, prefix: '', errorPrefix: 'errors/' }).open();
    try {
      expect((await session.run(readAll)).rows.map((row) => row.id)).toEqual(['e-1']);
    } finally {
      await session.close();
    }
  });

  it('reads an empty master dataset as no rows', async () => {
    const bucket = await bucketWith({});
    const session = await new DuckDbEngine({ s3, bucket }).open();
    try {
      expect((await session.run(readAll)).rows).toEqual([]);
      expect(session.preparation).toMatchObject({ objects: 0, bytes: 0 });
    } finally {
      await session.close();
    }
  });

  it('removes its working directory when closed, and when opening fails', async () => {
    const directory = await mkdtemp(join(work, 'run-'));
    const bucket = await bucketWith({ 'events/a': archived(1, ARRIVAL) });
    const session = await new DuckDbEngine({ s3, bucket, workDirectory: directory }).open();
    expect(await readdir(directory)).toHaveLength(1);
    await session.close();
    expect(await readdir(directory)).toEqual([]);

    await expect(
      new DuckDbEngine({ s3, bucket: 'no-such-bucket', workDirectory: directory }).open(),
    ).rejects.toMatchObject({ name: 'NoSuchBucket' });
    expect(await readdir(directory)).toEqual([]);
  });
});
