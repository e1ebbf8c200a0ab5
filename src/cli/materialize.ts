import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { VirtualFile } from '../virtual/virtual-file.js';
import { bytes } from './format.js';

/**
 * Writes a virtual file to disk with bounded memory (a stream of 1 MiB reads) into a
 * temporary name renamed into place, so a failure never leaves a truncated output.
 * Shows progress on stderr when it is a terminal.
 */
export async function materialize(file: VirtualFile, out: string, opts: { progress?: boolean } = {}): Promise<void> {
  const tmp = `${out}.vvf-partial`;
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
  const count = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      done += chunk.length;
      draw(false);
      cb(null, chunk);
    },
  });
  try {
    await pipeline(file.stream(0, file.size), count, createWriteStream(tmp));
    await rename(tmp, out);
    draw(true);
  } catch (e) {
    await rm(tmp, { force: true });
    if (show) process.stderr.write('\n');
    throw e;
  }
}
