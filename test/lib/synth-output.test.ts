import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const root = join(__dirname, '..', '..');

describe('npm run synth -- --quiet', () => {
  it("prints only the CDK's one line per bundled function: no esbuild summary, feature-flag notice or SDK notice", async () => {
    const output = mkdtempSync(join(tmpdir(), 'synth-output-'));
    try {
      const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
      // The npm script, not this process (jest.config.js sets it for the tests), must keep the SDK quiet.
      delete env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED;
      const { stdout, stderr } = await promisify(execFile)(
        'npm',
        ['run', '--silent', 'synth', '--', '--quiet', '--output', output],
        { cwd: root, env, timeout: 300_000 },
      );
      const lines = `${stdout}${stderr}`.split('\n').filter((line) => line.trim() !== '');
      expect(lines.length).toBeGreaterThan(0);
      // CDK core writes this line itself for every asset it bundles, whatever the log level.
      expect(lines.filter((line) => !/^Bundling asset \S+\.\.\.$/.test(line))).toEqual([]);
    } finally {
      rmSync(output, { recursive: true, force: true });
    }
  }, 360_000);
});
