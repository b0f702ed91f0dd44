import { gzipSync } from 'node:zlib';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { batchViewSql } from '../functions/core/batch-sql';
import { definePipelineConfig } from '../functions/core/pipeline-config';
import { toArchivedEvent } from '../functions/core/stream-record';
import { DuckDbEngine } from '../functions/adapters/duckdb/duckdb-engine';
import { emulatorClientConfig, startS3 } from '../local/emulators';
import { ensureBucket } from '../local/provision';
import { writeReport } from './report';

const EVENTS = 1_000_000;
const OBJECTS = 100;
const DUPLICATE_SHARE = 0.02;

/**
 * A full recompute of the default views over 1,000,000 archived events (plus 2% duplicate deliveries) in 100 GZIP
 * objects served by s3rver: the DuckDB engine's download, then each view's generated SQL.
 */
export async function run(): Promise<string> {
  const config = definePipelineConfig();
  const emulator = await startS3();
  const s3 = new S3Client(emulatorClientConfig(emulator.endpoint));
  try {
    await ensureBucket(s3, 'master');
    const start = Date.UTC(2026, 10, 1);
    const perObject = EVENTS / OBJECTS;
    let bytes = 0;
    const generating = performance.now();
    for (let object = 0; object < OBJECTS; object += 1) {
      const lines: string[] = [];
      for (let i = 0; i < perObject; i += 1) {
        const n = object * perObject + i;
        const line = JSON.stringify(
          toArchivedEvent({
            event: {
              eventId: `e-${n}`,
              deviceId: `device-${n % 1000}`,
              site: `site-${n % 10}`,
              metric: ['temperature', 'humidity', 'pressure'][n % 3],
              value: (n % 400) / 4,
              ts: start + n * 2_000,
            },
            shardId: `shardId-00000000000${n % 4}`,
            sequenceNumber: String(49680507356827391140529022913163858325634908041368305666n + BigInt(n)),
            subSequenceNumber: 0,
            arrivalMs: start + n * 2_000 + 1_500,
          }),
        );
        lines.push(line);
        if (i % Math.round(1 / DUPLICATE_SHARE) === 0) lines.push(line);
      }
      const body = gzipSync(lines.join('\n') + '\n');
      bytes += body.length;
      await s3.send(
        new PutObjectCommand({ Bucket: 'master', Key: `events/dt=2026-11-01/hour=00/part-${object}.gz`, Body: body }),
      );
    }
    const generated = (performance.now() - generating) / 1000;

    // A full recompute is the arrival window [0, C): every record archived before the cutoff.
    const cutoffMs = Date.UTC(2026, 11, 1);
    const totalStarted = performance.now();
    const session = await new DuckDbEngine({ s3, bucket: 'master' }).open({ arrivalFromMs: 0, arrivalToMs: cutoffMs });
    const prepared = session.preparation;
    const download = prepared?.seconds ?? 0;
    const rows: (string | number)[][] = [['step', 'rows out', 'seconds', 'events/s']];
    rows.push([
      `download ${prepared?.objects} objects + define the view`,
      '-',
      download.toFixed(2),
      Math.round(EVENTS / download),
    ]);
    try {
      for (const view of config.views) {
        const result = await session.run(
          batchViewSql(view, {
            source: session.source,
            arrivalFromMs: 0,
            arrivalToMs: cutoffMs,
            dialect: session.dialect,
            eventTimeSkewMs: config.eventTimeSkewMs,
            dedupHorizonMs: config.dedupHorizonMs,
          }),
        );
        rows.push([view.name, result.rows.length, result.seconds.toFixed(2), Math.round(EVENTS / result.seconds)]);
      }
    } finally {
      await session.close();
    }
    const total = (performance.now() - totalStarted) / 1000;
    rows.push(['total recompute', '-', total.toFixed(2), Math.round(EVENTS / total)]);
    return writeReport({
      name: 'batch-recompute',
      summary: `A DuckDB recompute of the ${config.views.length} default views over ${EVENTS.toLocaleString('en')} events (+${DUPLICATE_SHARE * 100}% duplicate deliveries) in ${OBJECTS} GZIP objects (${(bytes / 2 ** 20).toFixed(1)} MiB) on s3rver.`,
      table: rows,
      notes: [
        `Generating and uploading the data took ${generated.toFixed(1)} s (not part of the recompute).`,
        'Each view reads the JSON files again: DuckDB does not cache the parsed view between queries.',
        'Objects are downloaded 8 at a time and streamed to local files; the SQL is the text Athena runs.',
        'Writing the rows to DynamoDB is not included: it depends on the table, not on the engine.',
      ],
    });
  } finally {
    s3.destroy();
    await emulator.stop();
  }
}
