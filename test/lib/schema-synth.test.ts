import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PipelineConfigError } from '../../functions/core/pipeline-config';
import { ViewDeclarationError } from '../../functions/core/view-declaration';
import { appSettingsFromContext } from '../../lib/app-context';

const root = join(__dirname, '..', '..');
const cdk = join(root, 'node_modules', '.bin', 'cdk');

/** A schema with two problems, each to be named by its field. */
const BAD_SCHEMA = { schema: { id: 'requestId', dimensions: [], numbers: ['latency-ms'] } };
/** A valid schema whose view names a dimension and a numeric field it lacks. */
const BAD_VIEWS = {
  schema: { dimensions: ['path'], numbers: ['bytes'] },
  views: [{ name: 'by_host', dimensions: ['host'], granularity: 'hour', measures: { slowest: { max: 'latencyMs' } } }],
};

function synth(pipeline: unknown, output: string) {
  return spawnSync(cdk, ['synth', '--quiet', '--output', output, '-c', `pipeline=${JSON.stringify(pipeline)}`], {
    cwd: root,
    // No network: a synth that fails must fail on the declaration, not on a download.
    env: { ...process.env, HTTP_PROXY: 'http://127.0.0.1:9', HTTPS_PROXY: 'http://127.0.0.1:9', NO_PROXY: '' },
    encoding: 'utf8',
    timeout: 180_000,
  });
}

describe('the CDK app reads the event schema from the pipeline context', () => {
  it('refuses a bad schema with one problem per line, each naming its field', () => {
    expect(() => appSettingsFromContext((key) => (key === 'pipeline' ? BAD_SCHEMA : undefined))).toThrow(
      PipelineConfigError,
    );
    expect(() =>
      appSettingsFromContext((key) => (key === 'pipeline' ? JSON.stringify(BAD_SCHEMA) : undefined)),
    ).toThrow(
      /^invalid pipeline configuration:\n {2}- config\.schema\.dimensions: .*\n {2}- config\.schema\.numbers\[0\]: /,
    );
  });

  it('refuses a view that names fields the schema lacks, naming each', () => {
    expect(() => appSettingsFromContext((key) => (key === 'pipeline' ? BAD_VIEWS : undefined))).toThrow(
      ViewDeclarationError,
    );
    expect(() => appSettingsFromContext((key) => (key === 'pipeline' ? BAD_VIEWS : undefined))).toThrow(
      /views\[0\]\.dimensions\[0\]: unknown field "host".*\n.*views\[0\]\.measures\.slowest\.max: unknown numeric field "latencyMs"/,
    );
  });

  it.each([
    ['a bad schema', BAD_SCHEMA, ['config.schema.dimensions: ', 'config.schema.numbers[0]: ']],
    ['a view naming unknown fields', BAD_VIEWS, ['views[0].dimensions[0]: ', 'views[0].measures.slowest.max: ']],
  ])('fails cdk synth with %s: the message names each problem, without a stack trace', (_what, pipeline, fields) => {
    const output = mkdtempSync(join(tmpdir(), 'schema-synth-'));
    try {
      const result = synth(pipeline, output);
      expect(result.status).not.toBe(0);
      const problems = result.stderr.split('\n').filter((line) => line.startsWith('  - '));
      expect(problems.map((line) => fields.find((field) => line.startsWith(`  - ${field}`)))).toEqual(fields);
      expect(result.stderr).not.toMatch(/^\s+at /m);
    } finally {
      rmSync(output, { recursive: true, force: true });
    }
  });

  it('synthesizes the web-requests example (examples/web-requests.json) as the pipeline context', () => {
    const pipeline = JSON.parse(readFileSync(join(root, 'examples', 'web-requests.json'), 'utf8')) as unknown;
    const output = mkdtempSync(join(tmpdir(), 'schema-synth-'));
    try {
      const result = synth(pipeline, output);
      expect(result.stderr).not.toMatch(/invalid/);
      expect(result.status).toBe(0);
      expect(readdirSync(output)).toContain('manifest.json');
    } finally {
      rmSync(output, { recursive: true, force: true });
    }
  });
});
