import { createHash } from 'node:crypto';
import { bandOf, scoreReading, slotLabel, type BaselineDefinition, type SlotBaseline } from './baseline';
import { dimensionKeyOf, dimensionValues } from './dimension-key';
import { eventIdOf, eventTimeOf, numberOf } from './event-schema';
import { padTime } from './storage-keys';
import type { StreamRecord } from './stream-record';
import type { ViewDefinition } from './view-declaration';

/**
 * An anomaly (DESIGN.md §12): a reading the speed layer scored past its view's threshold against the served
 * baseline of its key and slot. It carries what it was measured against, so that it explains itself without a
 * second read, and an id that a redelivery, a producer's retry of the same event and every consumer agree on.
 */
export interface Anomaly {
  /** sha-256 of view, key and eventId: the same reading is the same anomaly however often it is delivered. */
  readonly id: string;
  readonly view: string;
  readonly dimensionKey: string;
  readonly eventId: string;
  readonly eventTimeMs: number;
  readonly arrivalMs: number;
  readonly field: string;
  readonly value: number;
  /** (value − mean) / stddev. */
  readonly score: number;
  readonly direction: 'high' | 'low';
  readonly threshold: number;
  readonly slot: number;
  readonly slotLabel: string;
  readonly expected: number;
  readonly stddev: number;
  readonly lower: number;
  readonly upper: number;
  /** Readings the slot's baseline holds. */
  readonly baselineEvents: number;
  readonly windowFrom: number;
  readonly windowTo: number;
  /** Where the record is in the stream: an operator can find it, and the archive holds it under these. */
  readonly shardId: string;
  readonly sequenceNumber: string;
}

/** Scores one record of a view against the baseline of its key and slot: an anomaly, or undefined. */
export function anomalyOf(
  view: ViewDefinition & { readonly baseline: BaselineDefinition },
  record: StreamRecord,
  served: SlotBaseline,
): Anomaly | undefined {
  if (served.status !== 'ready') return undefined;
  const { baseline } = view;
  const value = numberOf(record.event, baseline.field);
  const { score, anomalous } = scoreReading(baseline, served, value);
  if (!anomalous) return undefined;
  const dimensionKey = dimensionKeyOf(view, record.event);
  const eventId = eventIdOf(view.schema, record.event);
  return {
    id: anomalyId(view.name, dimensionKey, eventId),
    view: view.name,
    dimensionKey,
    eventId,
    eventTimeMs: eventTimeOf(view.schema, record.event),
    arrivalMs: record.arrivalMs,
    field: baseline.field,
    value,
    score,
    direction: score > 0 ? 'high' : 'low',
    threshold: baseline.threshold,
    slot: served.slot,
    slotLabel: slotLabel(served.slot, baseline.seasonality),
    expected: served.mean,
    stddev: served.stddev,
    ...bandOf(baseline, served),
    baselineEvents: served.events,
    windowFrom: served.window.from,
    windowTo: served.window.to,
    shardId: record.shardId,
    sequenceNumber: record.sequenceNumber,
  };
}

export function anomalyId(view: string, dimensionKey: string, eventId: string): string {
  return createHash('sha256').update(`${view}\u0000${dimensionKey}\u0000${eventId}`).digest('hex').slice(0, 32);
}

/**
 * Anomalies table layout: pk = view, sk = event time (16 digits) `#` id, so a view's anomalies of a time range are
 * one Query in time order, whatever the key, and the sort key has a fixed length whatever the key or eventId holds.
 * A view's anomalies share one partition: they are rare by construction (a threshold of 4 passes about 6 readings
 * in 100,000 of a normal series), far below a partition's 1,000 writes a second.
 */
export function anomalyItemKey(anomaly: Pick<Anomaly, 'view' | 'eventTimeMs' | 'id'>): { pk: string; sk: string } {
  return { pk: anomaly.view, sk: `${padTime(anomaly.eventTimeMs)}#${anomaly.id}` };
}

/** Inclusive sort-key bounds of the anomalies whose event time is in [fromMs, toMs). */
export function anomalySortKeyRange(fromMs: number, toMs: number): { from: string; to: string } {
  return { from: `${padTime(fromMs)}#`, to: `${padTime(toMs - 1)}#~` };
}

/** An anomaly as answers and events present it: the key as fields, times as ISO text and epoch ms. */
export function presentAnomaly(view: ViewDefinition, anomaly: Anomaly) {
  return {
    id: anomaly.id,
    view: anomaly.view,
    key: dimensionValues(view, anomaly.dimensionKey),
    eventId: anomaly.eventId,
    time: new Date(anomaly.eventTimeMs).toISOString(),
    timeMs: anomaly.eventTimeMs,
    arrivedAt: new Date(anomaly.arrivalMs).toISOString(),
    field: anomaly.field,
    value: anomaly.value,
    score: anomaly.score,
    direction: anomaly.direction,
    threshold: anomaly.threshold,
    baseline: {
      slot: anomaly.slotLabel,
      expected: anomaly.expected,
      stddev: anomaly.stddev,
      lower: anomaly.lower,
      upper: anomaly.upper,
      events: anomaly.baselineEvents,
      windowFrom: new Date(anomaly.windowFrom).toISOString(),
      windowTo: new Date(anomaly.windowTo).toISOString(),
    },
    shardId: anomaly.shardId,
    sequenceNumber: anomaly.sequenceNumber,
  };
}

export type PresentedAnomaly = ReturnType<typeof presentAnomaly>;

/** A page of a view's anomalies, newest first, and the token of the next page (null on the last). */
export interface AnomalyPage {
  readonly anomalies: readonly Anomaly[];
  readonly next: string | null;
}

/** Which anomalies of a view to read: event time in [fromMs, toMs), the given dimension values, newest first. */
export interface AnomalyQuery {
  readonly fromMs: number;
  readonly toMs: number;
  /** Dimension field → value; each given one must match. */
  readonly dimensions: Readonly<Record<string, string>>;
  readonly limit: number;
  /** A page's `next` token. */
  readonly after?: string;
}

/** What the serving layer reads of the anomalies table (adapters/anomaly-store.ts). */
export interface AnomalyPages {
  page(view: ViewDefinition, query: AnomalyQuery): Promise<AnomalyPage>;
}
