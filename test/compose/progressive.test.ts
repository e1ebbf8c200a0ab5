// Every fixture, as a progressive file composed from its renditions: the same packets as
// the sources, decodes cleanly, moov before mdat, and read() agrees with materializing.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { ensureFixtures } from '../../scripts/fixtures.js';
import { materialize } from '../../src/cli/materialize.js';
import { parseRecipe } from '../../src/compose/recipe.js';
import { compileRecipe } from '../../src/virtual/compile.js';
import { decodeErrors, type FramePacket, ffprobeTopLevelBoxes, framemd5 } from '../helpers/media.js';

const dir = mkdtempSync(join(tmpdir(), 'vvf-progressive-'));

/**
 * Whether two packet lists are the same media: equal sizes and payload hashes, and equal
 * timing relative to each list's first dts (ffmpeg shifts a whole stream's timestamps
 * differently for fragmented and progressive files: by the edit's media time, or by the
 * most negative composition offset). A duration ffmpeg made up (one that disagrees with
 * its own next dts, or a fragmented source's last) is checked against the next dts.
 */
function samePackets(ours: FramePacket[], theirs: FramePacket[], lastDurationKnown: boolean): string | undefined {
  if (ours.length !== theirs.length) return `${ours.length} packets, source has ${theirs.length}`;
  const a0 = ours[0]?.dts ?? 0;
  const b0 = theirs[0]?.dts ?? 0;
  for (let i = 0; i < ours.length; i++) {
    const a = ours[i]!;
    const b = theirs[i]!;
    if (a.size !== b.size || a.hash !== b.hash) return `packet ${i}: size/hash ${a.size}/${a.hash} != ${b.size}/${b.hash}`;
    if (a.dts - a0 !== b.dts - b0) return `packet ${i}: dts ${a.dts - a0} != ${b.dts - b0} (from the first)`;
    if (a.pts - a0 !== b.pts - b0) return `packet ${i}: pts ${a.pts - a0} != ${b.pts - b0} (from the first dts)`;
    const next = theirs[i + 1];
    const theirDuration = next && next.dts - b.dts !== b.duration ? next.dts - b.dts : b.duration;
    if (a.duration !== theirDuration && (next || lastDurationKnown))
      return `packet ${i}: duration ${a.duration} != ${theirDuration}`;
  }
  return undefined;
}

describe('DASH and MP4 sources as one progressive file', async () => {
  for (const f of await ensureFixtures()) {
    test(f.name, async () => {
      const compiled = await compileRecipe(parseRecipe({ tracks: [{ source: f.input }] }));
      const { file } = compiled;
      const out = join(dir, `${f.name}.mp4`);
      try {
        await materialize(file, out, { progress: false });
        const written = readFileSync(out);
        assert.equal(written.length, file.size, 'the size was known before a byte was read');
        assert.ok(Buffer.from(await file.read(0, file.size)).equals(written), 'read() equals the materialized bytes');
      } finally {
        await compiled.close();
      }
      assert.deepEqual(await ffprobeTopLevelBoxes(out), ['ftyp', 'moov', 'mdat']);
      assert.equal(await decodeErrors(out), '', 'decodes without errors');
      // Streams come out in the order of the fixture's streams (video, then audio).
      for (const [i, stream] of f.streams.entries()) {
        const ours = await framemd5(out, i, { ignoreEditlist: true });
        const theirs = await framemd5(stream.probeFile, stream.probeStreamIndex, { ignoreEditlist: true });
        const mismatch = samePackets(ours, theirs, f.layout === 'progressive');
        assert.equal(mismatch, undefined, `${stream.kind}: ${mismatch}`);
      }
      // Progressive sources keep their edit lists: presented the same with them applied.
      if (f.layout === 'progressive') {
        for (const [i, stream] of f.streams.entries()) {
          const ours = await framemd5(out, i);
          const theirs = await framemd5(stream.probeFile, stream.probeStreamIndex);
          assert.equal(samePackets(ours, theirs, true), undefined, `${stream.kind} with edit lists applied`);
        }
      }
    });
  }
});
