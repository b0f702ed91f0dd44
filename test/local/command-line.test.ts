import {
  CommandLineError,
  defineCommand,
  parseCommandLine,
  usage,
  type CommandSpec,
  type OptionSpec,
} from '../../local/command-line';
import { runTsxScript, type ScriptRun } from '../support/tsx-script';

const EXAMPLE = defineCommand({
  command: 'npm run example',
  summary: 'Does an example thing.',
  options: {
    url: { type: 'string', value: 'URL', default: 'http://127.0.0.1:3000', description: 'the API address' },
    api: { type: 'string', value: 'URL', aliasOf: 'url', description: 'deprecated alias of --url' },
    rate: { type: 'string', value: 'N', default: '50', description: 'events per second' },
    key: { type: 'string', defaultText: '$API_KEY', description: 'the key' },
    verbose: { type: 'boolean', description: 'more output' },
    context: { type: 'string', short: 'c', multiple: true, description: 'repeatable' },
  },
});

function mistake(spec: CommandSpec<Record<string, OptionSpec>>, argv: string[]): string {
  try {
    parseCommandLine(spec, argv);
  } catch (error) {
    expect(error).toBeInstanceOf(CommandLineError);
    return (error as Error).message;
  }
  throw new Error(`expected ${argv.join(' ')} to be refused`);
}

describe('command-line: one options table for the usage and the errors', () => {
  it('prints how to run the command, what it does, and every flag with its default', () => {
    const text = usage(EXAMPLE);
    expect(text).toBe(
      [
        'Usage: npm run example -- [options]',
        '',
        'Does an example thing.',
        '',
        'Options:',
        '      --url URL        the API address (default: http://127.0.0.1:3000)',
        '      --api URL        deprecated alias of --url',
        '      --rate N         events per second (default: 50)',
        '      --key VALUE      the key (default: $API_KEY)',
        '      --verbose        more output',
        '  -c, --context VALUE  repeatable',
        '  -h, --help           print this help and exit',
        '',
      ].join('\n'),
    );
  });

  it('fills in defaults and parses the flags given', () => {
    const parsed = parseCommandLine(EXAMPLE, ['--rate', '7', '--verbose', '-c', 'a=1', '--context=b=2']);
    expect(parsed.help).toBe(false);
    expect(parsed.values).toEqual({
      url: 'http://127.0.0.1:3000',
      api: undefined,
      rate: '7',
      key: undefined,
      verbose: true,
      context: ['a=1', 'b=2'],
    });
    expect(parsed.deprecations).toEqual([]);
  });

  it('takes a deprecated alias as the option it stands for, noting it, and the new name wins', () => {
    const alias = parseCommandLine(EXAMPLE, ['--api', 'http://x']);
    expect(alias.values.url).toBe('http://x');
    expect(alias.deprecations).toEqual(['npm run example: --api is deprecated: use --url']);
    expect(parseCommandLine(EXAMPLE, ['--api', 'http://x', '--url', 'http://y']).values.url).toBe('http://y');
  });

  it('recognises --help and -h, even beside a mistake', () => {
    expect(parseCommandLine(EXAMPLE, ['--help']).help).toBe(true);
    expect(parseCommandLine(EXAMPLE, ['-h']).help).toBe(true);
    expect(parseCommandLine(EXAMPLE, ['--bogus', '--help']).help).toBe(true);
  });

  it('refuses an unknown flag in one line that names it and the known ones', () => {
    const known = '(known: --url, --api, --rate, --key, --verbose, --context, --help)';
    expect(mistake(EXAMPLE, ['--rat', '5'])).toBe(`npm run example: unknown option --rat ${known}`);
    expect(mistake(EXAMPLE, ['--rat=5'])).toBe(`npm run example: unknown option --rat ${known}`);
    expect(mistake(EXAMPLE, ['-x'])).toBe(`npm run example: unknown option -x ${known}`);
  });

  it('refuses a missing value and a positional argument in one line', () => {
    expect(mistake(EXAMPLE, ['--url'])).toBe("npm run example: option '--url <value>' argument missing");
    expect(mistake(EXAMPLE, ['stray'])).toBe("npm run example: unexpected argument 'stray'");
  });

  it('takes positional arguments when the command declares them, and lists them in the usage', () => {
    const spec = defineCommand({
      command: 'npm run bench',
      summary: 'Runs benchmarks.',
      options: {},
      positionals: { usage: '[NAME ...]', description: 'the benchmarks to run' },
    });
    expect(parseCommandLine(spec, ['fold', '--', '--odd']).positionals).toEqual(['fold', '--odd']);
    expect(usage(spec)).toContain('Usage: npm run bench -- [options] [NAME ...]');
    expect(usage(spec)).toContain('  [NAME ...]  the benchmarks to run');
  });
});

const TOOLS: [command: string, script: string, someFlag: string][] = [
  ['npm start', 'local/start.ts', '--port'],
  ['npm run simulate', 'local/simulate.ts', '--rate'],
  ['npm run replay', 'local/replay.ts', '--view'],
  ['npm run rebuild', 'local/rebuild.ts', '--stack'],
  ['npm run batch:local', 'local/batch-local.ts', '--s3-endpoint'],
  ['npm run bench', 'bench/run.ts', '--help'],
  ['npm run deploy:local', 'localstack/deploy-local.ts', '--stack-name'],
];

describe.each(TOOLS)('%s (%s)', (command, script, someFlag) => {
  // Both runs of a tool at once: the two cores are shared, but tsx mostly waits on its compile cache.
  let help: ScriptRun;
  let bogus: ScriptRun;
  beforeAll(async () => {
    [help, bogus] = await Promise.all([runTsxScript(script, ['--help']), runTsxScript(script, ['--bogus', '1'])]);
  }, 60_000);

  it('prints its usage on stdout for --help and exits 0', () => {
    expect({ status: help.status, stderr: help.stderr }).toEqual({ status: 0, stderr: '' });
    expect(help.stdout.startsWith(`Usage: ${command} -- [options]`)).toBe(true);
    expect(help.stdout).toContain(someFlag);
    expect(help.stdout).toContain('-h, --help');
  });

  it('refuses an unknown flag with exactly one stderr line naming it and the known ones, status 2', () => {
    expect(bogus.status).toBe(2);
    expect(bogus.stdout).toBe('');
    const lines = bogus.stderr.split('\n').filter((line) => line !== '');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`^${command}: unknown option --bogus \\(known: .*${someFlag}.*\\)$`));
  });
});

it('npm run batch:local takes --api as a deprecated alias of --url, documented in its usage', async () => {
  const { stdout } = await runTsxScript('local/batch-local.ts', ['-h']);
  expect(stdout).toMatch(/--url URL +the API address of a running `npm start`/);
  expect(stdout).toMatch(/--api URL +deprecated alias of --url/);
});
