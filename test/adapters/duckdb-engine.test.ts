import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { DuckDbEngine } from '../../functions/adapters/duckdb/duckdb-engine';
import { SKIP_REASONS } from '../../functions/core/batch-sql';
import { jsonShapeProblem } from '../../functions/core/event-limits';
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

function archived(index: number, arrivalMs: number, extra: Record<string, unknown> = { firmware: '1.2' }): string {
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
  return JSON.stringify({ ...toArchivedEvent(record), ...extra });
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

  it('leaves out, and counts by reason, the lines it cannot read or whose shape breaks the event rules, and reads their neighbours', async () => {
    const deep: unknown = Array.from({ length: 33 }).reduce<unknown>((inner) => [inner], 'bottom');
    const lines = {
      loneSurrogateInDimension: archived(11, ARRIVAL).replace('"device-11"', '"device-\\ud800"'),
      loneSurrogateInExtraValue: archived(12, ARRIVAL, { firmware: '1.2\udc00' }),
      loneSurrogateInExtraKey: archived(13, ARRIVAL, { ['\ud83d']: 'key' }),
      tooDeep: archived(14, ARRIVAL, { tags: deep }),
      malformed: archived(15, ARRIVAL).slice(0, -8),
      notAnObject: '[1, 2]',
      noEnvelope: JSON.stringify({ ...JSON.parse(archived(16, ARRIVAL)), arrival_ms: undefined }),
    };
    const invalidUtf8 = Buffer.concat([
      Buffer.from('{"eventId": "e-17", "site": "'),
      Buffer.from([0xc3, 0x28]),
      Buffer.from('"}'),
    ]);
    const bucket = await bucketWith({
      'events/dt=2026-11-24/hour=14/archive-1.gz': gzipSync(
        [
          archived(1, ARRIVAL),
          lines.loneSurrogateInDimension,
          archived(2, ARRIVAL),
          lines.loneSurrogateInExtraValue,
          '',
          lines.loneSurrogateInExtraKey,
          lines.tooDeep,
          archived(3, ARRIVAL),
          lines.malformed,
          lines.notAnObject,
          lines.noEnvelope,
        ].join('\n') + '\n',
      ),
      'events/dt=2026-11-24/hour=14/archive-2': Buffer.concat([
        Buffer.from(`${archived(4, ARRIVAL)}\n`),
        invalidUtf8,
        Buffer.from(`\n${archived(5, ARRIVAL)}`),
      ]),
      'events/dt=2026-11-24/hour=14/archive-3.gz': gzipSync(`${archived(6, ARRIVAL)}\n`),
    });
    const session = await new DuckDbEngine({ s3, bucket }).open();
    try {
      const { rows } = await session.run(readAll);
      // e-16 has no arrival time, so no partition: no run's SQL reads it (the count below is how it is seen).
      expect(rows.map((row) => [row.id, row.dt])).toEqual([
        ['e-1', '2026-11-24'],
        ['e-16', null],
        ...['e-2', 'e-3', 'e-4', 'e-5', 'e-6'].map((id) => [id, '2026-11-24']),
      ]);
      const shape = (line: string) => jsonShapeProblem(JSON.parse(line)) as string;
      expect(shape(lines.loneSurrogateInDimension)).toMatch(/^deviceId: .*lone surrogate/);
      expect(session.preparation?.skippedLines).toEqual({
        [shape(lines.loneSurrogateInDimension)]: 1,
        [shape(lines.loneSurrogateInExtraValue)]: 1,
        [shape(lines.loneSurrogateInExtraKey)]: 1,
        [shape(lines.tooDeep)]: 1,
        'line: malformed JSON': 1,
        'line: expected a JSON object': 1,
        'line: not valid UTF-8': 1,
        // A line DuckDB reads without an arrival time falls in no partition: the engine counts it, under the reason
        // the batch SQL gives Athena's rows without an envelope.
        [SKIP_REASONS.envelope]: 1,
      });
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
