import type { z } from 'zod';

/**
 * Turns zod issues into messages that name the field and the rule (`value: expected a finite number`),
 * which is the form every layer reports a rejected input in.
 */
/** The error for an object schema: unknown keys are named, anything else is the wrong type. */
export function objectError(what: string) {
  return (issue: z.core.$ZodRawIssue): string =>
    issue.code === 'unrecognized_keys'
      ? `unknown key ${issue.keys.map((key) => JSON.stringify(key)).join(', ')}`
      : `expected ${what}`;
}

export function describeIssues(
  issues: readonly z.core.$ZodIssue[],
  root: string,
  { bareFields = false }: { bareFields?: boolean } = {},
): string[] {
  return issues.map((issue) => `${issuePath(issue.path, root, bareFields)}: ${issue.message}`);
}

function issuePath(path: readonly PropertyKey[], root: string, bareFields: boolean): string {
  if (path.length === 0) return root;
  // An event's fields read best bare (`value: ...`); elsewhere the root says what was wrong (`views[0].name: ...`).
  const start = bareFields && typeof path[0] === 'string' ? '' : root;
  return path.reduce<string>((text, segment) => {
    if (typeof segment === 'number') return `${text}[${segment}]`;
    return text === '' ? String(segment) : `${text}.${String(segment)}`;
  }, start);
}
