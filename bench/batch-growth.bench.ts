import { gzipSync } from 'node:zlib';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { Logger } from '@aws-lambda-powertools/logger';
import type { FirehoseTransformationEventRecord } from 'aws-lambda';
import { BatchViewStore } from '../functions/adapters/batch-view-store';
import { DuckDbEngine } from '../functions/adapters/duckdb/duckdb-engine';
import { supersededRowsExpiry } from '../functions/adapters/superseded-batch-rows';
import { ViewReader } from '../functions/adapters/view-reader';
import { runBatchJob, type BatchRunSummary } from '../functions/batch/batch-job';
import { encodeDimensionKey } from '../functions/core/dimension-key';
import { dimensionOf } from '../functions/core/event-schema';
import { bucketStart, GRANULARITY_MS } from '../functions/core/granularity';
import { EMPTY_MEASURES, measuresOf, measureValue, mergeMeasures, type Measures } from '../functions/core/measures';
import { definePipelineConfig, type PipelineConfig } from '../functions/core/pipeline-config';
import { applyServingRule } from '../functions/core/serving-rule';
import type { ViewDefinition } from '../functions/core/view-declaration';
import { createFirehoseTransformHandler } from '../functions/firehose-transform/firehose-transform-handler';
import { createRebuildJob, type RebuildProgressReport } from '../functions/rebuild/rebuild-job';
import { emulatorClientConfig, startDynamoDb, startS3 } from '../local/emulators';
import { LocalMetrics } from '../local/local-handlers';
import { ensureBucket, ensureTable } from '../local/provision';
import { writeReport, type ReportSection } from './report';
import { seededRandom } from '../test/speed/generated-events';

/**
 * `npm run bench -- batch-growth` (issue 14, DESIGN.md §6): N consecutive waves of the same amount of new data, each
 * followed by one incremental batch run (runBatchJob, DuckDB, on its own tables, which never see a rebuild) and by a
 * rebuild of every view (createRebuildJob, run to done, on fresh tables per wave, so that it computes everything
 * that arrived before the same cutoff). Per run: the engine's bytes scanned, rows written and seconds, and the ratio
 * of the last run to the first. After every wave the incremental answers must equal the rebuild's and a brute-force
 * fold of the generated events, or the bench fails. Then a projected monthly AWS cost at a stated load, from the
 * measured figures, for incremental runs and for the old design's full recompute on every run.
 *
 * The pipeline's clock is simulated: wave k arrives in hour k after T0, and its run starts 10 minutes after that
 * hour ends (past the buffer interval and the safety margin), so the cutoff it reaches is the hour's end.
 */

/** The shape of the data: what one wave (one batch interval of arrivals) holds. */
export interface GrowthShape {
  /** Consecutive waves, each followed by an incremental run and a rebuild. */
  readonly waves: number;
  /** Devices; each reports every metric, so device×metric keys are 3× this. */
  readonly devices: number;
  readonly sites: number;
  /** Events per device×metric key per minute of arrival (1,000 events/s over 3,000 keys is 20). */
  readonly eventsPerKeyMinute: number;
  /** Share of events whose time lies 1 to `maxLatenessMinutes` minutes before their arrival. */
  readonly lateShare: number;
  readonly maxLatenessMinutes: number;
  /** Share of Kinesis records Firehose delivers twice (a retried delivery, in an object of its own). */
  readonly duplicateShare: number;
}

export const DEFAULT_SHAPE: GrowthShape = {
  waves: 10,
  // Sized for a few minutes on a 2-core machine: dynalite writes a few hundred rows a second, and the rebuilds write
  // 55 waves' worth of rows. Rows per key are what the cost model scales, so few keys lose nothing.
  devices: 4,
  sites: 2,
  eventsPerKeyMinute: 20,
  lateShare: 0.01,
  maxLatenessMinutes: 60,
  duplicateShare: 0.01,
};

/** The load the cost is projected at (issue 14). */
const LOAD = {
  eventsPerSecond: 1_000,
  deviceMetricKeys: 3_000,
  /** Sites the devices report from: site_metric_hour has sites × metrics keys. An assumption; it barely matters. */
  sites: 100,
  metrics: 3,
  runsPerDay: 24,
  daysPerMonth: 30,
} as const;

/** us-east-1 on-demand prices (USD), as given in issue 14. */
const PRICES = {
  athenaPerTB: 5,
  /** Athena bills at least 10 MB per query, rounded up to the MB. */
  athenaMinimumBytes: 10 * 2 ** 20,
  /** Per million write request units (an item ≤ 1 KB is one WRU; BatchWriteItem counts per item). */
  dynamoWritePerMillion: 0.625,
  /** Per million read request units (a strongly consistent read of ≤ 4 KB is one RRU). */
  dynamoReadPerMillion: 0.125,
  lambdaPerGbSecond: 0.0000166667,
  lambdaPerMillionRequests: 0.2,
  stepFunctionsPerThousandTransitions: 0.025,
  s3GetPerThousand: 0.0004,
} as const;
const TB = 2 ** 40;

/** Lambda memory of the batch job (lib/batch-layer.ts). */
const BATCH_LAMBDA_GB = 2;
/** Assumed, not measured: Athena's queueing and planning per query, on top of the scan. */
const ATHENA_QUERY_OVERHEAD_SECONDS = 2;
/** Assumed, not measured: how fast one Athena query reads GZIP JSON (bytes per second). */
const ATHENA_SCAN_BYTES_PER_SECOND = 200 * 2 ** 20;
/**
 * Assumed, not measured: DynamoDB answers a 25-item BatchWriteItem in about 20 ms in region, and the store keeps 8 in
 * flight (batch-view-store.ts), so a row takes 20 ms / 200. dynalite, in the bench's own process, is far slower.
 */
const AWS_WRITE_SECONDS_PER_ROW = 0.02 / (25 * 8);
/** Assumed, not measured: one GetQueryResults page (1,000 rows, athena-engine.ts) takes this long to fetch. */
const ATHENA_PAGE_SECONDS = 0.1;
const ATHENA_PAGE_ROWS = 1_000;
const LAMBDA_TIMEOUT_SECONDS = 900;

const HOUR_MS = 3_600_000;
const T0 = Date.UTC(2026, 10, 2);
/** Into the hour after a wave: past the buffer interval (60 s) and the safety margin (5 min). */
const RUN_DELAY_MS = 10 * 60_000;
const METRICS = [
  { metric: 'temperature', base: 21, spread: 6 },
  { metric: 'humidity', base: 45, spread: 20 },
  { metric: 'pressure', base: 1013, spread: 15 },
] as const;
const SEQUENCE_BASE = 49680507356827391140529022913163858325634908041368305666n;

export async function run(): Promise<string> {
  return writeReport(await measureBatchGrowth(DEFAULT_SHAPE));
}

interface IncrementalRun {
  readonly window: { readonly from: number; readonly to: number };
  /** Σ over the views' queries of the bytes each scanned (the job's BatchBytesScanned). */
  readonly bytesScanned: number;
  /** What DuckDB downloaded for the run's one session (the views share it). */
  readonly downloaded: number;
  readonly objects: number;
  readonly rows: number;
  readonly rowsByView: Readonly<Record<string, number>>;
  readonly seconds: number;
  /** Everything but the writes and flips: DuckDB's download and screen, the 4 queries, the manifest reads. */
  readonly engineSeconds: number;
  /** Writing the rows and flipping the manifest (the views' writeSeconds). */
  readonly writeSeconds: number;
  readonly dynamo: DynamoCounts;
}

interface RebuildRun {
  readonly bytesScanned: number;
  readonly rows: number;
  readonly rowsByView: Readonly<Record<string, number>>;
  readonly seconds: number;
  readonly computeSeconds: number;
  readonly writeSeconds: number;
  readonly expireSeconds: number;
  readonly dynamo: DynamoCounts;
}

interface WaveResult {
  readonly wave: number;
  readonly deliveries: number;
  readonly archivedBytes: number;
  readonly uncompressedBytes: number;
  readonly archiveObjects: number;
  readonly incremental: IncrementalRun;
  readonly rebuild: RebuildRun;
  readonly bucketsCompared: number;
}

/** Runs the waves and returns the report (written by `run`). */
export async function measureBatchGrowth(shape: GrowthShape) {
  const config = definePipelineConfig();
  const keys = shape.devices * METRICS.length;
  const eventsPerWave = keys * shape.eventsPerKeyMinute * 60;
  const logger = new Logger({ serviceName: 'batch-growth', logLevel: 'ERROR' });
  const [s3Emulator, dynamoEmulator] = await Promise.all([startS3(), startDynamoDb()]);
  const s3 = new S3Client(emulatorClientConfig(s3Emulator.endpoint));
  const workS3 = new S3Client(emulatorClientConfig(s3Emulator.endpoint));
  const dynamodb = new DynamoDBClient(emulatorClientConfig(dynamoEmulator.endpoint));
  /** The bench's own reads (exactness), outside the counted requests. */
  const readClient = new DynamoDBClient(emulatorClientConfig(dynamoEmulator.endpoint));
  const counter = new DynamoRequestCounter().attachTo(dynamodb);
  const started = performance.now();
  try {
    await ensureBucket(s3, 'master');
    await ensureBucket(s3, 'work');
    await ensureTable(dynamodb, 'batch-incremental');
    await ensureTable(dynamodb, 'manifest-incremental');
    const incrementalStore = new BatchViewStore({
      client: dynamodb,
      batchTable: 'batch-incremental',
      manifestTable: 'manifest-incremental',
    });
    const incrementalReader = new ViewReader({
      client: readClient,
      realtimeTable: 'unused',
      batchTable: 'batch-incremental',
      manifestTable: 'manifest-incremental',
      manifestCacheMs: 0,
    });
    const engine = new DuckDbEngine({ s3, bucket: 'master' });
    const expected = new ExpectedViews(config.views);
    const generator = new WaveGenerator(shape);
    const transform = createFirehoseTransformHandler({
      eventTimeSkewMs: config.eventTimeSkewMs,
      logger,
      metrics: new LocalMetrics(),
    });
    const results: WaveResult[] = [];
    let archiveSeconds = 0;

    for (let wave = 1; wave <= shape.waves; wave += 1) {
      const waveStart = T0 + (wave - 1) * HOUR_MS;
      const cutoff = waveStart + HOUR_MS;
      const nowMs = cutoff + RUN_DELAY_MS;

      // 1. The wave's arrivals, archived as Firehose does: one transform invocation and one GZIP object per
      // partition per buffer interval (60 s), and the duplicate deliveries in an object of their own.
      const archiving = performance.now();
      const deliveries = generator.wave(wave, waveStart, eventsPerWave);
      for (const delivery of deliveries.distinct) expected.add(delivery.event);
      const archived = await archiveWave(s3, transform, wave, deliveries);
      archiveSeconds += (performance.now() - archiving) / 1000;

      // 2. One incremental run.
      counter.take();
      const incrementalStarted = performance.now();
      const summary = await runBatchJob({
        config,
        engine,
        store: incrementalStore,
        logger,
        metrics: new LocalMetrics(),
        now: () => nowMs,
      });
      const incrementalSeconds = (performance.now() - incrementalStarted) / 1000;
      const incremental = incrementalRun(summary, wave === 1 ? 0 : waveStart, cutoff, incrementalSeconds, counter);

      // 3. A rebuild of every view on fresh tables, at the same clock: the same cutoff.
      const tables = { batchTable: `batch-rebuild-${wave}`, manifestTable: `manifest-rebuild-${wave}` };
      await ensureTable(dynamodb, tables.batchTable);
      await ensureTable(dynamodb, tables.manifestTable);
      counter.take();
      const rebuild = await rebuildEveryView(config, { workS3, dynamodb, engine, logger, tables, nowMs, wave, cutoff });
      const rebuildRun = { ...rebuild, dynamo: counter.take() };

      // 4. Exactness: incremental = rebuild = brute force, bucket by bucket, read as the serving layer reads.
      const rebuildReader = new ViewReader({
        client: readClient,
        realtimeTable: 'unused',
        ...tables,
        manifestCacheMs: 0,
      });
      const bucketsCompared = await compareAnswers(config.views, expected, incrementalReader, rebuildReader, cutoff);

      results.push({
        wave,
        deliveries: deliveries.distinct.length + deliveries.duplicates.length,
        ...archived,
        incremental,
        rebuild: rebuildRun,
        bucketsCompared,
      });
      console.log(
        `wave ${wave}: incremental ${incremental.rows} rows, ${mib(incremental.bytesScanned)} MiB, ` +
          `${incremental.seconds.toFixed(1)} s; rebuild ${rebuildRun.rows} rows, ${mib(rebuildRun.bytesScanned)} MiB, ` +
          `${rebuildRun.seconds.toFixed(1)} s; ${bucketsCompared} buckets equal`,
      );
    }
    return growthReport(config, shape, eventsPerWave, results, {
      archiveSeconds,
      totalSeconds: (performance.now() - started) / 1000,
    });
  } finally {
    s3.destroy();
    workS3.destroy();
    dynamodb.destroy();
    readClient.destroy();
    await Promise.all([s3Emulator.stop(), dynamoEmulator.stop()]);
  }
}

function incrementalRun(
  summary: BatchRunSummary,
  from: number,
  to: number,
  seconds: number,
  counter: DynamoRequestCounter,
): IncrementalRun {
  if (summary.cutoff !== to) throw new Error(`the run reached cutoff ${iso(summary.cutoff)}, expected ${iso(to)}`);
  for (const view of summary.views) {
    const [window] = view.windows;
    if (view.outcome !== 'flipped' || view.windows.length !== 1 || window.from !== from || window.to !== to) {
      throw new Error(
        `${view.view}: expected one flipped window [${iso(from)}, ${iso(to)}), got ${view.outcome} with ` +
          JSON.stringify(view.windows.map((w) => [iso(w.from), iso(w.to)])),
      );
    }
  }
  return {
    window: { from, to },
    bytesScanned: sum(summary.views.map((view) => view.bytesScanned)),
    downloaded: summary.preparation?.bytes ?? 0,
    objects: summary.preparation?.objects ?? 0,
    rows: sum(summary.views.map((view) => view.rows)),
    rowsByView: Object.fromEntries(summary.views.map((view) => [view.view, view.rows])),
    seconds,
    engineSeconds: seconds - sum(summary.views.map((view) => view.writeSeconds)),
    writeSeconds: sum(summary.views.map((view) => view.writeSeconds)),
    dynamo: counter.take(),
  };
}

interface RebuildContext {
  readonly workS3: S3Client;
  readonly dynamodb: DynamoDBClient;
  readonly engine: DuckDbEngine;
  readonly logger: Logger;
  readonly tables: { readonly batchTable: string; readonly manifestTable: string };
  readonly nowMs: number;
  readonly wave: number;
  readonly cutoff: number;
}

/** Rebuilds each view in turn, each run to done (resumed while it reports more to do), timing its phases. */
async function rebuildEveryView(config: PipelineConfig, context: RebuildContext): Promise<Omit<RebuildRun, 'dynamo'>> {
  const { workS3, dynamodb, engine, logger, tables, nowMs, wave, cutoff } = context;
  const rebuild = createRebuildJob({
    config,
    engine,
    store: new BatchViewStore({ client: dynamodb, ...tables }),
    work: { s3: workS3, bucket: 'work', prefix: `rebuilds/wave-${wave}/` },
    expireSuperseded: supersededRowsExpiry(dynamodb, tables.batchTable),
    logger,
    now: () => nowMs,
  });
  let bytesScanned = 0;
  let rows = 0;
  const rowsByView: Record<string, number> = {};
  const phases = { compute: 0, write: 0, expire: 0 };
  const started = performance.now();
  for (const view of config.views) {
    let mark = performance.now();
    const onProgress = ({ phase }: RebuildProgressReport) => {
      const at = performance.now();
      if (phase === 'computed') phases.compute += (at - mark) / 1000;
      else if (phase === 'flipped') phases.write += (at - mark) / 1000;
      else if (phase === 'expired') phases.expire += (at - mark) / 1000;
      else return;
      mark = at;
    };
    for (let invocation = 1; ; invocation += 1) {
      const result = await rebuild(view.name, { onProgress });
      bytesScanned += result.bytesScanned;
      if (result.done) {
        if (result.cutoff !== cutoff) {
          throw new Error(`${view.name}: the rebuild's cutoff is ${iso(result.cutoff)}, expected ${iso(cutoff)}`);
        }
        rows += result.rowsWritten;
        rowsByView[view.name] = result.rowsWritten;
        break;
      }
      if (invocation >= 100) throw new Error(`${view.name}: the rebuild is still not done after 100 invocations`);
    }
  }
  return {
    bytesScanned,
    rows,
    rowsByView,
    seconds: (performance.now() - started) / 1000,
    computeSeconds: phases.compute,
    writeSeconds: phases.write,
    expireSeconds: phases.expire,
  };
}

/** A delivery of one Kinesis record, as generated. */
interface Delivery {
  readonly event: {
    readonly eventId: string;
    readonly deviceId: string;
    readonly site: string;
    readonly metric: string;
    readonly value: number;
    readonly ts: number;
  };
  readonly shardId: string;
  readonly sequenceNumber: string;
  readonly arrivalMs: number;
}

/** Deterministic IoT-like waves: every key reports throughout the hour, some events late, some delivered twice. */
class WaveGenerator {
  private readonly random = seededRandom(14);
  private sequence = 0n;

  constructor(private readonly shape: GrowthShape) {}

  wave(wave: number, startMs: number, events: number): { distinct: Delivery[]; duplicates: Delivery[] } {
    const keys = this.shape.devices * METRICS.length;
    const distinct: Delivery[] = [];
    const duplicates: Delivery[] = [];
    const maxLatenessMs = this.shape.maxLatenessMinutes * 60_000;
    for (let i = 0; i < events; i += 1) {
      const arrivalMs = startMs + Math.floor((i * HOUR_MS) / events);
      const key = i % keys;
      const device = Math.floor(key / METRICS.length);
      const { metric, base, spread } = METRICS[key % METRICS.length];
      const late = this.random() < this.shape.lateShare;
      // On time: produced up to 2 s before arrival. Late: 1 minute to maxLateness before.
      const delay = late
        ? 60_000 + Math.floor(this.random() * (maxLatenessMs - 60_000))
        : Math.floor(this.random() * 2_000);
      this.sequence += 1n;
      const delivery: Delivery = {
        event: {
          eventId: `w${wave}-e${i}`,
          deviceId: `device-${String(device).padStart(4, '0')}`,
          site: `site-${String(device % this.shape.sites).padStart(3, '0')}`,
          metric,
          // Quarters: sums are exact in any order, so incremental and rebuilt sums compare with ===.
          value: Math.round((base + (this.random() - 0.5) * 2 * spread) * 4) / 4,
          ts: arrivalMs - delay,
        },
        shardId: `shardId-${String(device % 4).padStart(12, '0')}`,
        sequenceNumber: String(SEQUENCE_BASE + this.sequence),
        arrivalMs,
      };
      distinct.push(delivery);
      if (this.random() < this.shape.duplicateShare) duplicates.push(delivery);
    }
    return { distinct, duplicates };
  }
}

let recordCounter = 0;

function firehoseRecord(delivery: Delivery): FirehoseTransformationEventRecord {
  recordCounter += 1;
  return {
    recordId: String(recordCounter),
    approximateArrivalTimestamp: delivery.arrivalMs,
    data: Buffer.from(JSON.stringify(delivery.event)).toString('base64'),
    kinesisRecordMetadata: {
      shardId: delivery.shardId,
      partitionKey: delivery.event.deviceId,
      approximateArrivalTimestamp: delivery.arrivalMs,
      sequenceNumber: delivery.sequenceNumber,
      subsequenceNumber: '0',
    },
  };
}

/**
 * Archives a wave through the Firehose transform handler: each buffer interval's records in one invocation, whose
 * `Ok` lines become one GZIP object per partition it names (`events/dt=.../hour=.../`, lib/batch-layer.ts); the
 * duplicate deliveries are a retried delivery, archived the same way in objects of their own.
 */
async function archiveWave(
  s3: S3Client,
  transform: ReturnType<typeof createFirehoseTransformHandler>,
  wave: number,
  deliveries: { distinct: readonly Delivery[]; duplicates: readonly Delivery[] },
): Promise<{ archivedBytes: number; uncompressedBytes: number; archiveObjects: number }> {
  const buffers = new Map<string, Delivery[]>();
  for (const delivery of deliveries.distinct) {
    const buffer = `b${Math.floor(delivery.arrivalMs / 60_000)}`;
    const batch = buffers.get(buffer) ?? [];
    batch.push(delivery);
    buffers.set(buffer, batch);
  }
  buffers.set('retry', [...deliveries.duplicates]);
  let archivedBytes = 0;
  let uncompressedBytes = 0;
  let archiveObjects = 0;
  for (const [buffer, batch] of buffers) {
    if (batch.length === 0) continue;
    const result = await transform({
      invocationId: `w${wave}-${buffer}`,
      deliveryStreamArn: 'arn:aws:firehose:us-east-1:000000000000:deliverystream/archive',
      sourceKinesisStreamArn: 'arn:aws:kinesis:us-east-1:000000000000:stream/events',
      region: 'us-east-1',
      records: batch.map(firehoseRecord),
    });
    const partitions = new Map<string, Buffer[]>();
    for (const answer of result.records) {
      if (answer.result !== 'Ok') throw new Error(`the transform rejected record ${answer.recordId}: a bench bug`);
      const { dt, hour } = answer.metadata?.partitionKeys ?? {};
      const partition = `events/dt=${dt}/hour=${hour}/`;
      const lines = partitions.get(partition) ?? [];
      lines.push(Buffer.from(answer.data ?? '', 'base64'));
      partitions.set(partition, lines);
    }
    for (const [partition, lines] of partitions) {
      const raw = Buffer.concat(lines);
      const body = gzipSync(raw);
      await s3.send(
        new PutObjectCommand({ Bucket: 'master', Key: `${partition}archive-w${wave}-${buffer}.gz`, Body: body }),
      );
      archivedBytes += body.length;
      uncompressedBytes += raw.length;
      archiveObjects += 1;
    }
  }
  return { archivedBytes, uncompressedBytes, archiveObjects };
}

/** Brute force: every distinct event folded into each view's buckets, in memory. */
class ExpectedViews {
  private readonly buckets = new Map<string, Map<string, Map<number, Measures>>>();

  constructor(private readonly views: readonly ViewDefinition[]) {
    for (const view of views) {
      if (view.filter.length > 0 || view.dedupeByEventId) {
        throw new Error(`${view.name}: the bench's brute force covers unfiltered views without eventId de-dup`);
      }
      this.buckets.set(view.name, new Map());
    }
  }

  add(event: Delivery['event']): void {
    for (const view of this.views) {
      const key = encodeDimensionKey(view.dimensions.map((field) => dimensionOf(event, field)));
      const byKey = this.buckets.get(view.name) as Map<string, Map<number, Measures>>;
      const byBucket = byKey.get(key) ?? new Map<number, Measures>();
      byKey.set(key, byBucket);
      const bucket = event.ts - (event.ts % GRANULARITY_MS[view.granularity]);
      byBucket.set(bucket, mergeMeasures(byBucket.get(bucket) ?? EMPTY_MEASURES, measuresOf(view, event)));
    }
  }

  keys(view: string): string[] {
    return [...(this.buckets.get(view)?.keys() ?? [])].sort();
  }

  answer(view: ViewDefinition, key: string): string[] {
    const byBucket = this.buckets.get(view.name)?.get(key) ?? new Map<number, Measures>();
    return [...byBucket.entries()]
      .sort(([a], [b]) => a - b)
      .map(([bucket, measures]) => describeBucket(view, bucketStart(bucket, view.granularity), measures));
  }
}

function describeBucket(view: ViewDefinition, bucket: number, measures: Measures): string {
  return `${iso(bucket)} ${view.measures.map((measure) => `${measure.name}=${measureValue(measures, measure)}`).join(' ')}`;
}

/**
 * Reads every key of every view from both sides as the serving layer does (the manifest once, then the rows it
 * names, through the serving rule with batch rows only), and compares them with each other and with brute force.
 * Throws on the first view with a difference. Returns the buckets compared.
 */
async function compareAnswers(
  views: readonly ViewDefinition[],
  expected: ExpectedViews,
  incrementalReader: ViewReader,
  rebuildReader: ViewReader,
  cutoff: number,
): Promise<number> {
  let compared = 0;
  for (const view of views) {
    const [incrementalManifest, rebuildManifest] = await Promise.all([
      incrementalReader.servedBatch(view.name),
      rebuildReader.servedBatch(view.name),
    ]);
    if (incrementalManifest?.cutoff !== cutoff || rebuildManifest?.cutoff !== cutoff) {
      throw new Error(
        `${view.name}: served cutoffs ${incrementalManifest?.cutoff} (incremental) and ${rebuildManifest?.cutoff} ` +
          `(rebuild), expected ${cutoff}`,
      );
    }
    const differences: string[] = [];
    for (const key of expected.keys(view.name)) {
      const answer = async (reader: ViewReader, manifest: NonNullable<typeof incrementalManifest>) =>
        applyServingRule({
          batch: await reader.batchRows(view, manifest, key, 0, Number.MAX_SAFE_INTEGER),
          realtime: [],
          cutoff: manifest.cutoff,
          granularity: view.granularity,
        }).map((bucket) => describeBucket(view, bucket.bucket, bucket.measures));
      const [incremental, rebuilt] = await Promise.all([
        answer(incrementalReader, incrementalManifest),
        answer(rebuildReader, rebuildManifest),
      ]);
      const brute = expected.answer(view, key);
      compared += brute.length;
      for (const [name, side] of [
        ['incremental', incremental],
        ['rebuild', rebuilt],
      ] as const) {
        if (side.join('\n') === brute.join('\n')) continue;
        const index = side.findIndex((line, at) => line !== brute[at]);
        differences.push(
          `${key}: ${name} has ${side.length} buckets, brute force ${brute.length}; first difference: ` +
            `${side[index === -1 ? brute.length : index] ?? '(none)'} vs ${brute[index === -1 ? side.length : index] ?? '(none)'}`,
        );
      }
    }
    if (differences.length > 0) {
      throw new Error(
        `batch-growth: ${view.name} is not exact at cutoff ${iso(cutoff)} (${differences.length} keys differ):\n  ` +
          differences.slice(0, 10).join('\n  '),
      );
    }
  }
  return compared;
}

/** DynamoDB requests as AWS bills them, counted in the client's middleware. */
interface DynamoCounts {
  /** Items written by BatchWriteItem: one WRU each while ≤ 1 KB. */
  readonly itemsWritten: number;
  /** The largest item written, in bytes (attribute names and values as text: an over-estimate). */
  readonly largestItemBytes: number;
  /** UpdateItem requests (manifest moves, TTLs given to superseded rows): one WRU each for small items. */
  readonly updates: number;
  /** GetItem requests (the manifest, strongly consistent). */
  readonly gets: number;
  /** Items a Scan or Query read (before its filter): the rebuild's search for superseded rows. */
  readonly scannedItems: number;
  readonly requests: number;
}

class DynamoRequestCounter {
  private counts = DynamoRequestCounter.zero();

  private static zero() {
    return { itemsWritten: 0, largestItemBytes: 0, updates: 0, gets: 0, scannedItems: 0, requests: 0 };
  }

  attachTo(client: DynamoDBClient): this {
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const command = String(context.commandName);
        const input = args.input as Record<string, unknown>;
        const result = await next(args);
        const output = result.output as { ScannedCount?: number; UnprocessedItems?: Record<string, unknown[]> };
        const counts = this.counts;
        counts.requests += 1;
        if (command === 'BatchWriteItemCommand') {
          const requests = Object.values(
            (input.RequestItems ?? {}) as Record<string, { PutRequest?: { Item?: Record<string, unknown> } }[]>,
          ).flat();
          const unprocessed = Object.values(output.UnprocessedItems ?? {}).flat().length;
          counts.itemsWritten += requests.length - unprocessed;
          for (const request of requests) {
            counts.largestItemBytes = Math.max(counts.largestItemBytes, itemBytes(request.PutRequest?.Item ?? {}));
          }
        } else if (command === 'UpdateItemCommand') counts.updates += 1;
        else if (command === 'GetItemCommand') counts.gets += 1;
        else if (command === 'ScanCommand' || command === 'QueryCommand')
          counts.scannedItems += output.ScannedCount ?? 0;
        return result;
      },
      { step: 'initialize', name: 'countBilledDynamoDbRequests' },
    );
    return this;
  }

  /** The counts since the last take. */
  take(): DynamoCounts {
    const counts = this.counts;
    this.counts = DynamoRequestCounter.zero();
    return counts;
  }
}

/** An item's size as names plus values written out: DynamoDB stores numbers more compactly, so it over-estimates. */
function itemBytes(item: Record<string, unknown>): number {
  return Object.entries(item).reduce(
    (total, [name, value]) => total + Buffer.byteLength(name) + Buffer.byteLength(JSON.stringify(value)),
    0,
  );
}

const sum = (values: readonly number[]) => values.reduce((total, value) => total + value, 0);
const mean = (values: readonly number[]) => sum(values) / values.length;
const iso = (ms: number) => new Date(ms).toISOString().replace(':00.000Z', 'Z');
const mib = (bytes: number) => (bytes / 2 ** 20).toFixed(2);
const ratio = (last: number, first: number) => `${(last / first).toFixed(2)}×`;

/** Dollars with enough digits to read small amounts. */
function usd(value: number): string {
  if (value === 0) return '$0';
  if (value < 0.01) return `$${value.toPrecision(2)}`;
  if (value < 100) return `$${value.toFixed(2)}`;
  return `$${Math.round(value).toLocaleString('en')}`;
}

const count = (value: number) => Math.round(value).toLocaleString('en');

interface GrowthTotals {
  readonly archiveSeconds: number;
  readonly totalSeconds: number;
}

/** What one batch run does at the stated load, and what it costs. */
interface ProjectedRun {
  readonly label: string;
  readonly queries: number;
  readonly bytesPerQuery: number;
  readonly rows: number;
  readonly manifestUpdates: number;
  readonly gets: number;
  /** With the assumed AWS rates (Athena's scan, DynamoDB's writes). */
  readonly lambdaSeconds: number;
  /** With the bench's measured rates (DuckDB's download and queries, dynalite's writes): an upper bound. */
  readonly benchLambdaSeconds: number;
  readonly s3Gets: number;
}

function growthReport(
  config: PipelineConfig,
  shape: GrowthShape,
  eventsPerWave: number,
  results: readonly WaveResult[],
  totals: GrowthTotals,
) {
  const first = results[0];
  const last = results[results.length - 1];
  const n = results.length;
  const views = config.views.map((view) => view.name);
  const [minuteView, hourView, dayView] = views;
  const benchKeys = shape.devices * METRICS.length;
  const benchSiteKeys = shape.sites * METRICS.length;

  const table: (string | number)[][] = [
    [
      'run',
      'window (arrival)',
      'deliveries',
      'incr. MiB scanned',
      'incr. rows',
      'incr. s (engine + write)',
      'rebuild MiB scanned',
      'rebuild rows',
      'rebuild s (compute + write + expire)',
    ],
  ];
  for (const result of results) {
    const { incremental: inc, rebuild: reb } = result;
    table.push([
      result.wave,
      `${result.wave === 1 ? '0' : iso(inc.window.from).slice(11)} – ${iso(inc.window.to).slice(11)}`,
      count(result.deliveries),
      mib(inc.bytesScanned),
      count(inc.rows),
      `${inc.seconds.toFixed(1)} (${inc.engineSeconds.toFixed(1)} + ${inc.writeSeconds.toFixed(1)})`,
      mib(reb.bytesScanned),
      count(reb.rows),
      `${reb.seconds.toFixed(1)} (${reb.computeSeconds.toFixed(1)} + ${reb.writeSeconds.toFixed(1)} + ${reb.expireSeconds.toFixed(1)})`,
    ]);
  }
  const incBytesRatio = last.incremental.bytesScanned / first.incremental.bytesScanned;
  const incRowsRatio = last.incremental.rows / first.incremental.rows;
  const rebBytesRatio = last.rebuild.bytesScanned / first.rebuild.bytesScanned;
  const rebRowsRatio = last.rebuild.rows / first.rebuild.rows;
  table.push([
    `**last ÷ first**`,
    '',
    ratio(last.deliveries, first.deliveries),
    `**${ratio(last.incremental.bytesScanned, first.incremental.bytesScanned)}**`,
    `**${ratio(last.incremental.rows, first.incremental.rows)}**`,
    ratio(last.incremental.seconds, first.incremental.seconds),
    `**${ratio(last.rebuild.bytesScanned, first.rebuild.bytesScanned)}**`,
    `**${ratio(last.rebuild.rows, first.rebuild.rows)}**`,
    ratio(last.rebuild.seconds, first.rebuild.seconds),
  ]);
  const flat = incBytesRatio <= 1.3 && incRowsRatio <= 1.3;
  const verdict = flat
    ? `Target met: incremental bytes scanned ${incBytesRatio.toFixed(2)}× and rows written ${incRowsRatio.toFixed(2)}× (last ÷ first, at most 1.3×), while the rebuild grew ${rebBytesRatio.toFixed(1)}× in bytes and ${rebRowsRatio.toFixed(1)}× in rows over ${n} runs.`
    : `Target NOT met: incremental bytes scanned ${incBytesRatio.toFixed(2)}× and rows written ${incRowsRatio.toFixed(2)}× (last ÷ first; the target is at most 1.3×). The rebuild grew ${rebBytesRatio.toFixed(1)}× in bytes and ${rebRowsRatio.toFixed(1)}× in rows.`;

  const perView: (string | number)[][] = [
    ['view', 'incr. rows, run 1', `incr. rows, run ${n}`, 'rebuild rows, run 1', `rebuild rows, run ${n}`],
    ...views.map((view) => [
      view,
      count(first.incremental.rowsByView[view] ?? 0),
      count(last.incremental.rowsByView[view] ?? 0),
      count(first.rebuild.rowsByView[view] ?? 0),
      count(last.rebuild.rowsByView[view] ?? 0),
    ]),
  ];
  const dynamoTable: (string | number)[][] = [
    [
      'run',
      'incr. items written',
      'incr. UpdateItem',
      'incr. GetItem',
      'rebuild items written',
      'rebuild UpdateItem',
      'rebuild GetItem',
      'rebuild items scanned',
    ],
    ...results.map((result) => [
      result.wave,
      count(result.incremental.dynamo.itemsWritten),
      count(result.incremental.dynamo.updates),
      count(result.incremental.dynamo.gets),
      count(result.rebuild.dynamo.itemsWritten),
      count(result.rebuild.dynamo.updates),
      count(result.rebuild.dynamo.gets),
      count(result.rebuild.dynamo.scannedItems),
    ]),
  ];

  // --- The cost model's inputs, measured. ---
  const incRuns = results.map((result) => result.incremental);
  const queriesPerRun = views.length + 1; // one per view, and the skipped-rows count (batch-job.ts)
  const bytesPerEvent = sum(incRuns.map((run) => run.downloaded)) / (eventsPerWave * n);
  const uncompressedPerEvent = sum(results.map((r) => r.uncompressedBytes)) / (eventsPerWave * n);
  const objectsPerHour = mean(results.map((r) => r.incremental.objects));
  const minuteRowsPerKeyHour = mean(incRuns.map((run) => run.rowsByView[minuteView] ?? 0)) / benchKeys;
  const siteRowsPerKeyHour = mean(incRuns.map((run) => run.rowsByView[hourView] ?? 0)) / benchSiteKeys;
  const dayRowsPerMetricRun = mean(incRuns.map((run) => run.rowsByView[dayView] ?? 0)) / METRICS.length;
  const minuteRowsPerKeyHourOfHistory = (last.rebuild.rowsByView[minuteView] ?? 0) / (benchKeys * n);
  const siteRowsPerKeyHourOfHistory = (last.rebuild.rowsByView[hourView] ?? 0) / (benchSiteKeys * n);
  const writeSecondsPerRow = sum(incRuns.map((run) => run.writeSeconds)) / sum(incRuns.map((run) => run.rows));
  // Per byte of the window: the session downloads it once and runs every query over it.
  const engineSecondsPerByte =
    sum(incRuns.map((run) => run.engineSeconds)) / sum(incRuns.map((run) => run.bytesScanned / views.length));
  const manifestUpdatesPerRun = mean(incRuns.map((run) => run.dynamo.updates));
  const getsPerRun = mean(incRuns.map((run) => run.dynamo.gets));
  const largestItem = Math.max(
    ...results.map((r) => Math.max(r.incremental.dynamo.largestItemBytes, r.rebuild.dynamo.largestItemBytes)),
  );
  if (largestItem > 1024) throw new Error(`an item of ${largestItem} bytes costs more than one WRU: revise the model`);

  const eventsPerHour = LOAD.eventsPerSecond * 3600;
  const loadSiteKeys = LOAD.sites * LOAD.metrics;
  // The job waits for each query, pages through its rows, and writes them.
  const lambdaSeconds = (queries: number, bytesPerQuery: number, rows: number) =>
    queries * (ATHENA_QUERY_OVERHEAD_SECONDS + bytesPerQuery / ATHENA_SCAN_BYTES_PER_SECOND) +
    Math.ceil(rows / ATHENA_PAGE_ROWS) * ATHENA_PAGE_SECONDS +
    rows * AWS_WRITE_SECONDS_PER_ROW;
  const benchLambdaSeconds = (windowBytes: number, rows: number) =>
    windowBytes * engineSecondsPerByte + rows * writeSecondsPerRow;
  const incrementalRows =
    LOAD.deviceMetricKeys * minuteRowsPerKeyHour +
    loadSiteKeys * siteRowsPerKeyHour +
    LOAD.metrics * dayRowsPerMetricRun;
  const incrementalBytesPerQuery = eventsPerHour * bytesPerEvent;
  const incremental: ProjectedRun = {
    label: 'incremental',
    queries: queriesPerRun,
    bytesPerQuery: incrementalBytesPerQuery,
    rows: incrementalRows,
    manifestUpdates: manifestUpdatesPerRun,
    gets: getsPerRun,
    lambdaSeconds: lambdaSeconds(queriesPerRun, incrementalBytesPerQuery, incrementalRows),
    benchLambdaSeconds: benchLambdaSeconds(incrementalBytesPerQuery, incrementalRows),
    s3Gets: objectsPerHour * queriesPerRun,
  };
  const fullRecompute = (day: number): ProjectedRun => {
    const hours = 24 * day;
    const rows =
      LOAD.deviceMetricKeys * minuteRowsPerKeyHourOfHistory * hours +
      loadSiteKeys * siteRowsPerKeyHourOfHistory * hours +
      LOAD.metrics * (day + 1);
    const bytesPerQuery = eventsPerHour * hours * bytesPerEvent;
    return {
      label: `full recompute, day ${day}`,
      queries: queriesPerRun,
      bytesPerQuery,
      rows,
      manifestUpdates: manifestUpdatesPerRun,
      gets: getsPerRun,
      lambdaSeconds: lambdaSeconds(queriesPerRun, bytesPerQuery, rows),
      benchLambdaSeconds: benchLambdaSeconds(bytesPerQuery, rows),
      s3Gets: objectsPerHour * hours * queriesPerRun,
    };
  };
  const days = [1, 30, 365] as const;
  const cutoffDay = Math.ceil(config.batchScanCutoffBytes / (eventsPerHour * 24 * bytesPerEvent));
  let timeoutDay = 1;
  while (fullRecompute(timeoutDay).lambdaSeconds <= LAMBDA_TIMEOUT_SECONDS && timeoutDay < 10_000) timeoutDay += 1;
  const projections = [
    ...days.map((day) => ({ day, design: 'incremental', run: { ...incremental, label: `incremental, day ${day}` } })),
    ...days.map((day) => ({ day, design: 'full', run: fullRecompute(day) })),
  ];
  const runsPerMonth = LOAD.runsPerDay * LOAD.daysPerMonth;
  const lambdaCost = (seconds: number) =>
    (seconds * BATCH_LAMBDA_GB * PRICES.lambdaPerGbSecond +
      (Math.max(1, Math.ceil(seconds / LAMBDA_TIMEOUT_SECONDS)) / 1e6) * PRICES.lambdaPerMillionRequests) *
    runsPerMonth;
  const monthly = (run: ProjectedRun) => {
    const billedBytes =
      run.queries * Math.max(PRICES.athenaMinimumBytes, Math.ceil(run.bytesPerQuery / 2 ** 20) * 2 ** 20);
    return {
      athena: (billedBytes / TB) * PRICES.athenaPerTB * runsPerMonth,
      dynamoWrites: ((run.rows + run.manifestUpdates) / 1e6) * PRICES.dynamoWritePerMillion * runsPerMonth,
      dynamoReads: (run.gets / 1e6) * PRICES.dynamoReadPerMillion * runsPerMonth,
      lambda: lambdaCost(run.lambdaSeconds),
      benchLambda: lambdaCost(run.benchLambdaSeconds),
      stepFunctions: 0,
      s3: (run.s3Gets / 1000) * PRICES.s3GetPerThousand * runsPerMonth,
    };
  };
  const costs = projections.map(({ run }) => monthly(run));
  const total = (c: ReturnType<typeof monthly>) =>
    c.athena + c.dynamoWrites + c.dynamoReads + c.lambda + c.stepFunctions + c.s3;
  const header = ['component (per month)', ...projections.map(({ run }) => run.label)];
  const component = (name: string, pick: (cost: ReturnType<typeof monthly>) => number) => [
    name,
    ...costs.map((cost) => usd(pick(cost))),
  ];
  const costTable: (string | number)[][] = [
    header,
    component('Athena (scanned, 10 MB minimum per query)', (c) => c.athena),
    component('DynamoDB writes (WRU)', (c) => c.dynamoWrites),
    component('DynamoDB reads (RRU)', (c) => c.dynamoReads),
    component('Lambda (GB-s + requests)', (c) => c.lambda),
    component('Step Functions', (c) => c.stepFunctions),
    component('S3 GET', (c) => c.s3),
    ['**total per month**', ...costs.map((c) => `**${usd(total(c))}**`)],
    ['total per day', ...costs.map((c) => usd(total(c) / LOAD.daysPerMonth))],
    component("(Lambda at the bench's own rates: an upper bound, not in the total)", (c) => c.benchLambda),
  ];
  const lambdaLabel = (seconds: number) =>
    seconds > LAMBDA_TIMEOUT_SECONDS ? `${count(seconds)} (> 900: cannot finish)` : seconds.toFixed(0);
  const perRunTable: (string | number)[][] = [
    ['per run at the stated load', ...projections.map(({ run }) => run.label)],
    ['Athena queries', ...projections.map(({ run }) => run.queries)],
    ['bytes scanned per query', ...projections.map(({ run }) => `${(run.bytesPerQuery / 2 ** 30).toFixed(2)} GiB`)],
    ['rows written (WRU)', ...projections.map(({ run }) => count(run.rows))],
    ['manifest writes (WRU)', ...projections.map(({ run }) => count(run.manifestUpdates))],
    ['manifest reads (RRU)', ...projections.map(({ run }) => count(run.gets))],
    ['Lambda seconds (2 GB), assumed AWS rates', ...projections.map(({ run }) => lambdaLabel(run.lambdaSeconds))],
    ["Lambda seconds at the bench's rates", ...projections.map(({ run }) => lambdaLabel(run.benchLambdaSeconds))],
    ['S3 GETs (objects × queries)', ...projections.map(({ run }) => count(run.s3Gets))],
  ];
  const inputsTable: (string | number)[][] = [
    ['input', 'value', 'from'],
    [
      'archived GZIP bytes per event',
      bytesPerEvent.toFixed(1),
      `bench: Σ bytes of the incremental windows (each query scans them once) ÷ events (${(shape.duplicateShare * 100).toFixed(0)}% duplicate deliveries included)`,
    ],
    [
      'uncompressed bytes per event',
      uncompressedPerEvent.toFixed(0),
      "bench: the transform's lines; 60,000 events per 60 s buffer ≈ " +
        `${((uncompressedPerEvent * LOAD.eventsPerSecond * 60) / 2 ** 20).toFixed(1)} MiB, under Firehose's 64 MB dynamic-partitioning buffer, so objects are per interval`,
    ],
    [
      'archive objects per hour',
      objectsPerHour.toFixed(0),
      'bench: DuckDB downloads per run (one per 60 s buffer interval, plus the retried deliveries)',
    ],
    [
      `${minuteView} rows per key per run`,
      minuteRowsPerKeyHour.toFixed(3),
      `bench: incremental rows ÷ ${benchKeys} keys (60 minutes, plus earlier minutes late events touch)`,
    ],
    [
      `${hourView} rows per key per run`,
      siteRowsPerKeyHour.toFixed(3),
      `bench: incremental rows ÷ ${benchSiteKeys} keys`,
    ],
    [`${dayView} rows per metric per run`, dayRowsPerMetricRun.toFixed(3), 'bench: incremental rows ÷ 3 metrics'],
    [
      `${minuteView} rows per key per hour of history`,
      minuteRowsPerKeyHourOfHistory.toFixed(3),
      `bench: run ${n}'s rebuild rows ÷ (${benchKeys} keys × ${n} h)`,
    ],
    [
      `${hourView} rows per key per hour of history`,
      siteRowsPerKeyHourOfHistory.toFixed(3),
      `bench: run ${n}'s rebuild rows ÷ (${benchSiteKeys} keys × ${n} h)`,
    ],
    [
      'write seconds per row, bench',
      (writeSecondsPerRow * 1000).toFixed(3) + ' ms',
      'bench: incremental writeSeconds ÷ rows (dynalite in the same process, 8 BatchWriteItem in flight)',
    ],
    [
      'write seconds per row, AWS',
      (AWS_WRITE_SECONDS_PER_ROW * 1000).toFixed(3) + ' ms',
      'assumed: a 25-item BatchWriteItem answers in 20 ms, 8 in flight (batch-view-store.ts)',
    ],
    [
      'engine seconds per MiB of window, bench',
      (engineSecondsPerByte * 2 ** 20).toFixed(3),
      "bench: a run's seconds less its writes (DuckDB's download and screen, 4 queries, manifest reads) ÷ MiB of its window",
    ],
    [
      'Athena scan rate',
      `${(ATHENA_SCAN_BYTES_PER_SECOND / 2 ** 20).toFixed(0)} MiB/s per query`,
      'assumed (GZIP JSON is not splittable: one reader per object)',
    ],
    ['manifest UpdateItem per run', manifestUpdatesPerRun.toFixed(0), 'bench: begin + flip per view'],
    ['manifest GetItem per run', getsPerRun.toFixed(0), 'bench'],
    [
      'largest item written',
      `${largestItem} B`,
      'bench (names and values as text, an over-estimate): ≤ 1 KB, so 1 WRU per row',
    ],
    ['Athena queue/plan per query', `${ATHENA_QUERY_OVERHEAD_SECONDS} s`, 'assumed'],
    [
      'GetQueryResults page',
      `${ATHENA_PAGE_ROWS} rows, ${ATHENA_PAGE_SECONDS} s`,
      'assumed (athena-engine.ts pages 1,000 rows at a time)',
    ],
  ];

  const sections: ReportSection[] = [
    {
      title: 'Rows per view, first and last run',
      table: perView,
      notes: [
        `A window writes a row per key and bucket it touched: ${minuteView}'s 60 minutes of the hour per key, plus the earlier minutes its late events fall in. Those buckets had rows from an earlier window already; each window's row stays separate (the serving rule merges them), which is why a run writes about ${((minuteRowsPerKeyHour / minuteRowsPerKeyHourOfHistory - 1) * 100).toFixed(0)}% more rows per key-hour than the rebuild holds per key-hour of history.`,
      ],
    },
    {
      title: 'DynamoDB requests per run (counted in the client)',
      table: dynamoTable,
      notes: [
        "Items written are BatchWriteItem items (one WRU each: every item is ≤ 1 KB). The rebuild's UpdateItem requests are its manifest progress (one per 1,000 rows written) and flips; its scan is the superseded-rows expiry looking for window rows below the new base, which reads the whole batch table.",
      ],
    },
    {
      title: 'Cost model inputs',
      table: inputsTable,
      notes: [
        `Stated load: ${LOAD.eventsPerSecond.toLocaleString('en')} events/s (${(eventsPerHour / 1e6).toFixed(1)} M per hourly run), ${LOAD.deviceMetricKeys.toLocaleString('en')} device×metric keys each reporting every minute (${((LOAD.eventsPerSecond * 60) / LOAD.deviceMetricKeys).toFixed(0)} events per key per minute, as in the bench), ${LOAD.sites} sites × ${LOAD.metrics} metrics (an assumption), the default views (${views.join(', ')}), ${LOAD.runsPerDay} runs a day, a month of ${LOAD.daysPerMonth} days (${runsPerMonth} runs).`,
        "Late events (1% of events, 1 to 60 minutes late) and duplicate deliveries (1%) are the bench's; rows per key scale with keys, not with events, as long as every key reports every minute.",
      ],
    },
    {
      title: 'Projected work per run',
      table: perRunTable,
      notes: [
        'Incremental: each run reads the arrival hour it covers (one Hive partition, dt/hour) in each of its 4 Athena queries (3 views + the skipped-rows count), and writes the rows its window touched. Nothing depends on the day: the same at day 1, 30 and 365.',
        `Full recompute (the design before issue 14): each run at the end of day d reads all ${'24 × d'} hours of the archive in each query and rewrites every row of history (no retention), as the issue's figures do.`,
        `Lambda seconds (assumed AWS rates) = queries × (${ATHENA_QUERY_OVERHEAD_SECONDS} s + bytes per query ÷ the Athena scan rate) + result pages (1,000 rows) × ${ATHENA_PAGE_SECONDS} s + rows × the AWS write time per row. At the bench's rates (the DuckDB engine, as a stack without Athena runs it): window bytes × the engine's seconds per byte + rows × dynalite's seconds per row; dynalite shares the bench's process and writes far slower than DynamoDB, and a 2-core machine's DuckDB is no Athena, so that line is an upper bound, not a forecast.`,
        'A run past 900 s cannot finish in one invocation (the batch job is one Lambda with a 15-minute timeout): its cost is shown as if the work were done, while the real outcome is a failed run.',
      ],
    },
    {
      title: 'Projected monthly AWS cost (us-east-1, on demand)',
      table: costTable,
      notes: [
        `Prices: Athena $${PRICES.athenaPerTB}/TB scanned (1 TB = 2^40 B), at least 10 MB per query, rounded up to the MB; DynamoDB on-demand $${PRICES.dynamoWritePerMillion} per million WRU and $${PRICES.dynamoReadPerMillion} per million RRU; Lambda $${PRICES.lambdaPerGbSecond} per GB-s (${BATCH_LAMBDA_GB} GB, lib/batch-layer.ts) and $${PRICES.lambdaPerMillionRequests} per million requests (one per run, or one per 15 minutes of work); S3 $${PRICES.s3GetPerThousand} per 1,000 GET, one per object per query (gzip is not splittable).`,
        `Step Functions: $0, because this project runs no state machine. The batch job is one scheduled Lambda (reserved concurrency 1) whose window steps are recorded in the manifest, so a run that stops is resumed by the next; rebuilds and replays fan out as self-continuing Lambda invocations (functions/rebuild/handler.ts invokes itself with the same request before its deadline, and the manifest holds the progress). Those invocations are Lambda requests and GB-s, counted above. A Distributed Map would cost $${PRICES.stepFunctionsPerThousandTransitions} per 1,000 state transitions on top.`,
        'Not included: DynamoDB storage ($0.25/GB-month; window rows keep their retention: 30 days of minute rows at this load is about 130 M rows), S3 storage and LIST requests, Athena result files, EventBridge Scheduler (free below 14 M invocations a month), CloudWatch, the speed layer and the serving API (the same in both designs), and an optional scheduled rebuild (rebuildScheduleDays, off by default): one costs about a full recompute bounded by retention.',
        `The full recompute at this load would not run at all: from day ${cutoffDay} its queries pass the batch workgroup's ${(config.batchScanCutoffBytes / 2 ** 30).toFixed(0)} GiB scan cutoff (batchScanCutoffGiB) and are cancelled, and ${fullRecompute(1).lambdaSeconds > LAMBDA_TIMEOUT_SECONDS ? 'already on day 1' : `from day ${timeoutDay}`} one run's work takes more than one 15-minute invocation. Its figures are what the work would cost, not what AWS would bill for runs that fail.`,
      ],
    },
  ];
  return {
    name: 'batch-growth',
    summary:
      `${n} waves of the same new data, each one batch interval (an hour of arrivals) of ${eventsPerWave.toLocaleString('en')} events ` +
      `from ${benchKeys} device×metric keys (${shape.devices} devices × 3 metrics, ${shape.sites} sites; ${(shape.lateShare * 100).toFixed(0)}% late by 1–${shape.maxLatenessMinutes} min, ` +
      `${(shape.duplicateShare * 100).toFixed(0)}% delivered twice), archived through the Firehose transform into s3rver, with the default views and AWS's default timing. After each wave: ` +
      `one incremental batch run (runBatchJob, DuckDB) on its own tables, and a rebuild of every view (createRebuildJob, run to done) on fresh tables at the same cutoff, both into dynalite. ` +
      `After every wave the incremental answers equal the rebuild's and a brute-force fold of the events, bucket by bucket (${last.bucketsCompared.toLocaleString('en')} buckets at the end). ${verdict}`,
    table,
    notes: [
      "Bytes scanned are the engine's, summed over the views' queries (DuckDB reports the window's downloaded GZIP bytes for each query; Athena bills each query's scan). The skipped-rows query reads the same bytes once more: the job's BatchBytesScanned metric and the cost model count it, this table does not.",
      "Run 1's window starts at 0 (nothing was served before), yet reads only wave 1's objects: DuckDB lists the prefix and downloads the hours the window can hold.",
      "The rebuild reads the archive within each view's retention (from now − retention − the 24 h skew bound): here all of it. Its seconds: compute (DuckDB download, query, export to the work bucket), write (base rows, 1,000 per manifest progress write), expire (the scan for superseded rows).",
      `Simulated clock: wave k arrives in [T0 + k−1 h, T0 + k h), T0 = ${iso(T0)}, and both jobs run at T0 + k h + 10 min, whose cutoff is T0 + k h. dynalite and s3rver run in this process; dynalite is far slower than DynamoDB per write, so seconds are relative.`,
      `Generating and archiving the waves took ${totals.archiveSeconds.toFixed(1)} s (not part of any run); the whole bench ${totals.totalSeconds.toFixed(0)} s.`,
    ],
    sections,
  };
}
