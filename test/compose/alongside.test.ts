// Tracks alongside the pieces: a concatenation of video clips with one whole audio track beside
// it (how encoded chunks are assembled) has exactly the clips' video and the source's audio.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ensureFixtures } from '../../scripts/fixtures.js';
import { parseRecipe } from '../../src/compose/recipe.js';
import { framemd5, samePackets } from '../helpers/media.js';
import { writeRecipeFile } from '../helpers/recipe-file.js';

const dir = mkdtempSync(join(tmpdir(), 'vvf-alongside-'));

const make = (name: string, recipe: unknown) => writeRecipeFile(recipe, join(dir, `${name}.mp4`));

test('three video clips one after another, the whole audio alongside', async () => {
  const f = (await ensureFixtures()).find((x) => x.name === 'h264-aac-faststart')!;
  const video = { source: f.input, kind: 'video' };
  const pieces = [
    { tracks: [video], start: 0, end: 2 },
    { tracks: [video], start: 2, end: 4 },
    { tracks: [video], start: 4 },
  ];
  const joined = await make('joined', { pieces });
  const assembled = await make('assembled', { pieces, alongside: [{ tracks: [{ source: f.input, kind: 'audio' }] }] });
  const audioOnly = await make('audio', { tracks: [{ source: f.input, kind: 'audio' }] });
  // Edit lists applied, as players see them: the video of the concatenation, the audio of the source.
  assert.deepEqual(await framemd5(assembled, 'v:0'), await framemd5(joined, 'v:0'));
  assert.deepEqual(await framemd5(assembled, 'a:0'), await framemd5(audioOnly, 'a:0'));
  assert.equal(samePackets(await framemd5(assembled, 'a:0'), await framemd5(f.input, 'a:0')), undefined);
});

test('alongside is checked like pieces', () => {
  assert.throws(() => parseRecipe({ tracks: ['a.mp4'], alongside: [] }), /alongside must list at least one part/);
  assert.throws(
    () => parseRecipe({ tracks: ['a.mp4'], alongside: [{ tracks: ['b.mp4'], pieces: [] }] }),
    /alongside\[0\]: give pieces, or tracks/,
  );
  assert.throws(
    () => parseRecipe({ tracks: ['a.mp4'], alongside: [{ layout: 'dash' }] }),
    /alongside\[0\]: unknown field "layout"/,
  );
  const r = parseRecipe({ tracks: ['a.mp4'], alongside: [{ pieces: [{ tracks: ['b.mp4'], start: 1 }] }] });
  assert.deepEqual(r.alongside, [{ pieces: [{ tracks: [{ source: 'b.mp4' }], start: 1 }] }]);
});
