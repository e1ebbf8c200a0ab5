import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { type FileHandle, open, rename, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { VvfError } from '../errors.js';
import type { VirtualFile } from '../virtual/virtual-file.js';
import { bytes } from './format.js';

/**
 * Writes a virtual file with bounded memory (a stream of 1 MiB reads). `-` is stdout.
 * A regular file (or a new one) is written to a temporary file of its own, created
 * exclusively next to it, synced and renamed into place: a failure never leaves a
 * truncated output, a symlink planted at a predictable name is never followed, and two
 * writers of one output each rename a whole file. Anything else that exists (/dev/null,
 * a FIFO) is written in place: renaming over it would replace it. Shows progress on
 * stderr when that is a terminal.
 */
export async function materialize(file: VirtualFile, out: string, opts: { progress?: boolean } = {}): Promise<void> {
  const started = Date.now();
  let done = 0;
  let lastDraw = 0;
  const show = opts.progress ?? process.stderr.isTTY === true;
  const draw = (final: boolean) => {
    const now = Date.now();
    if (!show || (!final && now - lastDraw < 100)) return;
    lastDraw = now;
    const pct = file.size > 0 ? (100 * done) / file.size : 100;
    const width = 30;
    const filled = Math.round((pct / 100) * width);
    const rate = done / Math.max(0.001, (now - started) / 1000);
    process.stderr.write(
      `\r[${'#'.repeat(filled)}${' '.repeat(width - filled)}] ${pct.toFixed(1)}% ${bytes(done)} of ${bytes(file.size)}, ${bytes(rate)}/s  `,
    );
    if (final) process.stderr.write('\n');
  };
  const fail = (e: unknown): never => {
    if (show) process.stderr.write('\n');
    // The sink's own failures (a full disk) in one line; the source's are VvfErrors already.
    if (!(e instanceof VvfError) && (e as NodeJS.ErrnoException).syscall !== undefined)
      throw outputError(out, e as NodeJS.ErrnoException);
    throw e;
  };
  // Into a descriptor the caller opened and will close (and sync).
  const copyToHandle = async (handle: FileHandle) => {
    try {
      for await (const chunk of file.stream(0, file.size) as AsyncIterable<Uint8Array>) {
        for (let at = 0; at < chunk.length; ) at += (await handle.write(chunk, at, chunk.length - at)).bytesWritten;
        done += chunk.length;
        draw(false);
      }
    } catch (e) {
      fail(e);
    }
    draw(true);
  };
  if (out === '-') {
    if (process.stdout.isTTY)
      throw new VvfError('USAGE', 'refusing to write an MP4 to a terminal: redirect stdout, or give -o <file>');
    // stdout stays open: the process writes its exit status after.
    const count = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        done += chunk.length;
        draw(false);
        cb(null, chunk);
      },
    });
    await pipeline(file.stream(0, file.size), count, process.stdout, { end: false }).catch(fail);
    draw(true);
    return;
  }

  const existing = await stat(out).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT' || e.code === 'ENOTDIR') return undefined;
    throw outputError(out, e);
  });
  if (existing?.isDirectory()) throw new VvfError('USAGE', `-o ${out} is a directory`);
  if (existing && !existing.isFile()) {
    // A device or a FIFO: write into it (no O_CREAT, no truncation of what is not a file).
    const handle = await open(out, constants.O_WRONLY).catch((e: NodeJS.ErrnoException) => {
      throw outputError(out, e);
    });
    try {
      await copyToHandle(handle);
    } finally {
      await handle.close();
    }
    return;
  }

  const dir = dirname(out);
  const tmp = join(dir, `.${basename(out)}.${randomBytes(6).toString('hex')}.vvf-partial`);
  // O_EXCL: a new file or nothing; with O_CREAT it also refuses to follow a symlink there.
  const handle = await open(
    tmp,
    constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL,
    existing ? existing.mode & 0o7777 : 0o666,
  ).catch((e: NodeJS.ErrnoException) => {
    throw outputError(out, e);
  });
  let renamed = false;
  try {
    await copyToHandle(handle);
    // On disk before the rename, so a crash leaves the old file or the whole new one.
    await handle.sync();
    await closeOnce(handle);
    await rename(tmp, out).catch((e: NodeJS.ErrnoException) => {
      throw outputError(out, e);
    });
    renamed = true;
    await syncDirectory(dir);
  } finally {
    await closeOnce(handle);
    if (!renamed) await unlink(tmp).catch(() => undefined);
  }
}

const closed = new WeakSet<FileHandle>();
async function closeOnce(handle: FileHandle): Promise<void> {
  if (closed.has(handle)) return;
  closed.add(handle);
  await handle.close();
}

/** Makes the rename durable; not every filesystem can sync a directory, and that is no failure. */
async function syncDirectory(dir: string): Promise<void> {
  const d = await open(dir, constants.O_RDONLY).catch(() => undefined);
  if (!d) return;
  await d.sync().catch(() => undefined);
  await d.close();
}

/** One line for an output that cannot be written: exit status 1, like a source that cannot be read. */
function outputError(out: string, e: NodeJS.ErrnoException): VvfError {
  const why =
    e.code === 'ENOENT' || e.code === 'ENOTDIR'
      ? `the directory ${dirname(out)} does not exist`
      : e.code === 'EACCES' || e.code === 'EPERM'
        ? 'permission denied'
        : e.code === 'ENOSPC'
          ? 'no space left on the device'
          : (e.code ?? e.message);
  return new VvfError('OUTPUT_UNWRITABLE', `cannot write ${out}: ${why}`);
}
