import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { freePort } from '../../local/emulators';

const root = join(__dirname, '..', '..');

/** The AWS SDK's words, under Node 20, for its releases after January 2027 needing Node 22. */
const NOTICE = /NodeVersionSupportWarning|will require node >=22/;

interface Run {
  readonly status: number | null;
  readonly output: string;
}

/** `npm run NAME -- ...args` in the project, as a person runs it, with stdout and stderr together. */
function npmRun(name: string, args: readonly string[], env: NodeJS.ProcessEnv): Promise<Run> {
  return new Promise((resolve) => {
    execFile('npm', ['run', '--silent', name, '--', ...args], { cwd: root, env }, (error, stdout, stderr) => {
      const status = error === null ? 0 : typeof error.code === 'number' ? error.code : null;
      resolve({ status, output: `${stdout}${stderr}` });
    });
  });
}

describe('the npm scripts under Node 20', () => {
  it('print no AWS SDK notice about Node 22 from a command that makes SDK clients', async () => {
    // The setting comes from the script, not from this process (jest.config.js sets it for the tests).
    const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
    delete env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED;
    const nowhere = `http://127.0.0.1:${await freePort()}`;
    // batch:local makes its S3 and DynamoDB clients, then fails at once on the first request to a closed port.
    const run = await npmRun(
      'batch:local',
      ['--url', nowhere, '--s3-endpoint', nowhere, '--dynamodb-endpoint', nowhere],
      env,
    );
    expect(run.output).toContain(`S3 endpoint ${nowhere} is unreachable`);
    expect(run.status).toBe(1);
    expect(run.output).not.toMatch(NOTICE);
  }, 120_000);
});
