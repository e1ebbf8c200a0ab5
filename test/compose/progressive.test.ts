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
import { decodeErrors, ffprobeTopLevelBoxes, framemd5, samePackets } from '../helpers/media.js';

const dir = mkdtempSync(join(tmpdir(), 'vvf-progressive-'));

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
        const mismatch = samePackets(ours, theirs, { lastKnown: f.layout === 'progressive' });
        assert.equal(mismatch, undefined, `${stream.kind}: ${mismatch}`);
      }
      // Progressive sources keep their edit lists: presented the same with them applied.
      if (f.layout === 'progressive') {
        for (const [i, stream] of f.streams.entries()) {
          const ours = await framemd5(out, i);
          const theirs = await framemd5(stream.probeFile, stream.probeStreamIndex);
          assert.equal(samePackets(ours, theirs, { lastKnown: true }), undefined, `${stream.kind} with edit lists applied`);
        }
      }
    });
  }
});
