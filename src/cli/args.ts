import { parseArgs } from 'node:util';
import { VvfError } from '../errors.js';

export type Options = NonNullable<NonNullable<Parameters<typeof parseArgs>[0]>['options']>;
export type Parsed<T extends Options> = ReturnType<
  typeof parseArgs<{ args: string[]; options: T; allowPositionals: true; strict: true }>
>;

/** node:util parseArgs, strict, with its errors as USAGE errors. */
export function parse<T extends Options>(args: string[], options: T): Parsed<T> {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true as const });
  } catch (e) {
    throw new VvfError('USAGE', e instanceof Error ? e.message : String(e));
  }
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
