// Reading a presentation's metadata touches box headers, moov, sidx and moof only:
// a tiny fraction of its bytes, and never a byte of mdat.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ensureFixtures } from '../../scripts/fixtures.js';
import { openMovie } from '../../src/demux/open-movie.js';
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

test('no read touches the payload of an mdat', async () => {
  const fixtures = await ensureFixtures();
  for (const name of ['h264-aac-moov-last', 'frag-multi-moof', 'dash-single-file', 'shaka-ondemand', 'dash-high-bitrate']) {
    const f = fixtures.find((x) => x.name === name);
    assert.ok(f);
    const log: { key: string; offset: number; length: number }[] = [];
    const opened: Source[] = [];
    const movie = await openMovie(f.input, { openSource: recordingOpen(log, opened) });
    // Every sample lies in an mdat payload; no read may overlap any sample's bytes.
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
    for (const r of log) {
      if (r.key.endsWith('.mpd')) continue;
      const hit = samples.find(([key, a, b]) => key === r.key && r.offset < b && r.offset + r.length > a);
      // The scanner reads a box header ahead of where it is; allow up to 16 bytes of look-ahead
      // into the next mdat payload, never more.
      if (hit) {
        const overlap = Math.min(r.offset + r.length, hit[2]) - Math.max(r.offset, hit[1]);
        assert.ok(overlap <= 16, `${name}: read ${r.offset}+${r.length} of ${r.key} overlaps sample bytes by ${overlap}`);
      }
    }
    await Promise.all(opened.map((s) => s.close()));
  }
});
