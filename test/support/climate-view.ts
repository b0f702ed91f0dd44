import { defineEventSchema } from '../../functions/core/event-schema-definition';
import { measuresOf, type Measures } from '../../functions/core/measures';
import { defineViews, type ViewDefinition } from '../../functions/core/view-declaration';

/** A schema with two numeric fields, for tests of views that aggregate more than one field. */
export const climateSchema = defineEventSchema({ dimensions: ['room'], numbers: ['temperature', 'humidity'] });

/**
 * Two numeric fields, a min and a max of each, a sum of one with an avg that shares it, and an avg of the other (its
 * own stored sum): every kind of stored attribute, twice over.
 */
export const [climate] = defineViews(
  [
    {
      name: 'climate',
      dimensions: ['room'],
      granularity: 'minute',
      measures: {
        readings: 'count',
        coldest: { min: 'temperature' },
        hottest: { max: 'temperature' },
        driest: { min: 'humidity' },
        wettest: { max: 'humidity' },
        humidity: { sum: 'humidity' },
        meanHumidity: { avg: 'humidity' },
        meanTemperature: { avg: 'temperature' },
      },
    },
  ],
  climateSchema,
) as [ViewDefinition];

/** One reading's contribution to the climate view. */
export function reading(temperature: number, humidity: number): Measures {
  return measuresOf(climate, { temperature, humidity });
}
