import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { DuckDbEngine, type DuckDbEngineOptions } from '../../functions/adapters/duckdb/duckdb-engine';
import type { BatchQuerySession, SessionScope } from '../../functions/batch/batch-engine';
import { batchViewSql, SKIP_REASONS, type SqlCell } from '../../functions/core/batch-sql';
import { DEFAULT_VIEW_DECLARATIONS } from '../../functions/core/default-views';
import { DEFAULT_EVENT_TIME_SKEW_MS, jsonShapeProblem } from '../../functions/core/event-limits';
import { toArchivedEvent, type StreamRecord } from '../../functions/core/stream-record';
import { defineViews } from '../../functions/core/view-declaration';
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
/** A scope from 0: the whole prefix is listed, and every object read. */
const EVERYTHING: SessionScope = { arrivalFromMs: 0, arrivalToMs: Date.UTC(2100, 0, 1) };

/** A client of its own that records the prefix of every list request, to show what a session lists. */
function listingClient(): { client: S3Client; listed: (string | undefined)[] } {
  const client = new S3Client(emulatorClientConfig(emulator.endpoint));
  const listed: (string | undefined)[] = [];
  client.middlewareStack.add(
    (next, context) => (args) => {
      if (context.commandName === 'ListObjectsV2Command') listed.push((args.input as { Prefix?: string }).Prefix);
      return next(args);
    },
    { step: 'initialize' },
  );
  return { client, listed };
}

async function withSession<T>(
  options: Omit<DuckDbEngineOptions, 's3'> & { s3?: S3Client },
  scope: SessionScope,
  use: (session: BatchQuerySession) => Promise<T>,
): Promise<T> {
  const session = await new DuckDbEngine({ s3, ...options }).open(scope);
  try {
    return await use(session);
  } finally {
    await session.close();
  }
}

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
    // A scope from 0 lists the whole prefix, paginated (2 keys a page), and keeps keys of any layout.
    const counting = listingClient();
    const session = await new DuckDbEngine({ s3: counting.client, bucket, listPageSize: 2 }).open(EVERYTHING);
    counting.client.destroy();
    expect(counting.listed).toEqual(Array(4).fill('events/'));
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
    const session = await new DuckDbEngine({ s3, bucket, prefix: '', errorPrefix: 'errors/' }).open(EVERYTHING);
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
    const session = await new DuckDbEngine({ s3, bucket }).open(EVERYTHING);
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
    const session = await new DuckDbEngine({ s3, bucket }).open(EVERYTHING);
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
    const session = await new DuckDbEngine({ s3, bucket, workDirectory: directory }).open(EVERYTHING);
    expect(await readdir(directory)).toHaveLength(1);
    await session.close();
    expect(await readdir(directory)).toEqual([]);

    await expect(
      new DuckDbEngine({ s3, bucket: 'no-such-bucket', workDirectory: directory }).open(EVERYTHING),
    ).rejects.toMatchObject({ name: 'NoSuchBucket' });
    expect(await readdir(directory)).toEqual([]);
  });
});

const HOUR = 3_600_000;
const at = (hour: number, minute: number, day = 24) => Date.UTC(2026, 10, day, hour, minute);
const [minuteView] = defineViews(DEFAULT_VIEW_DECLARATIONS);

/** The view's rows over the session for an arrival window, in a fixed order. */
async function viewRows(session: BatchQuerySession, fromMs: number, toMs: number, epochLengthMs?: number) {
  const sql = batchViewSql(minuteView, {
    source: session.source,
    dialect: session.dialect,
    arrivalFromMs: fromMs,
    arrivalToMs: toMs,
    eventTimeSkewMs: DEFAULT_EVENT_TIME_SKEW_MS,
    dedupHorizonMs: 0,
    epochLengthMs,
  });
  const { rows } = await session.run(`${sql}\nORDER BY 1, 2, 3`);
  return { sql, rows };
}

/**
 * Objects in both layouts over several hours, as Firehose (Hive partitions of arrival, gzip) and an emulator or
 * Firehose's default prefix (`YYYY/MM/DD/HH/` of when Firehose received the object's oldest record) write them.
 */
const LAYOUTS: Record<string, Buffer> = {
  'events/dt=2026-11-24/hour=12/a.gz': gzipSync(`${archived(1, at(12, 10))}\n`),
  'events/dt=2026-11-24/hour=13/a.gz': gzipSync(`${archived(2, at(13, 50))}\n`),
  'events/dt=2026-11-24/hour=14/a.gz': gzipSync(`${archived(3, at(14, 10))}\n${archived(4, at(14, 40))}\n`),
  'events/dt=2026-11-24/hour=15/a.gz': gzipSync(`${archived(5, at(15, 10))}\n${archived(6, at(15, 50))}\n`),
  'events/dt=2026-11-24/hour=16/a.gz': gzipSync(`${archived(7, at(16, 10))}\n`),
  // The same hour a day earlier.
  'events/dt=2026-11-23/hour=14/a.gz': gzipSync(`${archived(8, at(14, 10, 23))}\n`),
  'events/2026/11/24/12/r-9': Buffer.from(archived(9, at(12, 5))),
  // In an object whose oldest record reached Firehose at 13:55: under hour 13, though it arrived at 14:05.
  'events/2026/11/24/13/r-10': Buffer.from(archived(10, at(14, 5))),
  'events/2026/11/24/15/r-11': Buffer.from(archived(11, at(15, 20))),
  'events/2026/11/24/16/r-12': Buffer.from(archived(12, at(16, 5))),
  'events/2026/11/24/17/r-13': Buffer.from(archived(13, at(17, 5))),
  // Neither layout: only a listing of the whole prefix finds it.
  'events/misnamed.json': Buffer.from(`${archived(14, at(15, 40))}\n`),
};
const bytesOf = (keys: readonly string[]) => keys.reduce((total, key) => total + LAYOUTS[key].length, 0);

describe('DuckDB engine sessions read only the partitions of their arrival window', () => {
  it("lists each of the window's hours in both layouts (the dated one an hour either side) and downloads only their objects", async () => {
    const bucket = await bucketWith(LAYOUTS);
    const window = { arrivalFromMs: at(14, 0), arrivalToMs: at(15, 30) };
    const counting = listingClient();
    const windowed = await withSession({ s3: counting.client, bucket }, window, async (session) => ({
      ids: (await session.run(readAll)).rows.map((row) => row.id),
      preparation: session.preparation,
      view: await viewRows(session, window.arrivalFromMs, window.arrivalToMs),
    }));
    counting.client.destroy();
    expect([...counting.listed].sort()).toEqual([
      'events/2026/11/24/13/',
      'events/2026/11/24/14/',
      'events/2026/11/24/15/',
      'events/2026/11/24/16/',
      'events/dt=2026-11-24/hour=14/',
      'events/dt=2026-11-24/hour=15/',
    ]);
    const read = [
      'events/dt=2026-11-24/hour=14/a.gz',
      'events/dt=2026-11-24/hour=15/a.gz',
      'events/2026/11/24/13/r-10',
      'events/2026/11/24/15/r-11',
      'events/2026/11/24/16/r-12',
    ];
    expect(windowed.preparation).toMatchObject({ objects: read.length, bytes: bytesOf(read), skippedLines: {} });
    expect(windowed.ids).toEqual(['e-10', 'e-11', 'e-12', 'e-3', 'e-4', 'e-5', 'e-6']);

    // The window's rows are those a session over everything computes for it, e-10 (under hour 13) included.
    const everything = await withSession({ bucket }, EVERYTHING, async (session) => ({
      preparation: session.preparation,
      view: await viewRows(session, window.arrivalFromMs, window.arrivalToMs),
    }));
    expect(everything.preparation).toMatchObject({ objects: 12, bytes: bytesOf(Object.keys(LAYOUTS)) });
    expect(windowed.view.rows.map((row) => row.dim_0)).toEqual([
      'device-10',
      'device-11',
      'device-3',
      'device-4',
      'device-5',
    ]);
    expect(windowed.view.rows).toEqual(everything.view.rows);
  });

  it('lists the whole prefix once for a range of more hours than maxHourListings, keeping keys by the hour they name and keys of unknown layout', async () => {
    const bucket = await bucketWith(LAYOUTS);
    const range = { arrivalFromMs: at(13, 0), arrivalToMs: at(16, 0) };
    const counting = listingClient();
    const ranged = await withSession({ s3: counting.client, bucket, maxHourListings: 2 }, range, async (session) => ({
      ids: (await session.run(readAll)).rows.map((row) => row.id),
      preparation: session.preparation,
      view: await viewRows(session, range.arrivalFromMs, range.arrivalToMs),
    }));
    counting.client.destroy();
    expect(counting.listed).toEqual(['events/']);
    const read = [
      'events/dt=2026-11-24/hour=13/a.gz',
      'events/dt=2026-11-24/hour=14/a.gz',
      'events/dt=2026-11-24/hour=15/a.gz',
      'events/2026/11/24/12/r-9',
      'events/2026/11/24/13/r-10',
      'events/2026/11/24/15/r-11',
      'events/2026/11/24/16/r-12',
      'events/misnamed.json',
    ];
    expect(ranged.preparation).toMatchObject({ objects: read.length, bytes: bytesOf(read) });
    expect(ranged.ids).toEqual(['e-10', 'e-11', 'e-12', 'e-14', 'e-2', 'e-3', 'e-4', 'e-5', 'e-6', 'e-9']);
    const everything = await withSession({ bucket }, EVERYTHING, (session) =>
      viewRows(session, range.arrivalFromMs, range.arrivalToMs),
    );
    expect(ranged.view.rows).toEqual(everything.rows);
  });

  it("counts the lines it leaves out once over consecutive windows: in the window where their object's hour starts", async () => {
    const malformed = archived(90, at(14, 20)).slice(0, -8);
    const noEnvelope = JSON.stringify({ ...JSON.parse(archived(91, at(14, 20))), arrival_ms: undefined });
    const bucket = await bucketWith({
      'events/dt=2026-11-24/hour=14/a.gz': gzipSync(
        [archived(1, at(14, 10)), malformed, noEnvelope, archived(2, at(14, 40))].join('\n'),
      ),
      'events/dt=2026-11-24/hour=15/a.gz': gzipSync([archived(3, at(15, 10)), malformed].join('\n')),
      'events/2026/11/24/15/r-4': `${archived(4, at(14, 55))}\n${malformed}`,
      'events/misnamed': malformed,
    });
    const cutoffs = [0, at(14, 30), at(15, 0), at(16, 0)];
    const skipped = [];
    for (let index = 1; index < cutoffs.length; index += 1) {
      const scope = { arrivalFromMs: cutoffs[index - 1], arrivalToMs: cutoffs[index] };
      skipped.push(await withSession({ bucket }, scope, async (session) => session.preparation?.skippedLines));
    }
    expect(skipped).toEqual([
      // From 0: hour 14, and the key of unknown layout, which only this window reads.
      { 'line: malformed JSON': 2, [SKIP_REASONS.envelope]: 1 },
      // Hour 14 again (it started in the window before) and the dated hour 15 (read for the margin): not counted.
      {},
      { 'line: malformed JSON': 2 },
    ]);
  });
});

describe('DuckDB engine exports a result to S3 as gzip JSON lines', () => {
  async function exported(bucket: string, files: readonly string[]) {
    const rows: Record<string, unknown>[] = [];
    for (const Key of files) {
      const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key }));
      const text = gunzipSync(
        await (object.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray(),
      );
      for (const line of text.toString('utf8').split('\n')) {
        if (line !== '') rows.push(JSON.parse(line) as Record<string, unknown>);
      }
    }
    return rows;
  }
  async function keysUnder(bucket: string, prefix: string) {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }));
    return (page.Contents ?? []).map((object) => object.Key);
  }
  const numbers = (row: Readonly<Record<string, SqlCell>>) =>
    Object.fromEntries(
      Object.entries(row).map(([name, cell]) => [name, typeof cell === 'bigint' ? Number(cell) : cell]),
    );

  it("writes the batch SQL's rows as JSON objects keyed by column, numbers as numbers, the same rows run returns", async () => {
    const bucket = await bucketWith(LAYOUTS);
    const window = { arrivalFromMs: at(14, 0), arrivalToMs: at(16, 0) };
    await withSession({ bucket }, window, async (session) => {
      const { sql, rows } = await viewRows(session, window.arrivalFromMs, window.arrivalToMs, HOUR);
      const result = await session.exportTo(sql, { bucket, prefix: 'exports/run-1/' });
      expect(result).toEqual({
        files: ['exports/run-1/part-00000.json.gz'],
        rows: rows.length,
        bytesScanned: session.preparation?.bytes,
        seconds: expect.any(Number),
      });
      expect(await keysUnder(bucket, 'exports/')).toEqual(result.files);
      const written = await exported(bucket, result.files);
      const byKey = (row: Record<string, unknown>) => `${String(row.dim_0)} ${String(row.bucket)}`;
      expect(written.sort((a, b) => byKey(a).localeCompare(byKey(b)))).toEqual(
        rows.map(numbers).sort((a, b) => byKey(a).localeCompare(byKey(b))),
      );
      expect(written[0]).toEqual({
        dim_0: 'device-10',
        dim_1: 'temperature',
        bucket: at(14, 4),
        epoch: at(14, 0),
        count_value: 1,
        // The default view's stored sum, min and max, in view.stored order.
        m_0: 2.5,
        m_1: 2.5,
        m_2: 2.5,
        // The one record's arrival, for the key directory.
        first_arrival: at(14, 5),
        last_arrival: at(14, 5),
      });
    });
  });

  it('splits a large result into files of bounded size, uploaded as numbered parts', async () => {
    const bucket = await bucketWith({});
    await withSession({ bucket, exportFileBytes: 1024 }, EVERYTHING, async (session) => {
      const result = await session.exportTo(
        "SELECT i AS n, 'row ' || i AS label, i * 1.5 AS half FROM range(20000) AS t(i)",
        { bucket, prefix: 'exports/big/' },
      );
      expect(result.rows).toBe(20000);
      expect(result.files.length).toBeGreaterThan(1);
      expect(result.files).toEqual(
        result.files.map((_, index) => `exports/big/part-${String(index).padStart(5, '0')}.json.gz`),
      );
      expect(await keysUnder(bucket, 'exports/big/')).toEqual(result.files);
      const written = await exported(bucket, result.files);
      // Compared by summary: a failing comparison of 20,000 rows would take jest long to print.
      const ns = new Set(written.map((row) => row.n));
      expect([written.length, ns.size, Math.min(...written.map((row) => Number(row.n)))]).toEqual([20000, 20000, 0]);
      expect(Math.max(...written.map((row) => Number(row.n)))).toBe(19999);
      expect(written.find((row) => row.n === 7)).toEqual({ n: 7, label: 'row 7', half: 10.5 });
    });
  });

  it('writes no file for an empty result', async () => {
    const bucket = await bucketWith({});
    await withSession({ bucket }, EVERYTHING, async (session) => {
      const { sql } = await viewRows(session, at(14, 0), at(15, 0));
      expect(await session.exportTo(sql, { bucket, prefix: 'exports/empty/' })).toEqual({
        files: [],
        rows: 0,
        bytesScanned: 0,
        seconds: expect.any(Number),
      });
      expect(await keysUnder(bucket, 'exports/')).toEqual([]);
    });
  });

  it('refuses a destination that is not empty, and a value JSON cannot hold exactly, writing nothing', async () => {
    const bucket = await bucketWith({ 'exports/taken/part-00000.json.gz': gzipSync('{"n":1}\n') });
    await withSession({ bucket }, EVERYTHING, async (session) => {
      await expect(session.exportTo('SELECT 1 AS n', { bucket, prefix: 'exports/taken/' })).rejects.toThrow(
        `export destination s3://${bucket}/exports/taken/ is not empty`,
      );
      await expect(session.exportTo('SELECT 1 AS n', { bucket, prefix: 'exports/no-slash' })).rejects.toThrow(
        "expected a prefix that ends with '/'",
      );
      await expect(
        session.exportTo('SELECT 9007199254740993::BIGINT AS big', { bucket, prefix: 'exports/big/' }),
      ).rejects.toThrow('column big: an integer beyond 2^53 has no exact JSON number');
      await expect(
        session.exportTo("SELECT 1.5::DOUBLE AS fine, 'infinity'::DOUBLE AS sum_value", {
          bucket,
          prefix: 'exports/infinite/',
        }),
      ).rejects.toThrow('column sum_value: NaN or infinity has no exact JSON number');
      expect(await keysUnder(bucket, 'exports/')).toEqual(['exports/taken/part-00000.json.gz']);
    });
    // Below a gzip header's size, DuckDB 1.5 would start new files without end.
    await withSession({ bucket, exportFileBytes: 9 }, EVERYTHING, async (session) => {
      await expect(session.exportTo('SELECT 1 AS n', { bucket, prefix: 'exports/small/' })).rejects.toThrow(
        'exportFileBytes: expected an integer of at least 1024',
      );
    });
  });
});
