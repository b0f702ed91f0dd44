import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describeMachine } from './machine';

/** Percentile of a sample by nearest rank; p in [0, 100]. */
export function percentile(sample: readonly number[], p: number): number {
  if (sample.length === 0) return Number.NaN;
  const sorted = [...sample].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

export interface BenchReport {
  readonly name: string;
  readonly summary: string;
  /** Markdown table rows, header first. */
  readonly table: readonly (readonly (string | number)[])[];
  readonly notes?: readonly string[];
  /** Further titled tables, each with its own notes, after the main table's notes. */
  readonly sections?: readonly ReportSection[];
}

export interface ReportSection {
  readonly title: string;
  /** Markdown table rows, header first. */
  readonly table: readonly (readonly (string | number)[])[];
  readonly notes?: readonly string[];
}

/** Where the results are written, one DATE-NAME.md per benchmark and day (result-comparison.ts reads the name). */
export const RESULTS_DIRECTORY = join(__dirname, 'results');

/** Writes a dated Markdown result under bench/results/ with the machine description, and returns its path. */
export function writeReport(report: BenchReport): string {
  mkdirSync(RESULTS_DIRECTORY, { recursive: true });
  const day = new Date().toISOString().slice(0, 10);
  const file = join(RESULTS_DIRECTORY, `${day}-${report.name}.md`);
  const line = (cells: readonly (string | number)[]) => `| ${cells.join(' | ')} |`;
  const tableLines = ([header, ...rows]: readonly (readonly (string | number)[])[]) => [
    line(header),
    line(header.map(() => '---')),
    ...rows.map(line),
  ];
  const text = [
    `# ${report.name}`,
    '',
    report.summary,
    '',
    '```',
    describeMachine(),
    '```',
    '',
    ...tableLines(report.table),
    '',
    ...(report.notes ?? []).map((note) => `- ${note}`),
    '',
    ...(report.sections ?? []).flatMap((section) => [
      `## ${section.title}`,
      '',
      ...tableLines(section.table),
      '',
      ...(section.notes ?? []).map((note) => `- ${note}`),
      ...(section.notes === undefined || section.notes.length === 0 ? [] : ['']),
    ]),
  ].join('\n');
  writeFileSync(file, text);
  return file;
}
