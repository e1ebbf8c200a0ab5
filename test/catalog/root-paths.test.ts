// Paths as clients see them: relative to their root (issue 11, F.14).
import assert from 'node:assert/strict';
import { mkdtempSync, realpathSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { RootPaths } from '../../src/catalog/root-paths.js';
import { parseRecipe } from '../../src/compose/recipe.js';

test('paths under a root, as configured or real, show relative to it; others and URLs are left alone', () => {
  const real = realpathSync(mkdtempSync(join(tmpdir(), 'vvf-roots-')));
  const link = join(mkdtempSync(join(tmpdir(), 'vvf-roots-link-')), 'media');
  symlinkSync(real, link);
  const shown = new RootPaths([link, '/srv/other']);
  assert.equal(shown.path(join(link, 'a/b.mp4')), 'a/b.mp4');
  assert.equal(shown.path(join(real, 'a/b.mp4')), 'a/b.mp4', 'the real path of a root too');
  assert.equal(shown.path('/srv/other/x.mpd'), 'x.mpd');
  assert.equal(shown.path('/elsewhere/x.mpd'), '/elsewhere/x.mpd');
  assert.equal(
    shown.text(`USAGE: ${real}/a/b.mp4 has no track 9; see ${link}/c.mp4`),
    'USAGE: a/b.mp4 has no track 9; see c.mp4',
  );
  const recipe = shown.recipe(parseRecipe({ tracks: [join(link, 'v.mp4'), 'https://cdn.example/a.mp4'] }));
  assert.deepEqual(
    recipe.pieces[0]!.tracks.map((t) => t.source),
    ['v.mp4', 'https://cdn.example/a.mp4'],
  );
});

test('a root of / hides nothing and breaks nothing', () => {
  const shown = new RootPaths(['/']);
  assert.equal(shown.text('SOURCE_NOT_FOUND: /a/b.mp4'), 'SOURCE_NOT_FOUND: /a/b.mp4');
});
