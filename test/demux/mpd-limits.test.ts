// Segments per manifest are bounded before anything is fetched (issue 11 C.5): a 1.9 KB
// manifest whose SegmentTimeline repeats one segment a million times
// (`<S t="0" d="10240" r="999999"/>`) took 47 s and 2.2 GiB in `inspect`. It now ends in
// STRUCTURE_LIMIT while the manifest is parsed — no segment opened — at the cost of a
// normal manifest's open, measured in fresh child processes.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, test } from 'node:test';
import { ensureFixtures } from '../../scripts/fixtures.js';
import { parseMpd } from '../../src/demux/mpd.js';
import { defaultLimits } from '../../src/limits.js';
import { costOf } from '../helpers/cost.js';

const dir = mkdtempSync(join(tmpdir(), 'vvf-mpd-limits-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const BASE = 'https://cdn.example.com/show/manifest.mpd';

function manifest(representations: string[]): string {
  return `<?xml version="1.0"?>
<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="static" mediaPresentationDuration="PT1000000S" minBufferTime="PT2S" profiles="urn:mpeg:dash:profile:isoff-live:2011">
 <Period>
  <AdaptationSet mimeType="video/mp4" segmentAlignment="true">
${representations.join('\n')}
  </AdaptationSet>
 </Period>
</MPD>
`;
}

function representation(id: string, timeline: string): string {
  return `   <Representation id="${id}" codecs="avc1.64001f" bandwidth="1000000" width="640" height="360">
    <SegmentTemplate timescale="10240" initialization="init-$RepresentationID$.mp4" media="seg-$RepresentationID$-$Time$.m4s">
     <SegmentTimeline>${timeline}</SegmentTimeline>
    </SegmentTemplate>
   </Representation>`;
}

describe('segments per manifest', () => {
  test('a timeline repeating one segment a million times: STRUCTURE_LIMIT before any segment is opened, at a normal cost', async () => {
    const hostile = join(dir, 'hostile.mpd');
    writeFileSync(hostile, manifest([representation('v', '<S t="0" d="10240" r="999999"/>')]));
    const f = (await ensureFixtures()).find((x) => x.name === 'dash-template-time');
    assert.ok(f && dirname(f.input) !== dir);
    const normal = await costOf('movie', f.input);
    assert.equal(normal.code, 'OK');
    const cost = await costOf('movie', hostile);
    assert.equal(cost.code, 'STRUCTURE_LIMIT');
    assert.equal(cost.opens, 1, 'only the manifest was opened');
    assert.ok(
      cost.cpuMs < 3 * normal.cpuMs + 300,
      `${cost.cpuMs.toFixed(0)} ms CPU, a normal manifest ${normal.cpuMs.toFixed(0)} ms`,
    );
    assert.ok(cost.maxRssKb < 1.5 * normal.maxRssKb, `${cost.maxRssKb} KB peak, a normal manifest ${normal.maxRssKb} KB`);
  });

  test('the per-manifest bound is its own limit (maxManifestSegments), across representations', () => {
    const reps = (n: number) =>
      manifest(Array.from({ length: n }, (_, i) => representation(`r${i}`, '<S t="0" d="10240" r="9"/>')));
    // 10 segments each: 2 representations fit under 25, 3 do not.
    assert.equal(parseMpd(reps(2), BASE, { maxManifestSegments: 25 }).periods[0]!.representations.length, 2);
    const started = performance.now();
    assert.throws(
      () => parseMpd(reps(3), BASE, { maxManifestSegments: 25 }),
      (e: { code?: string; message?: string }) => e.code === 'STRUCTURE_LIMIT' && /maxManifestSegments/.test(e.message ?? ''),
    );
    assert.ok(performance.now() - started < 200);
  });

  test('defaults: a representation may hold 100 000 segments (55 hours of 2 s), a manifest four times that', () => {
    assert.equal(defaultLimits.maxSegments, 100_000);
    assert.equal(defaultLimits.maxManifestSegments, 400_000);
    const ok = parseMpd(manifest([representation('v', '<S t="0" d="20480" r="99999"/>')]), BASE);
    assert.equal(ok.periods[0]!.representations[0]!.segments.length, 100_000);
    assert.throws(
      () => parseMpd(manifest([representation('v', '<S t="0" d="20480" r="100000"/>')]), BASE),
      (e: { code?: string }) => e.code === 'STRUCTURE_LIMIT',
    );
  });
});
