import { readFileSync } from 'node:fs';
import { VvfError } from '../errors.js';

/** How one group of settings is read: their environment names and which are numbers or lists. */
export interface SettingsSpec<T> {
  /** Environment variable → setting. */
  env: Record<string, keyof T>;
  /** Settings that are non-negative integers. */
  numbers: ReadonlySet<keyof T>;
  /** Settings that are lists (comma-separated in the environment). */
  lists: ReadonlySet<keyof T>;
  /** Settings without a default that a config file may still hold. */
  optional: ReadonlySet<keyof T>;
  /** Settings that take one of a few words. */
  choices?: Partial<Record<keyof T, readonly string[]>>;
}

/** Two specs as one, for a face whose settings extend the catalog's. */
export function mergeSpecs<A, B>(a: SettingsSpec<A>, b: SettingsSpec<B>): SettingsSpec<A & B> {
  return {
    env: { ...a.env, ...b.env } as Record<string, keyof (A & B)>,
    numbers: new Set<keyof (A & B)>([...a.numbers, ...b.numbers] as (keyof (A & B))[]),
    lists: new Set<keyof (A & B)>([...a.lists, ...b.lists] as (keyof (A & B))[]),
    optional: new Set<keyof (A & B)>([...a.optional, ...b.optional] as (keyof (A & B))[]),
    choices: { ...a.choices, ...b.choices } as Partial<Record<keyof (A & B), readonly string[]>>,
  };
}

function coerce<T>(spec: SettingsSpec<T>, key: keyof T, value: unknown, where: string): unknown {
  if (spec.numbers.has(key)) {
    const n = typeof value === 'number' ? value : Number(value);
    if (!Number.isInteger(n) || n < 0) throw new VvfError('USAGE', `${where}: ${String(key)} must be a non-negative integer`);
    return n;
  }
  if (spec.lists.has(key)) {
    if (Array.isArray(value) && value.every((v) => typeof v === 'string')) return value;
    if (typeof value === 'string') return value.split(',').filter((s) => s !== '');
    throw new VvfError('USAGE', `${where}: ${String(key)} must be a list of strings`);
  }
  if (typeof value !== 'string') throw new VvfError('USAGE', `${where}: ${String(key)} must be a string`);
  const choices = spec.choices?.[key];
  if (choices && !choices.includes(value))
    throw new VvfError('USAGE', `${where}: ${String(key)} must be ${choices.map((c) => `"${c}"`).join(' or ')}`);
  return value;
}

/**
 * Settings: the defaults, then the JSON config file, then environment variables, then
 * flags — later ones win.
 */
export function loadSettings<T extends object>(
  defaults: Readonly<T>,
  spec: SettingsSpec<T>,
  opts: { file?: string; env?: NodeJS.ProcessEnv; flags?: Partial<T> },
): T {
  const config: Record<string, unknown> = { ...defaults };
  if (opts.file) {
    let json: unknown;
    try {
      json = JSON.parse(readFileSync(opts.file, 'utf8'));
    } catch (e) {
      throw new VvfError('USAGE', `cannot read config ${opts.file}: ${(e as Error).message}`);
    }
    if (typeof json !== 'object' || json === null || Array.isArray(json))
      throw new VvfError('USAGE', `config ${opts.file} must be a JSON object`);
    for (const [k, v] of Object.entries(json)) {
      if (!(k in defaults) && !spec.optional.has(k as keyof T))
        throw new VvfError('USAGE', `config ${opts.file}: unknown setting "${k}"`);
      config[k] = coerce(spec, k as keyof T, v, opts.file);
    }
  }
  for (const [name, key] of Object.entries(spec.env)) {
    const v = opts.env?.[name];
    if (v !== undefined && v !== '') config[key as string] = coerce(spec, key as keyof T, v, name);
  }
  for (const [k, v] of Object.entries(opts.flags ?? {})) {
    if (v !== undefined) config[k] = coerce(spec, k as keyof T, v, `--${k}`);
  }
  return config as T;
}
