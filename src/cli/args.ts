import { parseArgs } from 'node:util';
import { VvfError } from '../errors.js';

export type Options = NonNullable<NonNullable<Parameters<typeof parseArgs>[0]>['options']>;
export type Parsed<T extends Options> = ReturnType<
  typeof parseArgs<{ args: string[]; options: T; allowPositionals: true; strict: true }>
>;

/**
 * Thrown by {@link parse} once it has printed a verb's usage for `--help`/`-h`: the
 * command stops there and vvf exits 0.
 */
export class HelpShown extends Error {
  constructor(readonly verb: string) {
    super(`help for ${verb} shown`);
    this.name = 'HelpShown';
  }
}

/**
 * node:util parseArgs, strict, for the verb `verb` whose usage (as listed by `vvf help`)
 * is `usage`. `--help`/`-h` prints that usage and throws {@link HelpShown}; an unknown
 * option or a missing value is a USAGE error naming the verb and its options, not
 * parseArgs' own wording.
 */
export function parse<T extends Options>(args: string[], options: T, verb: string, usage: string): Parsed<T> {
  const end = args.indexOf('--');
  if ((end < 0 ? args : args.slice(0, end)).some((a) => a === '--help' || a === '-h')) {
    process.stdout.write(`${verbHelp(usage)}\n`);
    throw new HelpShown(verb);
  }
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true as const });
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    const code = (e as { code?: string }).code;
    const valid = `valid options: ${[...Object.entries(options).map(([name, o]) => optionName(name, o)), '-h/--help'].join(', ')}`;
    if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
      const option = /option '([^']*)'/i.exec(message)?.[1] ?? message;
      throw new VvfError('USAGE', `vvf ${verb}: unknown option ${option}; ${valid}`);
    }
    if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
      const name = /'(?:-\w, )?(--[\w-]+)/.exec(message)?.[1];
      const option = name ? Object.entries(options).find(([n]) => `--${n}` === name) : undefined;
      const what = option ? optionName(option[0], option[1]) : (name ?? message);
      throw new VvfError('USAGE', `vvf ${verb}: ${what} ${option?.[1].type === 'boolean' ? 'takes no value' : 'needs a value'}`);
    }
    throw new VvfError('USAGE', `vvf ${verb}: ${message}`);
  }
}

/** `-o/--output <value>` or `--json`, as the option list of an error shows it. */
function optionName(name: string, o: Options[string]): string {
  return `${o.short ? `-${o.short}/` : ''}--${name}${o.type === 'string' ? ' <value>' : ''}`;
}

/** A verb's usage as `vvf <verb> --help` prints it: the lines of `vvf help`, without their indent. */
function verbHelp(usage: string): string {
  const lines = usage.split('\n');
  // The first line may hold the description too, after a run of spaces.
  const [synopsis, description] = (lines[0] ?? '').trim().split(/ {2,}/, 2);
  return [
    `usage: vvf ${synopsis}`,
    ...(description ? [`${' '.repeat(38)}${description}`] : []),
    ...lines.slice(1).map((l) => l.replace(/^ {2}/, '')),
    `${'    -h, --help'.padEnd(38)}this help`,
  ].join('\n');
}

export function onePositional(positionals: string[], usage: string): string {
  if (positionals.length !== 1 || positionals[0] === undefined) throw new VvfError('USAGE', `expected: vvf ${usage}`);
  return positionals[0];
}

/**
 * A time as ffmpeg takes it: seconds ("90", "12.5"), "MM:SS(.mmm)" or "HH:MM:SS(.mmm)",
 * returned as an exact decimal string of seconds.
 */
export function parseTime(text: string): string {
  const m = /^(?:(?:(\d+):)?(\d+):)?(\d+)(?:\.(\d+))?$/.exec(text.trim());
  if (!m) throw new VvfError('USAGE', `invalid time "${text}" (seconds, MM:SS or HH:MM:SS, with optional .fraction)`);
  const seconds = BigInt(m[1] ?? 0) * 3600n + BigInt(m[2] ?? 0) * 60n + BigInt(m[3] ?? 0);
  return m[4] ? `${seconds}.${m[4]}` : `${seconds}`;
}

/** `START-END`, `START-` or `-END` into start and end times. */
export function parseClip(text: string): { start?: string; end?: string } {
  const m = /^([^-]*)-([^-]*)$/.exec(text);
  if (!m || (m[1] === '' && m[2] === '')) throw new VvfError('USAGE', `invalid --clip "${text}" (START-END, START- or -END)`);
  const out: { start?: string; end?: string } = {};
  if (m[1]) out.start = parseTime(m[1]);
  if (m[2]) out.end = parseTime(m[2]);
  return out;
}
