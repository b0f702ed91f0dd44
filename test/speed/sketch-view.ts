import type { ViewDeclaration } from '../../functions/core/view-declaration';

/**
 * A realistic view with every sketch measure over the IoT events: distinct devices and distinct events per site and
 * minute, a histogram of the values (boundaries on both sides of 0, so that every bin is reached) and their standard
 * deviation (a sum of squares beside a sum), next to a plain min: the replaced attributes of a realtime item
 * (realtime-update.ts isReplaced) written in the same requests as the ADDs and the extremes.
 */
export const SITE_SKETCH_VIEW: ViewDeclaration = {
  name: 'site_sketch_minute',
  dimensions: ['site'],
  granularity: 'minute',
  measures: {
    events: 'count',
    devices: { distinct: 'deviceId' },
    uniqueEvents: { distinct: 'eventId' },
    values: { histogram: 'value', boundaries: [-250, -50, -5, 0, 5, 50, 250] },
    spread: { stddev: 'value' },
    lowest: { min: 'value' },
  },
};
