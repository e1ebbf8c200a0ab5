// Reading a presentation's metadata touches box headers, moov, sidx and moof only:
// a tiny fraction of its bytes, and never a byte of mdat.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ensureFixtures } from '../../scripts/fixtures.js';
import { READ_AHEAD, SMALL_FRAGMENT } from '../../src/demux/box-scanner.js';
import { scanMp4 } from '../../src/demux/mp4-scan.js';
import { openMovie } from '../../src/demux/open-movie.js';
import { resolveLimits } from '../../src/limits.js';
import { openSource } from '../../src/sources/open-source.js';
import type { Source } from '../../src/sources/source.js';

/** Opens sources through a wrapper that records every byte range read. */
function recordingOpen(log: { key: string; offset: number; length: number }[], opened: Source[]) {
  return async (spec: string): Promise<Source> => {
    const s = await openSource(spec);
    opened.push(s);
    const read = s.read.bind(s);
    s.read = async (offset: number, length: number) => {
      log.push({ key: s.key, offset, length });
      return read(offset, length);
    };
    return s;
  };
}

test('parsing a fragmented DASH presentation reads under 1% of its bytes', async () => {
  const f = (await ensureFixtures()).find((x) => x.name === 'dash-high-bitrate');
  assert.ok(f);
  const log: { key: string; offset: number; length: number }[] = [];
  const opened: Source[] = [];
  const movie = await openMovie(f.input, { openSource: recordingOpen(log, opened) });
  const read = opened.reduce((a, s) => a + s.bytesRead, 0);
  const manifest = opened[0]!.size;
  const media = f.sizeBytes;
  assert.ok(movie.layout.fragmentCount >= 4);
  assert.ok(read - manifest < media / 100, `read ${read - manifest} of ${media} media bytes`);
  await Promise.all(opened.map((s) => s.close()));
});

/**
 * The most a read may reach into sample data: the scanner reads a fragment's metadata in
 * one go, sized from the previous fragment's (plus 64 bytes), so it can overshoot by the
 * largest run of metadata boxes in the file plus that slack. Where fragments are small
 * (under SMALL_FRAGMENT on average), it reads READ_AHEAD bytes at a time instead.
 */
async function overshootBound(file: string): Promise<number> {
  const source = await openSource(file);
  const scan = await scanMp4(source, resolveLimits(), { metadataBytes: 0 });
  await source.close();
  const small = scan.moofs.length > 1 && source.size / scan.moofs.length < SMALL_FRAGMENT;
  let largest = 0;
  let run = 0;
  for (const b of scan.boxes) {
    if (b.nodes) run += b.size;
    else {
      largest = Math.max(largest, run + 16);
      run = 0;
    }
  }
  return Math.max(largest, run, small ? READ_AHEAD : 0) + 64;
}

test('reads reach into sample data only by a bounded read-ahead', async () => {
  const fixtures = await ensureFixtures();
  for (const name of ['h264-aac-moov-last', 'frag-multi-moof', 'dash-single-file', 'shaka-ondemand', 'dash-high-bitrate']) {
    const f = fixtures.find((x) => x.name === name);
    assert.ok(f);
    const log: { key: string; offset: number; length: number }[] = [];
    const opened: Source[] = [];
    const movie = await openMovie(f.input, { openSource: recordingOpen(log, opened) });
    // Every sample lies in an mdat payload; reads may overlap sample bytes only by the bound.
    const samples: [string, number, number][] = [];
    for (const t of movie.tracks) {
      for (let i = 0; i < t.samples.count; i++) {
        samples.push([
          movie.sources[t.samples.sourceIndex[i]!]!.key,
          t.samples.offset[i]!,
          t.samples.offset[i]! + t.samples.size[i]!,
        ]);
      }
    }
    const bounds = new Map<string, number>();
    for (const r of log) {
      if (r.key.endsWith('.mpd')) continue;
      let overlap = 0;
      for (const [key, a, b] of samples) {
        if (key === r.key && r.offset < b && r.offset + r.length > a)
          overlap += Math.min(r.offset + r.length, b) - Math.max(r.offset, a);
      }
      if (overlap === 0) continue;
      if (!bounds.has(r.key)) bounds.set(r.key, await overshootBound(r.key));
      assert.ok(
        overlap <= bounds.get(r.key)!,
        `${name}: read ${r.offset}+${r.length} of ${r.key} overlaps sample bytes by ${overlap}`,
      );
    }
    await Promise.all(opened.map((s) => s.close()));
  }
});
