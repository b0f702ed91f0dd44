/**
 * `npm run bench [-- name ...]`: runs the benchmarks (all, or those named), writes each result to
 * bench/results/DATE-NAME.md, prints it, and compares it with the latest earlier result of the same benchmark on the
 * same kind of machine. Benchmarks are never part of `npm test`.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import { defineCommand, readCommandLine } from '../local/command-line';
import { RESULTS_DIRECTORY } from './report';
import { describeComparison, type StoredResult } from './result-comparison';

interface Benchmark {
  run(): Promise<string>;
}

const available = readdirSync(__dirname)
  .filter((file) => file.endsWith('.bench.ts'))
  .map((file) => basename(file, '.bench.ts'))
  .sort();

export const BENCH_COMMAND = defineCommand({
  command: 'npm run bench',
  summary:
    'Runs the benchmarks (all, or those named), writes each result to bench/results/DATE-NAME.md, prints it, and ' +
    'compares it (new ÷ old) with the latest earlier result of the same benchmark on the same kind of machine. ' +
    'Benchmarks are never part of `npm test`.',
  options: {},
  positionals: { usage: '[NAME ...]', description: `the benchmarks to run (default: all): ${available.join(', ')}` },
});

/** Every stored result, read before a run: the run may overwrite the one written earlier the same day. */
function storedResults(): StoredResult[] {
  if (!existsSync(RESULTS_DIRECTORY)) return [];
  return readdirSync(RESULTS_DIRECTORY)
    .filter((file) => file.endsWith('.md'))
    .map((file) => ({ file, markdown: readFileSync(join(RESULTS_DIRECTORY, file), 'utf8') }));
}

async function main(): Promise<void> {
  const requested = readCommandLine(BENCH_COMMAND).positionals;
  const unknown = requested.filter((name) => !available.includes(name));
  if (unknown.length > 0) {
    throw new Error(`unknown benchmark ${unknown.join(', ')} (available: ${available.join(', ')})`);
  }
  for (const name of requested.length > 0 ? requested : available) {
    console.log(`bench ${name} ...`);
    const benchmark = (await import(join(__dirname, `${name}.bench.ts`))) as Benchmark;
    const earlier = storedResults();
    const file = await benchmark.run();
    const latest = { file: basename(file), markdown: readFileSync(file, 'utf8') };
    console.log(`bench ${name}: wrote ${relative(process.cwd(), file)}\n`);
    console.log(latest.markdown.trimEnd());
    console.log(`\n${describeComparison(latest, earlier)}\n`);
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
});
