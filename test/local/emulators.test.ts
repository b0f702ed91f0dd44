import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { DynamoDBClient, GetItemCommand, ListTablesCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import {
  GetRecordsCommand,
  GetShardIteratorCommand,
  KinesisClient,
  ListShardsCommand,
  ListStreamsCommand,
  PutRecordCommand,
  type PutRecordCommandOutput,
  type _Record,
} from '@aws-sdk/client-kinesis';
import {
  CreateBucketCommand,
  GetObjectCommand,
  ListBucketsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { ensureTable } from '../../local/provision';
import { createActiveStream } from '../support/kinesis-stream';
import {
  emulatorClientConfig,
  startDynamoDb,
  startEmulators,
  startKinesis,
  startS3,
  type Emulators,
  type RunningEmulator,
} from '../../local/emulators';

/** Every client a test creates, destroyed at the end so that no keep-alive socket outlives the file. */
const clients: Array<{ destroy(): void }> = [];
function track<T extends { destroy(): void }>(client: T): T {
  clients.push(client);
  return client;
}
const dynamoDb = (emulator: RunningEmulator) => track(new DynamoDBClient(emulatorClientConfig(emulator.endpoint)));
const kinesis = (emulator: RunningEmulator) => track(new KinesisClient(emulatorClientConfig(emulator.endpoint)));
const s3 = (emulator: RunningEmulator) => track(new S3Client(emulatorClientConfig(emulator.endpoint)));

let scratch: string;
beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'emulators-test-'));
});
afterAll(async () => {
  for (const client of clients) client.destroy();
  await rm(scratch, { recursive: true, force: true });
});

describe('startEmulators without a dataDir', () => {
  let emulators: Emulators;
  beforeAll(async () => {
    emulators = await startEmulators();
  });
  afterAll(() => emulators?.stop());

  it('puts each emulator on its own port on 127.0.0.1', () => {
    const endpoints = [emulators.dynamodb.endpoint, emulators.kinesis.endpoint, emulators.s3.endpoint];
    for (const endpoint of endpoints) expect(endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(new Set(endpoints).size).toBe(3);
  });

  it('serves DynamoDB CreateTable, PutItem and GetItem', async () => {
    const client = dynamoDb(emulators.dynamodb);
    await ensureTable(client, 'round-trip');
    await client.send(
      new PutItemCommand({ TableName: 'round-trip', Item: { pk: { S: 'a' }, sk: { S: 'b' }, n: { N: '42' } } }),
    );
    const { Item } = await client.send(
      new GetItemCommand({ TableName: 'round-trip', Key: { pk: { S: 'a' }, sk: { S: 'b' } } }),
    );
    expect(Item).toEqual({ pk: { S: 'a' }, sk: { S: 'b' }, n: { N: '42' } });
  });

  it('serves Kinesis CreateStream with 2 shards, PutRecord and GetRecords from TRIM_HORIZON', async () => {
    const client = kinesis(emulators.kinesis);
    await createActiveStream(client, 'round-trip', 2);
    const { Shards } = await client.send(new ListShardsCommand({ StreamName: 'round-trip' }));
    expect(Shards).toHaveLength(2);

    const before = Date.now();
    const put = await client.send(
      new PutRecordCommand({ StreamName: 'round-trip', PartitionKey: 'key-1', Data: Buffer.from('{"n":1}') }),
    );
    const records = await readShard(client, 'round-trip', put.ShardId ?? '');
    expect(records).toHaveLength(1);
    expect(Buffer.from(records[0]?.Data ?? []).toString()).toBe('{"n":1}');
    expect(records[0]?.SequenceNumber).toBe(put.SequenceNumber);
    expect(records[0]?.PartitionKey).toBe('key-1');
    const arrival = records[0]?.ApproximateArrivalTimestamp;
    expect(arrival).toBeInstanceOf(Date);
    // kinesis-mock stamps arrivals with millisecond precision; allow for a clock read just before ours.
    expect(arrival?.getTime()).toBeGreaterThanOrEqual(before - 1_000);
    expect(arrival?.getTime()).toBeLessThanOrEqual(Date.now() + 1_000);
  });

  it('serves S3 CreateBucket, PutObject, GetObject and ListObjectsV2 by prefix', async () => {
    const client = s3(emulators.s3);
    await client.send(new CreateBucketCommand({ Bucket: 'round-trip' }));
    await client.send(new PutObjectCommand({ Bucket: 'round-trip', Key: 'data/a.json', Body: '{"a":1}' }));
    await client.send(new PutObjectCommand({ Bucket: 'round-trip', Key: 'other/b.json', Body: Buffer.from('b') }));

    const object = await client.send(new GetObjectCommand({ Bucket: 'round-trip', Key: 'data/a.json' }));
    expect(await object.Body?.transformToString()).toBe('{"a":1}');
    const listing = await client.send(new ListObjectsV2Command({ Bucket: 'round-trip', Prefix: 'data/' }));
    expect(listing.Contents?.map((entry) => entry.Key)).toEqual(['data/a.json']);
    expect(listing.KeyCount).toBe(1);
    expect(listing.IsTruncated).toBe(false);
  });

  it('pages S3 ListObjectsV2 with continuation tokens, which s3rver itself cannot do on OpenSSL 3', async () => {
    const client = s3(emulators.s3);
    await client.send(new CreateBucketCommand({ Bucket: 'paging' }));
    const keys = ['p/0', 'p/1', 'p/2', 'p/3', 'p/4'];
    for (const Key of [...keys, 'q/0']) await client.send(new PutObjectCommand({ Bucket: 'paging', Key, Body: Key }));

    const pages: string[][] = [];
    let ContinuationToken: string | undefined;
    do {
      const page = await client.send(
        new ListObjectsV2Command({ Bucket: 'paging', Prefix: 'p/', MaxKeys: 2, ContinuationToken }),
      );
      pages.push((page.Contents ?? []).map((entry) => entry.Key ?? ''));
      expect(page.KeyCount).toBe(page.Contents?.length);
      expect(page.Contents?.[0]?.Owner).toBeUndefined();
      ContinuationToken = page.NextContinuationToken;
      expect(page.IsTruncated).toBe(ContinuationToken !== undefined);
    } while (ContinuationToken !== undefined);
    expect(pages).toEqual([['p/0', 'p/1'], ['p/2', 'p/3'], ['p/4']]);

    const afterKey = await client.send(new ListObjectsV2Command({ Bucket: 'paging', StartAfter: 'p/3' }));
    expect(afterKey.Contents?.map((entry) => entry.Key)).toEqual(['p/4', 'q/0']);
    await expect(
      client.send(new ListObjectsV2Command({ Bucket: 'paging', ContinuationToken: 'not-a-token' })),
    ).rejects.toMatchObject({ name: 'InvalidArgument' });
  });

  it('stores streamed S3 bodies intact with the emulator client config, and refuses aws-chunked ones', async () => {
    const client = s3(emulators.s3);
    await client.send(new CreateBucketCommand({ Bucket: 'streams' }));
    const stream = () => Readable.from([Buffer.from('chunk one, '), Buffer.from('chunk two')]);
    await client.send(new PutObjectCommand({ Bucket: 'streams', Key: 'ok', Body: stream(), ContentLength: 20 }));
    const object = await client.send(new GetObjectCommand({ Bucket: 'streams', Key: 'ok' }));
    expect(await object.Body?.transformToString()).toBe('chunk one, chunk two');

    // The SDK's default checksum settings send streams as aws-chunked, which s3rver would store verbatim.
    const { requestChecksumCalculation: _request, ...defaults } = emulatorClientConfig(emulators.s3.endpoint);
    const quiet = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };
    const defaultClient = track(new S3Client({ ...defaults, logger: quiet }));
    await expect(
      defaultClient.send(
        new PutObjectCommand({ Bucket: 'streams', Key: 'chunked', Body: stream(), ContentLength: 20 }),
      ),
    ).rejects.toMatchObject({ name: 'NotImplemented' });
  });

  it('runs a second instance of each emulator beside the first, on other ports and with separate state', async () => {
    const second = await startEmulators();
    try {
      expect(second.dynamodb.endpoint).not.toBe(emulators.dynamodb.endpoint);
      expect(second.kinesis.endpoint).not.toBe(emulators.kinesis.endpoint);
      expect(second.s3.endpoint).not.toBe(emulators.s3.endpoint);

      await ensureTable(dynamoDb(emulators.dynamodb), 'only-in-first');
      await createActiveStream(kinesis(emulators.kinesis), 'only-in-first', 1);
      await s3(emulators.s3).send(new CreateBucketCommand({ Bucket: 'only-in-first' }));

      const tables = await dynamoDb(second.dynamodb).send(new ListTablesCommand({}));
      const streams = await kinesis(second.kinesis).send(new ListStreamsCommand({}));
      const buckets = await s3(second.s3).send(new ListBucketsCommand({}));
      expect(tables.TableNames).toEqual([]);
      expect(streams.StreamNames).toEqual([]);
      expect(buckets.Buckets ?? []).toEqual([]);
    } finally {
      await second.stop();
    }
  });
});

describe('emulators with a dataDir', () => {
  it('keep DynamoDB tables and items across stop and restart', async () => {
    const dataDir = join(scratch, 'dynamodb');
    const first = await startDynamoDb({ dataDir });
    try {
      const writer = dynamoDb(first);
      await ensureTable(writer, 'durable');
      await writer.send(new PutItemCommand({ TableName: 'durable', Item: { pk: { S: 'kept' }, sk: { S: 'kept' } } }));
    } finally {
      await first.stop();
    }

    const second = await startDynamoDb({ dataDir });
    try {
      const { Item } = await dynamoDb(second).send(
        new GetItemCommand({ TableName: 'durable', Key: { pk: { S: 'kept' }, sk: { S: 'kept' } } }),
      );
      expect(Item).toEqual({ pk: { S: 'kept' }, sk: { S: 'kept' } });
    } finally {
      await second.stop();
    }
  });

  it('keep Kinesis streams and records across stop and restart, even with the writer still connected', async () => {
    const dataDir = join(scratch, 'kinesis');
    const first = await startKinesis({ dataDir });
    let put: PutRecordCommandOutput;
    try {
      // Not destroyed before stop(): an open keep-alive socket makes kinesis-local's own shutdown wait 30 s.
      const writer = kinesis(first);
      await createActiveStream(writer, 'durable', 2);
      put = await writer.send(
        new PutRecordCommand({ StreamName: 'durable', PartitionKey: 'p', Data: Buffer.from('kept') }),
      );
    } finally {
      await first.stop();
    }

    const second = await startKinesis({ dataDir });
    const reader = kinesis(second);
    try {
      const { StreamNames } = await reader.send(new ListStreamsCommand({}));
      expect(StreamNames).toEqual(['durable']);
      const records = await readShard(reader, 'durable', put.ShardId ?? '');
      expect(records.map((record) => Buffer.from(record.Data ?? []).toString())).toEqual(['kept']);
      expect(records[0]?.SequenceNumber).toBe(put.SequenceNumber);
      expect(records[0]?.ApproximateArrivalTimestamp).toBeInstanceOf(Date);
    } finally {
      // The polite path this time: with no client connected, kinesis-local exits promptly on SIGTERM.
      reader.destroy();
      await second.stop();
    }
  });

  it('keep S3 buckets and objects across stop and restart', async () => {
    const dataDir = join(scratch, 's3');
    const first = await startS3({ dataDir });
    try {
      const writer = s3(first);
      await writer.send(new CreateBucketCommand({ Bucket: 'durable' }));
      await writer.send(new PutObjectCommand({ Bucket: 'durable', Key: 'kept.txt', Body: 'kept' }));
    } finally {
      await first.stop();
    }

    const second = await startS3({ dataDir });
    try {
      const object = await s3(second).send(new GetObjectCommand({ Bucket: 'durable', Key: 'kept.txt' }));
      expect(await object.Body?.transformToString()).toBe('kept');
    } finally {
      await second.stop();
    }
  });

  it('give each emulator its own subdirectory when started together', async () => {
    const dataDir = join(scratch, 'together');
    await (await startEmulators({ dataDir })).stop();
    expect((await readdir(dataDir)).sort()).toEqual(['dynamodb', 'kinesis', 's3']);
    expect(await readdir(join(dataDir, 'kinesis'))).toContain('kinesis-data.json');
  });
});

describe('stopping', () => {
  it('closes every port and ends the kinesis-local child process', async () => {
    const emulators = await startEmulators();
    await emulators.stop();
    for (const emulator of [emulators.dynamodb, emulators.kinesis, emulators.s3]) {
      await expect(refusesConnections(emulator.endpoint)).resolves.toBe(true);
    }
    expect(isRunning(emulators.kinesis.pid)).toBe(false);
    await expect(emulators.stop()).resolves.toBeUndefined();
  });

  it('stops the emulators that started when another fails, then rethrows its error', async () => {
    const dataDir = join(scratch, 'failing');
    // A file where the S3 emulator's directory should be: only S3 fails.
    await mkdir(dataDir);
    await writeFile(join(dataDir, 's3'), 'not a directory');
    const childrenBefore = await childProcesses();

    await expect(startEmulators({ dataDir })).rejects.toMatchObject({ code: expect.stringMatching(/EEXIST|ENOTDIR/) });
    expect(await childProcesses()).toEqual(childrenBefore);
  });
});

async function readShard(client: KinesisClient, StreamName: string, ShardId: string): Promise<_Record[]> {
  const { ShardIterator } = await client.send(
    new GetShardIteratorCommand({ StreamName, ShardId, ShardIteratorType: 'TRIM_HORIZON' }),
  );
  const { Records } = await client.send(new GetRecordsCommand({ ShardIterator }));
  return Records ?? [];
}

function refusesConnections(endpoint: string): Promise<boolean> {
  const { hostname, port } = new URL(endpoint);
  return new Promise((resolve) => {
    const socket = connect(Number(port), hostname);
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(true));
  });
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Linux: the live child processes of this Jest worker; elsewhere an empty list, which makes the check vacuous. */
async function childProcesses(): Promise<number[]> {
  const entries = await readdir('/proc').catch(() => []);
  const children: number[] = [];
  for (const entry of entries.filter((name) => /^\d+$/.test(name))) {
    const stat = await readFile(join('/proc', entry, 'stat'), 'utf8').catch(() => '');
    // The fields after the parenthesised command name: state, then the parent pid.
    const [state, parent] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(parent) === process.pid && state !== 'Z') children.push(Number(entry));
  }
  return children.sort((a, b) => a - b);
}
