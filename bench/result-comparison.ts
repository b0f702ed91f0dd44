/**
 * A new benchmark result against the latest earlier one of the same benchmark on the same kind of machine: for each
 * table present in both with the same columns, each row present in both, and each number in both, new ÷ old.
 * Pure: run.ts reads the files and prints what this returns.
 */

/** A result file as stored in bench/results: its name (DATE-BENCH.md) and its Markdown. */
export interface StoredResult {
  readonly file: string;
  readonly markdown: string;
}

export interface ResultTable {
  /** The `## ` heading above the table; '' for the tables before any. */
  readonly title: string;
  readonly header: readonly string[];
  readonly rows: readonly (readonly string[])[];
}

export interface ParsedResult {
  /** The machine block's `cpu:` line, model and core count (machine.ts): figures are only compared within one kind. */
  readonly machineKind: string | undefined;
  readonly tables: readonly ResultTable[];
}

const RESULT_FILE = /^(\d{4}-\d{2}-\d{2})-(.+)\.md$/;

/** The date and benchmark of a result file name, e.g. 2026-12-03-speed.md; undefined for any other file. */
export function parseResultFileName(file: string): { readonly date: string; readonly bench: string } | undefined {
  const match = RESULT_FILE.exec(file);
  return match === null ? undefined : { date: match[1], bench: match[2] };
}

function cellsOf(line: string): string[] {
  return line
    .trim()
    .replace(/^\|/, '')
    .replace(/\|$/, '')
    .split('|')
    .map((cell) => cell.trim());
}

export function parseResult(markdown: string): ParsedResult {
  const lines = markdown.split('\n');
  const cpu = lines.find((line) => line.startsWith('cpu: '));
  const tables: ResultTable[] = [];
  let title = '';
  let table: string[][] = [];
  const flush = () => {
    const [header, ...rest] = table;
    if (header !== undefined) {
      // The second line is the --- separator under the header.
      const rows = rest.filter((cells) => !cells.every((cell) => /^:?-+:?$/.test(cell)));
      tables.push({ title, header, rows });
    }
    table = [];
  };
  for (const line of lines) {
    if (line.trimStart().startsWith('|')) {
      table.push(cellsOf(line));
      continue;
    }
    flush();
    if (line.startsWith('## ')) title = line.slice(3).trim();
  }
  flush();
  return { machineKind: cpu?.slice('cpu: '.length).trim(), tables };
}

/**
 * The latest stored result of the same benchmark on the same machine kind as `latest`, by the date in the file
 * name; `stored` is read before the run, so a result written earlier the same day (and now overwritten) counts.
 */
export function latestComparable(latest: StoredResult, stored: readonly StoredResult[]): StoredResult | undefined {
  const name = parseResultFileName(latest.file);
  const kind = parseResult(latest.markdown).machineKind;
  if (name === undefined || kind === undefined) return undefined;
  return stored
    .filter((result) => result.markdown !== latest.markdown) // the new result itself, if read after the run
    .map((result) => ({ result, name: parseResultFileName(result.file) }))
    .filter(
      ({ result, name: other }) => other?.bench === name.bench && parseResult(result.markdown).machineKind === kind,
    )
    .sort((a, b) => (a.name?.date ?? '').localeCompare(b.name?.date ?? ''))
    .at(-1)?.result;
}

/** A number, with thousands commas, then an optional unit without digits ("499 items/s", "42.2×"). */
const NUMERIC_CELL = /^(-?\d{1,3}(?:,\d{3})+(?:\.\d+)?|-?\d+(?:\.\d+)?)\s*([^\d]*)$/;

function numberOf(cell: string): { readonly value: number; readonly unit: string } | undefined {
  const match = NUMERIC_CELL.exec(cell);
  return match === null ? undefined : { value: Number(match[1].replaceAll(',', '')), unit: match[2] };
}

/** new ÷ old for two cells holding numbers in the same unit; undefined when either is not, or old is 0 and new not. */
export function cellRatio(newCell: string, oldCell: string): number | undefined {
  const now = numberOf(newCell);
  const before = numberOf(oldCell);
  if (now === undefined || before === undefined || now.unit !== before.unit) return undefined;
  if (now.value === before.value) return 1;
  return before.value === 0 ? undefined : now.value / before.value;
}

/**
 * How many leading cells name a row: the fewest (none for a one-row table) that tell the rows of both tables apart.
 * Benchmarks put their parameters first (batch size, distinct keys, consumer, ...) and the measurements after.
 */
export function labelColumns(latest: ResultTable, earlier: ResultTable): number | undefined {
  const distinct = (rows: readonly (readonly string[])[], count: number) =>
    new Set(rows.map((row) => JSON.stringify(row.slice(0, count)))).size === rows.length;
  for (let count = 0; count < latest.header.length; count++) {
    if (distinct(latest.rows, count) && distinct(earlier.rows, count)) return count;
  }
  return undefined;
}

function tableKey(table: ResultTable): string {
  return JSON.stringify([table.title, table.header]);
}

/** The new ÷ old table of two tables with the same columns, as Markdown lines; undefined if no number compares. */
export function compareTables(latest: ResultTable, earlier: ResultTable): string[] | undefined {
  const labels = labelColumns(latest, earlier);
  if (labels === undefined) return undefined;
  const rowKey = (row: readonly string[]) => JSON.stringify(row.slice(0, labels));
  const earlierRows = new Map(earlier.rows.map((row) => [rowKey(row), row]));
  const pairs = latest.rows.flatMap((row) => {
    const old = earlierRows.get(rowKey(row));
    return old === undefined ? [] : [{ row, ratios: row.map((cell, column) => cellRatio(cell, old[column] ?? '')) }];
  });
  const measured = latest.header
    .map((_, column) => column)
    .filter((column) => column >= labels && pairs.some(({ ratios }) => ratios[column] !== undefined));
  if (measured.length === 0) return undefined;
  const line = (cells: readonly string[]) => `| ${cells.join(' | ')} |`;
  const columns = [...latest.header.slice(0, labels).keys(), ...measured];
  const unmatched = latest.rows.length - pairs.length;
  return [
    line(columns.map((column) => latest.header[column])),
    line(columns.map(() => '---')),
    ...pairs.map(({ row, ratios }) =>
      line(columns.map((column) => (column < labels ? row[column] : (ratios[column]?.toFixed(2) ?? '–')))),
    ),
    ...(unmatched > 0 ? ['', `${unmatched} row(s) with no counterpart in the earlier result are left out.`] : []),
  ];
}

/** What run.ts prints after a result: the new ÷ old tables against the latest comparable result, or why there is none. */
export function describeComparison(latest: StoredResult, stored: readonly StoredResult[]): string {
  const kind = parseResult(latest.markdown).machineKind ?? 'unknown';
  const earlier = latestComparable(latest, stored);
  if (earlier === undefined) return `No earlier result for this machine kind (cpu: ${kind}) to compare with.`;
  const earlierTables = new Map(parseResult(earlier.markdown).tables.map((table) => [tableKey(table), table]));
  const sections = parseResult(latest.markdown).tables.map((table) => {
    const name = table.title === '' ? 'Main table' : table.title;
    const old = earlierTables.get(tableKey(table));
    if (old === undefined) return [`${name}: no table with the same columns in ${earlier.file}.`];
    const compared = compareTables(table, old);
    return compared === undefined ? [`${name}: no numbers to compare.`] : [`${name}, new ÷ old:`, '', ...compared];
  });
  return [
    `Compared with ${earlier.file} (the latest earlier result on this machine kind, cpu: ${kind}):`,
    ...sections.flatMap((section) => ['', ...section]),
  ].join('\n');
}
