// A recipe with a fragmented layout compiles to one package file; every part cut from it (init
// segments, media segments with their own styp and sidx, single files) is byte for byte what the
// fragmented layout makes directly, and slices share the package's sources without closing them.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ensureFixtures } from '../../scripts/fixtures.js';
import { FragmentedPresentation } from '../../src/compose/fragmented.js';
import { PRESENTATION_FORMAT } from '../../src/compose/presentation.js';
import { parseRecipe } from '../../src/compose/recipe.js';
import { openSource } from '../../src/sources/open-source.js';
import { compileRecipe, resolverFor, virtualFileFromLayout } from '../../src/virtual/compile.js';
import { presentationFiles } from '../../src/virtual/presentation-file.js';
import { VirtualFile } from '../../src/virtual/virtual-file.js';

async function bytesOf(file: VirtualFile): Promise<Buffer> {
  return Buffer.from(await file.read(0, file.size));
}

describe('presentation package: every part equals the fragmented layout of the same composition', async () => {
  for (const f of await ensureFixtures()) {
    test(f.name, async () => {
      const compiled = await compileRecipe(parseRecipe({ layout: 'cmaf', segment: 1, tracks: [{ source: f.input }] }));
      try {
        assert.equal(compiled.file.format, PRESENTATION_FORMAT);
        const parts = await presentationFiles(compiled.file);
        const c = compiled.composition;
        const resolve = resolverFor(c.sources, (spec) => openSource(spec));
        const direct = new FragmentedPresentation(c, (l) => virtualFileFromLayout(l, c.sources, resolve), { segmentSeconds: 1 });
        assert.equal(parts.index.tracks.length, direct.tracks.length);
        assert.equal(parts.index.layout, 'cmaf');
        for (const [k, ft] of direct.tracks.entries()) {
          const t = parts.index.tracks[k]!;
          assert.equal(t.kind, ft.track.template.kind);
          assert.equal(parts.segmentCount(t.id), ft.segmentCount);
          assert.deepEqual(await bytesOf(parts.initFile(t.id)), await bytesOf(ft.initFile()), `${t.id} init`);
          for (let i = 0; i < ft.segmentCount; i++) {
            const ours = await parts.segmentFile(t.id, i + 1);
            assert.deepEqual(await bytesOf(ours), await bytesOf(ft.segmentFile(i)), `${t.id} segment ${i + 1}`);
            await ours.close();
          }
          assert.deepEqual(await bytesOf(parts.singleFile(t.id)), await bytesOf(ft.singleFile()), `${t.id} single file`);
          assert.ok(t.bandwidth >= t.averageBandwidth && t.averageBandwidth > 0, 'bandwidths');
          assert.equal(t.times.length, ft.segmentCount + 1);
        }
        // Closing slices closed none of the package's sources: it still reads.
        assert.equal((await compiled.file.read(compiled.file.size - 1, 1)).length, 1);
      } finally {
        await compiled.close();
      }
    });
  }
});

test('a slice fails once its package is closed; the package loads back from its serialized form', async () => {
  const [f] = await ensureFixtures();
  const compiled = await compileRecipe(parseRecipe({ layout: 'dash', tracks: [{ source: f!.input }] }));
  const parts = await presentationFiles(compiled.file);
  const id = parts.index.tracks[0]!.id;
  const segment = await parts.segmentFile(id, 1);
  const before = await bytesOf(segment);
  const loaded = VirtualFile.deserialize(compiled.file.serialize(), (ref) => openSource(ref.key));
  const again = await presentationFiles(loaded);
  assert.deepEqual(again.index, parts.index);
  assert.deepEqual(await bytesOf(await again.segmentFile(id, 1)), before);
  assert.equal((await again.segmentFile(id, 1)).etag, segment.etag, 'a part keeps its etag across loads');
  await assert.rejects(again.segmentFile(id, parts.segmentCount(id) + 1), { code: 'NOT_FOUND' });
  assert.throws(() => again.initFile('x9'), { code: 'NOT_FOUND' });
  await compiled.close();
  await assert.rejects(segment.read(0, 1), { code: 'USAGE' });
  await loaded.close();
});
