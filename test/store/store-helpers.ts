// Shared pieces of the store tests: stored files made up of bytes, counting sources, a child process running TypeScript.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { Source } from '../../src/sources/source.js';
import type { StoredFile } from '../../src/store/metadata-store.js';

/** A stored file whose compiled bytes are `size` bytes of a pattern (stores do not look inside). */
export function madeUp(id: string, size: number, created = 1_700_000_000_000): StoredFile {
  const compiled = new Uint8Array(size);
  for (let i = 0; i < size; i++) compiled[i] = (i * 31 + id.length) & 0xff;
  return { id, recipe: { tracks: [`${id}.mp4`], start: '1/3' }, created, compiled };
}

/** Sources opened through `open`, counted: how many, how many at once, reads, bytes read, closes. */
export function countingOpener(open: (key: string) => Promise<Source>) {
  const opened: Source[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  let closes = 0;
  return {
    opened,
    reads: () => opened.reduce((n, s) => n + s.readCount, 0),
    bytesRead: () => opened.reduce((n, s) => n + s.bytesRead, 0),
    maxInFlight: () => maxInFlight,
    closes: () => closes,
    open: async (key: string): Promise<Source> => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      try {
        const s = await open(key);
        const counted: Source = {
          key: s.key,
          validator: s.validator,
          size: s.size,
          read: (offset, length) => s.read(offset, length),
          close: () => {
            closes++;
            return s.close();
          },
          get bytesRead() {
            return s.bytesRead;
          },
          get readCount() {
            return s.readCount;
          },
        };
        opened.push(counted);
        return counted;
      } finally {
        inFlight--;
      }
    },
  };
}

const PROJECT_ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** The absolute path of a project file, for a child process to import. */
export function projectFile(relative: string): string {
  return fileURLToPath(new URL(relative, new URL('../../', import.meta.url)));
}

/**
 * Runs `code` (an ES module body, TypeScript imports allowed through tsx) in a new node
 * process, with `args` as process.argv[1…]; returns what it printed on stdout, parsed as JSON.
 */
export async function runChild(code: string, args: string[]): Promise<unknown> {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['--import', 'tsx', '--input-type=module', '-e', code, ...args],
    { cwd: PROJECT_ROOT, timeout: 60_000 },
  );
  return JSON.parse(stdout) as unknown;
}
