/**
 * The command line of every tool run through npm scripts (`npm start`, `npm run simulate`, `replay`, `rebuild`,
 * `batch:local`, `bench`, `deploy:local`): one table of options (type, default, description) gives both the
 * `--help` text and the one-line error for an unknown or malformed flag, on top of node:util's parseArgs.
 *
 * `--help` (`-h`) prints the usage on stdout and exits 0; a mistake prints one line on stderr, such as
 * `npm run simulate: unknown option --rat (known: --url, --rate, ...)`, and exits 2. Neither prints a stack trace.
 */
import { parseArgs } from 'node:util';

export interface OptionSpec {
  readonly type: 'string' | 'boolean';
  readonly description: string;
  /** The value when the flag is absent (booleans default to false, `multiple` options to []). */
  readonly default?: string | boolean;
  /** How the usage shows the default, when the value itself would mislead (read from the environment, a secret). */
  readonly defaultText?: string;
  /** The placeholder of a string option's value in the usage, e.g. URL; VALUE when absent. */
  readonly value?: string;
  readonly short?: string;
  readonly multiple?: boolean;
  /** A deprecated alias of another option: still accepted, listed as deprecated, and its value goes to that option. */
  readonly aliasOf?: string;
}

export interface CommandSpec<O extends Record<string, OptionSpec>> {
  /** How it is run, e.g. `npm run simulate`: the usage and every error line start with it. */
  readonly command: string;
  /** What it does, in a sentence or two. */
  readonly summary: string;
  readonly options: O;
  /** Positional arguments it takes, e.g. `[NAME ...]`; without it, a positional argument is an error. */
  readonly positionals?: { readonly usage: string; readonly description: string };
  /** Lines printed after the options (examples, environment variables). */
  readonly notes?: readonly string[];
}

type ValueOf<S> = S extends { readonly multiple: true }
  ? string[]
  : S extends { readonly type: 'boolean' }
    ? boolean
    : S extends { readonly default: string }
      ? string
      : string | undefined;

export type CommandValues<O extends Record<string, OptionSpec>> = { -readonly [K in keyof O]: ValueOf<O[K]> };

export interface ParsedCommandLine<O extends Record<string, OptionSpec>> {
  /** `--help` or `-h` was given: print usage(spec) and stop. */
  readonly help: boolean;
  readonly values: CommandValues<O>;
  readonly positionals: string[];
  /** The deprecated aliases that were used, as `--old is deprecated: use --new` lines. */
  readonly deprecations: string[];
}

/** A mistake on the command line; its message is the one line to print. */
export class CommandLineError extends Error {
  override readonly name = 'CommandLineError';
}

/** Declares a command; `const` keeps each option's type literal, so the parsed values are typed. */
export function defineCommand<const O extends Record<string, OptionSpec>>(spec: CommandSpec<O>): CommandSpec<O> {
  return spec;
}

const HELP: OptionSpec = { type: 'boolean', short: 'h', description: 'print this help and exit' };

function allOptions(spec: CommandSpec<Record<string, OptionSpec>>): Record<string, OptionSpec> {
  return { ...spec.options, help: HELP };
}

function flag(name: string, option: OptionSpec): string {
  const long = `--${name}${option.type === 'string' ? ` ${option.value ?? 'VALUE'}` : ''}`;
  return option.short === undefined ? `    ${long}` : `-${option.short}, ${long}`;
}

function defaultOf(option: OptionSpec): string | undefined {
  if (option.defaultText !== undefined) return option.defaultText;
  if (option.type === 'string' && typeof option.default === 'string') return option.default;
  return undefined;
}

/** The `--help` text: how to run it, what it does, and each flag with its default. */
export function usage(spec: CommandSpec<Record<string, OptionSpec>>): string {
  const options = allOptions(spec);
  const flags = Object.entries(options).map(([name, option]) => flag(name, option));
  const width = Math.max(...flags.map((text) => text.length), spec.positionals?.usage.length ?? 0) + 2;
  const lines = [
    `Usage: ${spec.command} -- [options]${spec.positionals === undefined ? '' : ` ${spec.positionals.usage}`}`,
    '',
    ...wrap(spec.summary, 100),
    '',
  ];
  if (spec.positionals !== undefined) {
    const [first, ...rest] = wrap(spec.positionals.description, Math.max(40, 100 - width - 2));
    lines.push(
      'Arguments:',
      `  ${spec.positionals.usage.padEnd(width)}${first}`,
      ...rest.map((line) => `${' '.repeat(width + 2)}${line}`),
      '',
    );
  }
  lines.push('Options:');
  Object.values(options).forEach((option, index) => {
    const fallback = defaultOf(option);
    const description = option.aliasOf === undefined ? option.description : `deprecated alias of --${option.aliasOf}`;
    const [first, ...rest] = wrap(
      `${description}${fallback === undefined ? '' : ` (default: ${fallback})`}`,
      Math.max(40, 100 - width - 2),
    );
    lines.push(`  ${flags[index].padEnd(width)}${first}`, ...rest.map((line) => `${' '.repeat(width + 2)}${line}`));
  });
  if (spec.notes !== undefined && spec.notes.length > 0) lines.push('', ...spec.notes);
  return `${lines.join('\n')}\n`;
}

function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/)) {
    if (line !== '' && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line === '' ? word : `${line} ${word}`;
  }
  return [...lines, line];
}

function knownFlags(options: Record<string, OptionSpec>): string {
  return Object.keys(options)
    .map((name) => `--${name}`)
    .join(', ');
}

/** node:util's message, cut to its first sentence and without quotes around the flag. */
function oneLine(message: string): string {
  const first = message.split(/\.\s|\n/)[0].replace(/\.$/, '');
  return first.charAt(0).toLowerCase() + first.slice(1);
}

/**
 * Parses argv against the spec. Throws CommandLineError, with a one-line message, for an unknown option, a missing
 * value, or a positional argument the command does not take. `--help` wins over every other mistake.
 */
export function parseCommandLine<O extends Record<string, OptionSpec>>(
  spec: CommandSpec<O>,
  argv: readonly string[],
): ParsedCommandLine<O> {
  const options = allOptions(spec);
  const config = Object.fromEntries(
    Object.entries(options).map(([name, option]) => [
      name,
      {
        type: option.type,
        ...(option.short === undefined ? {} : { short: option.short }),
        ...(option.multiple === true ? { multiple: true } : {}),
      },
    ]),
  );
  // A lenient pass first, to find --help and unknown options whatever else is wrong.
  const { tokens } = parseArgs({
    args: [...argv],
    options: config,
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  const given = tokens.filter((token) => token.kind === 'option');
  const help = given.some((token) => token.name === 'help');
  const unknown = given.find((token) => !(token.name in options));
  if (!help && unknown !== undefined) {
    const name = unknown.rawName.split('=')[0];
    throw new CommandLineError(`${spec.command}: unknown option ${name} (known: ${knownFlags(options)})`);
  }
  let parsed: { values: Record<string, string | boolean | (string | boolean)[] | undefined>; positionals: string[] };
  try {
    parsed = help
      ? { values: {}, positionals: [] }
      : parseArgs({ args: [...argv], options: config, strict: true, allowPositionals: spec.positionals !== undefined });
  } catch (error) {
    throw new CommandLineError(`${spec.command}: ${oneLine((error as Error).message)}`, { cause: error });
  }
  const values: Record<string, unknown> = {};
  const deprecations: string[] = [];
  for (const [name, option] of Object.entries(spec.options)) {
    const value = parsed.values[name];
    if (option.aliasOf !== undefined && value !== undefined) {
      deprecations.push(`${spec.command}: --${name} is deprecated: use --${option.aliasOf}`);
      // The new name wins when both are given.
      if (parsed.values[option.aliasOf] === undefined) parsed.values[option.aliasOf] = value;
    }
  }
  for (const [name, option] of Object.entries(spec.options)) {
    const value = parsed.values[name];
    if (option.aliasOf !== undefined) values[name] = undefined;
    else if (value !== undefined) values[name] = value;
    else if (option.multiple === true) values[name] = [];
    else if (option.default !== undefined) values[name] = option.default;
    else if (option.type === 'boolean') values[name] = false;
    else values[name] = undefined;
  }
  return { help, values: values as CommandValues<O>, positionals: parsed.positionals, deprecations };
}

/**
 * parseCommandLine for a tool's entry point: on `--help` prints the usage and exits 0; on a mistake prints its one
 * line on stderr and exits 2; otherwise notes any deprecated alias on stderr and returns what was parsed.
 */
export function readCommandLine<O extends Record<string, OptionSpec>>(
  spec: CommandSpec<O>,
  argv: readonly string[] = process.argv.slice(2),
): ParsedCommandLine<O> {
  let parsed: ParsedCommandLine<O>;
  try {
    parsed = parseCommandLine(spec, argv);
  } catch (error) {
    if (!(error instanceof CommandLineError)) throw error;
    process.stderr.write(`${error.message}\n`);
    process.exit(2);
  }
  if (parsed.help) {
    process.stdout.write(usage(spec));
    process.exit(0);
  }
  for (const line of parsed.deprecations) process.stderr.write(`${line}\n`);
  return parsed;
}
