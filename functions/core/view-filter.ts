import type { PipelineEvent } from './event-schema';
import type { FilterCondition, ViewDefinition } from './view-declaration';

/** The in-memory twin of the SQL WHERE clause that batch-sql.ts generates from the same conditions. */
export function matchesFilter(view: ViewDefinition, event: PipelineEvent): boolean {
  return view.filter.every((condition) => holds(condition, event[condition.field] as string | number));
}

// Validation guarantees order operators only ever meet numeric fields, and fields their own type of value.
function holds(condition: FilterCondition, actual: string | number): boolean {
  const { op, value } = condition;
  switch (op) {
    case 'eq':
      return actual === value;
    case 'ne':
      return actual !== value;
    case 'in':
      return (value as readonly (string | number)[]).includes(actual);
    case 'notIn':
      return !(value as readonly (string | number)[]).includes(actual);
    case 'gt':
      return (actual as number) > (value as number);
    case 'gte':
      return (actual as number) >= (value as number);
    case 'lt':
      return (actual as number) < (value as number);
    case 'lte':
      return (actual as number) <= (value as number);
  }
}
