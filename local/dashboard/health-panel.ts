import type { LocalHealth } from '../local-health';
import { formatBytes, formatDuration, formatUtc, formatUtcTime, formatValue } from './number-format';

/** One figure of the health panel: what it is, its value, and a line of detail under it. */
export interface HealthTile {
  /** A stable name, for the page's markup and its tests. */
  readonly id: string;
  readonly label: string;
  readonly value: string;
  readonly detail: string;
  /** Something a user should look at: the value is shown in the warning colour. */
  readonly warn?: boolean;
}

/** An iterator this far behind means the speed layer is not keeping up (Lambda's IteratorAge alarm is similar). */
export const ITERATOR_AGE_WARNING_MS = 60_000;

/**
 * The health panel's figures from `GET /_local/health`: what comes in and is refused, how far behind the speed layer
 * reads, and, per architecture, the batch layer's cutoff and last run (Lambda) or the views' generations and replays
 * (Kappa, which has no batch layer).
 */
export function healthTiles(health: LocalHealth): HealthTile[] {
  const { ingest, speedLayer } = health;
  const tiles: HealthTile[] = [
    {
      id: 'events-in',
      label: 'events in',
      value: `${formatValue(ingest.acceptedPerSecond)}/s`,
      detail: `${ingest.accepted} accepted by POST /events; the speed layer reads ${formatValue(speedLayer.recordsPerSecond)}/s`,
    },
    {
      id: 'events-rejected',
      label: 'rejected',
      value: `${formatValue(ingest.rejectedPerSecond)}/s`,
      detail: `${ingest.rejected} rejected in all (last ${ingest.windowSeconds} s for the rates)`,
      warn: ingest.rejectedPerSecond > 0,
    },
    {
      id: 'iterator-age',
      label: 'speed layer iterator age',
      value: formatDuration(speedLayer.iteratorAgeMs),
      detail:
        `${speedLayer.invocations} invocations` +
        (speedLayer.discardedBatches > 0 ? `, ${speedLayer.discardedBatches} batches discarded` : ''),
      warn: speedLayer.iteratorAgeMs >= ITERATOR_AGE_WARNING_MS || speedLayer.discardedBatches > 0,
    },
  ];
  if (health.batch !== null) {
    const { batch } = health;
    tiles.push({
      id: 'cutoff-age',
      label: 'batch cutoff age',
      value: batch.cutoffAgeMs === null ? 'no cutoff yet' : formatDuration(batch.cutoffAgeMs),
      detail:
        batch.cutoffMs === null
          ? 'every answer comes from the speed layer until a batch run covers every view'
          : `exact up to ${formatUtc(batch.cutoffMs)}`,
    });
    const run = batch.lastRun;
    tiles.push({
      id: 'last-run',
      label: 'last batch run',
      value: run === null ? 'none yet' : run.outcome === 'failed' ? 'failed' : `${run.rows} rows`,
      detail:
        run === null
          ? batch.nextRunAt === null
            ? 'not scheduled'
            : `next at ${formatUtc(Date.parse(batch.nextRunAt))}`
          : [
              windowText(run.window),
              `${formatBytes(run.bytesScanned)} read`,
              `${formatValue(run.seconds)} s`,
              ...(run.error === undefined ? [] : [run.error]),
              ...(batch.nextRunAt === null ? [] : [`next at ${formatUtcTime(Date.parse(batch.nextRunAt))}`]),
            ].join(', '),
      warn: run?.outcome === 'failed',
    });
  }
  const served = [...new Set(health.generations.map((g) => g.served))];
  const building = health.generations.filter((g) => g.building !== null);
  const replays = health.generations.reduce((sum, g) => sum + g.replays, 0);
  tiles.push({
    id: 'generation',
    label: 'realtime generation',
    value: served.length === 1 ? String(served[0]) : served.join(', '),
    detail:
      building.length > 0
        ? building
            .map(
              (g) =>
                `replay of ${g.view} building generation ${g.building?.generation}, hand-off ${formatUtc(g.building?.handoffMs ?? 0)}`,
            )
            .join('; ')
        : health.architecture === 'kappa'
          ? `${replays} replays done; npm run replay rebuilds a view into a new generation`
          : `${replays} replays done`,
  });
  return tiles;
}

/** A run's arrival window, in times of day when it is within one day; a first run's starts with the archive. */
function windowText(window: { from: string; to: string } | null): string {
  if (window === null) return 'nothing new to compute';
  const from = Date.parse(window.from);
  const to = Date.parse(window.to);
  if (from <= 0) return `window: everything archived before ${formatUtc(to)}`;
  return window.from.slice(0, 10) === window.to.slice(0, 10)
    ? `window ${formatUtcTime(from)} – ${formatUtcTime(to)}`
    : `window ${formatUtc(from)} – ${formatUtc(to)}`;
}
