// A top level of a million tiny boxes (vvf issue 11, C.6): an 8 MB file of 999 000 empty
// `free` boxes once took 55 s to inspect (a source read per box header), and 2 M boxes
// 46 s before STRUCTURE_LIMIT. The scan reads runs of small boxes in growing blocks.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { ensureFixtures } from '../../scripts/fixtures.js';
import { openMovie } from '../../src/demux/open-movie.js';
import { VvfError } from '../../src/errors.js';
import type { Movie } from '../../src/model/movie.js';
import { MemorySource } from '../../src/sources/memory-source.js';

/** The MP4 with `count` empty free boxes after its ftyp. */
function flooded(mp4: Uint8Array, count: number): Uint8Array {
  const ftypSize = Buffer.from(mp4).readUInt32BE(0);
  const free = Buffer.alloc(8 * count);
  for (let i = 0; i < count; i++) {
    free.writeUInt32BE(8, i * 8);
    free.write('free', i * 8 + 4, 'latin1');
  }
  return new Uint8Array(Buffer.concat([mp4.subarray(0, ftypSize), free, mp4.subarray(ftypSize)]));
}

/** Opens bytes from memory; the CPU time it took (other processes' load does not count) and the reads. */
async function timedOpen(bytes: Uint8Array): Promise<{ ms: number; reads: number; movie?: Movie; error?: unknown }> {
  const source = new MemorySource(bytes, 'flood.mp4');
  const before = process.cpuUsage();
  let movie: Movie | undefined;
  let error: unknown;
  try {
    movie = await openMovie('flood.mp4', { openSource: async () => source });
  } catch (e) {
    error = e;
  }
  const used = process.cpuUsage(before);
  return {
    ms: (used.user + used.system) / 1000,
    reads: source.readCount,
    ...(movie ? { movie } : {}),
    ...(error ? { error } : {}),
  };
}

test('a million empty boxes at the top level are scanned quickly, two million refused quickly', async () => {
  const f = (await ensureFixtures()).find((x) => x.name === 'h264-aac-faststart');
  assert.ok(f);
  const mp4 = new Uint8Array(readFileSync(f.input));
  // The normal input, warmed up: the best of three.
  let normal = Number.POSITIVE_INFINITY;
  let reference: Movie | undefined;
  for (let i = 0; i < 3; i++) {
    const r = await timedOpen(mp4);
    normal = Math.min(normal, r.ms);
    reference = r.movie;
  }
  assert.ok(reference);

  const million = await timedOpen(flooded(mp4, 999_000));
  assert.equal(million.error, undefined);
  assert.deepEqual(
    million.movie?.tracks.map((t) => t.samples.count),
    reference.tracks.map((t) => t.samples.count),
  );
  // Runs of tiny boxes are read in blocks: a few dozen reads, not one per box.
  assert.ok(million.reads < 100, `${million.reads} reads`);

  const twoMillion = await timedOpen(flooded(mp4, 2_000_000));
  assert.ok(twoMillion.error instanceof VvfError && twoMillion.error.code === 'STRUCTURE_LIMIT', String(twoMillion.error));

  // Measured about 150-250 ms of CPU each against about 10 ms for the file alone (it was 55 s).
  // The bound leaves room for a loaded machine while staying far below per-box reads.
  const bound = Math.min(2000, 1000 + 100 * normal);
  console.log(
    `normal ${normal.toFixed(0)} ms, 1M boxes ${million.ms.toFixed(0)} ms, 2M boxes ${twoMillion.ms.toFixed(0)} ms (CPU)`,
  );
  assert.ok(million.ms < bound, `1M boxes took ${million.ms} ms of CPU (bound ${bound})`);
  assert.ok(twoMillion.ms < bound, `2M boxes took ${twoMillion.ms} ms of CPU before the limit (bound ${bound})`);
});
