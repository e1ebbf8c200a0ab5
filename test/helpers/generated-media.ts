// Media the encode tests generate with ffmpeg, made once into the cache (<cache>/encode/) and reused.
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Where generated media is kept between runs. */
export const GENERATED = join(process.env.VVF_CACHE_DIR ?? join(import.meta.dirname, '../../.cache'), 'encode');

/** `name` made by ffmpeg with `args` (inputs and options; the output is appended), once. */
export async function generated(name: string, args: string[]): Promise<string> {
  mkdirSync(GENERATED, { recursive: true });
  const file = join(GENERATED, name);
  if (!existsSync(file)) {
    // Written aside and renamed: a test stopped half-way never leaves a broken file to reuse.
    const tmp = `${file}.${process.pid}.tmp.mp4`;
    await run('ffmpeg', ['-v', 'error', '-y', ...args, tmp]);
    renameSync(tmp, file);
  }
  return file;
}
