/**
 * `npm run bench [-- name ...]`: runs the benchmarks (all, or those named) and writes each result to
 * bench/results/DATE-NAME.md. Benchmarks are never part of `npm test`.
 */
import { readdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { defineCommand, readCommandLine } from '../local/command-line';

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
    'Runs the benchmarks (all, or those named) and writes each result to bench/results/DATE-NAME.md. ' +
    'Benchmarks are never part of `npm test`.',
  options: {},
  positionals: { usage: '[NAME ...]', description: `the benchmarks to run (default: all): ${available.join(', ')}` },
});

async function main(): Promise<void> {
  const requested = readCommandLine(BENCH_COMMAND).positionals;
  const unknown = requested.filter((name) => !available.includes(name));
  if (unknown.length > 0) {
    throw new Error(`unknown benchmark ${unknown.join(', ')} (available: ${available.join(', ')})`);
  }
  for (const name of requested.length > 0 ? requested : available) {
    console.log(`bench ${name} ...`);
    const benchmark = (await import(join(__dirname, `${name}.bench.ts`))) as Benchmark;
    console.log(`bench ${name}: wrote ${await benchmark.run()}`);
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
});
