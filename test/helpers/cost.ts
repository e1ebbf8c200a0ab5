// What one compile or demux of an input costs, measured in a fresh child process so that a
// hostile input's time and peak memory can be compared with a normal input's.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { Limits } from '../../src/limits.js';

const run = promisify(execFile);
const CHILD = fileURLToPath(new URL('./compile-cost-child.ts', import.meta.url));

export interface Cost {
  /** VvfError code, or OK. */
  code: string;
  /** Sources opened. */
  opens: number;
  ms: number;
  cpuMs: number;
  maxRssKb: number;
}

/** Compiles the recipe in `file` (kind recipe) or opens the movie at `file` (kind movie) in a child. */
export async function costOf(kind: 'recipe' | 'movie', file: string, limits: Partial<Limits> = {}): Promise<Cost> {
  const { stdout } = await run(process.execPath, ['--import', 'tsx', CHILD, kind, file, JSON.stringify(limits)], {
    maxBuffer: 1 << 20,
    timeout: 120_000,
  });
  return JSON.parse(stdout.trim().split('\n').pop()!) as Cost;
}
