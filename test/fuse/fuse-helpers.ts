// Helpers of the FUSE tests: bounded runs of real programs, mount checks, catalogs of fakes.
// The test process often serves the mount it reads: every program runs asynchronously
// (a synchronous spawn would block the thread that answers its requests) and with a timeout.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { CatalogEntry, CatalogFile, CatalogView } from '../../src/fuse/tree.js';

export interface RunResult {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs a program, killed after `timeoutMs`; never throws for a failing exit. */
export function run(program: string, args: string[], timeoutMs = 10_000): Promise<RunResult> {
  const started = performance.now();
  return new Promise((resolve) => {
    execFile(program, args, { timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 64 << 20 }, (error, stdout, stderr) => {
      const e = error as (Error & { code?: number | string; signal?: string }) | null;
      resolve({
        code: e === null ? 0 : typeof e.code === 'number' ? e.code : null,
        signal: e?.signal ?? null,
        stdout: String(stdout),
        stderr: String(stderr),
        ms: performance.now() - started,
      });
    });
  });
}

/** Whether `dir` is a mount point now (any filesystem), from /proc/self/mountinfo. */
export function isMounted(dir: string): boolean {
  const escaped = dir.replace(/[ \t\n\\]/g, (c) => `\\${c.charCodeAt(0).toString(8).padStart(3, '0')}`);
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .some((line) => line.split(' ')[4] === escaped);
}

/** Lazily unmounts whatever is on `dir` (a failing test must never leave a hung mount). */
export async function forceUnmount(dir: string): Promise<void> {
  for (let i = 0; i < 5 && isMounted(dir); i++) await run('umount', ['-l', dir], 5000);
}

/** Bytes that differ at every position (a byte counter would repeat every 256 bytes). */
export function pattern(n: number, seed: number): Buffer {
  const b = Buffer.allocUnsafe(n + 3);
  for (let i = 0; i < n; i += 4) b.writeUInt32BE((Math.imul(i + 1, 2654435761) ^ seed) >>> 0, i);
  return b.subarray(0, n);
}

/** A catalog file over bytes in memory, read in pieces of up to 256 KiB. */
export function memoryFile(data: Buffer, etag: string): CatalogFile {
  return {
    size: data.length,
    etag,
    async readPieces(offset: number, length: number) {
      const out: Uint8Array[] = [];
      for (let at = offset; at < offset + length; at += 256 << 10)
        out.push(data.subarray(at, Math.min(offset + length, at + (256 << 10))));
      return out;
    },
  };
}

/** A catalog file whose reads at or past `failAt` throw (a source that breaks mid-file). */
export function failingFile(data: Buffer, etag: string, failAt: number): CatalogFile {
  const inner = memoryFile(data, etag);
  return {
    ...inner,
    async readPieces(offset: number, length: number) {
      if (offset + length > failAt) throw new Error('source broke');
      return inner.readPieces(offset, length);
    },
  };
}

/** A catalog file whose reads never finish (a source that stopped answering). */
export function hangingFile(size: number, etag: string): CatalogFile {
  return { size, etag, readPieces: () => new Promise<Uint8Array[]>(() => undefined) };
}

/** A mutable in-memory catalog. */
export class MemoryCatalog implements CatalogView {
  readonly entries = new Map<string, CatalogEntry>();
  lists = 0;
  /** Ids the mount asked to compile again (a read found a source changed). */
  readonly invalidated: string[] = [];
  invalidate(entry: CatalogEntry): void {
    this.invalidated.push(entry.id);
  }
  add(id: string, name: string, file: CatalogFile, recipe: unknown = { id }): CatalogEntry {
    const e: CatalogEntry = { id, name, file, created: new Date(Date.UTC(2024, 0, 2, 3, 4, 5)), recipe };
    this.entries.set(id, e);
    return e;
  }
  delete(id: string): void {
    this.entries.delete(id);
  }
  async list(): Promise<CatalogEntry[]> {
    this.lists++;
    return [...this.entries.values()];
  }
  async get(id: string): Promise<CatalogEntry | undefined> {
    return this.entries.get(id);
  }
}
