/** Time granularities a view can bucket by, finest first. */
export const GRANULARITIES = ['minute', 'hour', 'day'] as const;
export type Granularity = (typeof GRANULARITIES)[number];

export const GRANULARITY_MS: Readonly<Record<Granularity, number>> = {
  minute: 60_000,
  hour: 3_600_000,
  day: 86_400_000,
};

/** Start of the bucket that an event time falls in. Buckets are UTC-aligned, as epoch-ms arithmetic is. */
export function bucketStart(timeMs: number, granularity: Granularity): number {
  const size = GRANULARITY_MS[granularity];
  return Math.floor(timeMs / size) * size;
}

/** True when `requested` is `base` or coarser: only then can `base` buckets be rolled up into it. */
export function canRollUp(base: Granularity, requested: Granularity): boolean {
  return GRANULARITIES.indexOf(requested) >= GRANULARITIES.indexOf(base);
}

export function isGranularity(text: string): text is Granularity {
  return (GRANULARITIES as readonly string[]).includes(text);
}
