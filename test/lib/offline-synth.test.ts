import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = join(__dirname, '..', '..');

/**
 * `cdk synth` of both targets and both architectures, in a child process whose proxy points nowhere: any attempt
 * to reach the network (a Docker pull, an npm install during bundling) fails the synth.
 */
describe('cdk synth with no network access', () => {
  it.each([
    ['the AWS target', []],
    ['the emulator target', ['-c', 'target=local']],
    ['Kappa mode', ['-c', 'pipeline={"architecture":"kappa"}']],
  ])('succeeds for %s', (_name, context) => {
    const output = mkdtempSync(join(tmpdir(), 'synth-'));
    try {
      execFileSync(join(root, 'node_modules', '.bin', 'cdk'), ['synth', '--quiet', '--output', output, ...context], {
        cwd: root,
        env: {
          ...process.env,
          HTTP_PROXY: 'http://127.0.0.1:9',
          HTTPS_PROXY: 'http://127.0.0.1:9',
          NO_PROXY: '',
          npm_config_offline: 'true',
        },
        stdio: 'pipe',
        timeout: 120_000,
      });
      expect(readdirSync(output)).toContain('manifest.json');
    } finally {
      rmSync(output, { recursive: true, force: true });
    }
  });
});
