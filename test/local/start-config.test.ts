import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { localPipelineConfig } from '../../local/local-config';

const root = join(__dirname, '..', '..');
let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'start-config-'));
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** `npm start -- --config FILE`, as the script runs it, in a data directory of its own. */
function start(settings: unknown) {
  const file = join(dir, `settings-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(file, typeof settings === 'string' ? settings : JSON.stringify(settings));
  return spawnSync(
    join(root, 'node_modules', '.bin', 'tsx'),
    ['local/start.ts', '--config', file, '--port', '0', '--data-dir', join(dir, 'data')],
    { cwd: root, encoding: 'utf8', timeout: 120_000 },
  );
}

describe('npm start -- --config FILE', () => {
  it('reads the schema and views of a settings file, with local timing on top', () => {
    const config = localPipelineConfig({}, root, join(root, 'examples', 'web-requests.json'));
    expect(config.schema).toEqual({
      id: 'requestId',
      time: 'at',
      dimensions: ['path', 'status', 'country'],
      numbers: ['latencyMs', 'bytes'],
    });
    expect(config.views.map((view) => view.name)).toEqual(['path_status_minute', 'country_hour']);
    expect(config.epochLengthMs).toBe(60_000);
  });

  it.each([
    [
      'a bad schema',
      { schema: { dimensions: ['path', 'PATH'], numbers: ['latency ms'] } },
      ['config.schema.numbers[0]: expected a letter, then letters, digits and _'],
    ],
    [
      'a view naming fields the schema lacks',
      {
        schema: { dimensions: ['path'], numbers: ['bytes'] },
        views: [{ name: 'v', dimensions: ['host'], granularity: 'hour', measures: { slowest: { max: 'latencyMs' } } }],
      },
      ['views[0].dimensions[0]: unknown field "host"', 'views[0].measures.slowest.max: unknown numeric field'],
    ],
    ['a file that is not JSON', '{"schema":', ['--config: ']],
  ])(
    'stops before starting anything on %s, one line per problem naming its field, no stack trace',
    (_what, settings, problems) => {
      const result = start(settings);
      expect(result.status).toBe(1);
      const lines = result.stderr.split('\n').filter((line) => line.startsWith('  - ') || line.startsWith('--config'));
      for (const [index, problem] of problems.entries()) expect(lines[index]).toContain(problem);
      expect(result.stderr).not.toMatch(/^\s+at /m);
      expect(result.stdout).not.toContain('starting kinesis-local');
    },
  );
});
