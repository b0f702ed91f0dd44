/**
 * `npm start`: the embedded local runtime. It is built in stages; this entry point says what exists and what does
 * not, rather than pretending to run a pipeline.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';

const parts: Array<[string, string]> = [
  ['emulators (kinesis-local, dynalite, s3rver)', 'local/emulators/index.ts'],
  ['event source mapping poller', 'local/event-source-mapping.ts'],
  ['Firehose stand-in', 'local/firehose.ts'],
  ['batch scheduler (DuckDB)', 'local/batch-scheduler.ts'],
  ['API Gateway stand-in (HTTP server)', 'local/http-gateway.ts'],
];

const missing = parts.filter(([, file]) => !existsSync(join(__dirname, '..', file)));
console.error('The local runtime is not complete yet, so `npm start` cannot run the pipeline.');
console.error(missing.length > 0 ? 'Missing:' : 'All parts exist, but they are not wired together yet.');
for (const [part] of missing) console.error(`  - ${part}`);
console.error('What works today: `npm test` (the core, proven against DuckDB) and `npm run synth`.');
process.exitCode = 1;
