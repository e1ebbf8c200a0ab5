// compileRecipe's handle: close() closes the file and every source compiling opened, each
// once, whether the file read it or not; a recipe that fails to compile closes what it opened.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { ensureFixtures, type Fixture } from '../../scripts/fixtures.js';
import { parseRecipe } from '../../src/compose/recipe.js';
import { openSource } from '../../src/sources/open-source.js';
import type { Source } from '../../src/sources/source.js';
import { compileRecipe } from '../../src/virtual/compile.js';
import { isCode, sourceLike } from './virtual-helpers.js';

let fixtures: Fixture[] = [];
before(async () => {
  fixtures = await ensureFixtures();
});

function fixture(name: string): Fixture {
  const f = fixtures.find((x) => x.name === name);
  assert.ok(f, name);
  return f;
}

/** An openSource that records every source it opens and counts the closes of each. */
function countingOpener() {
  const opened: { key: string; closes: number }[] = [];
  const open = async (spec: string): Promise<Source> => {
    const real = await openSource(spec);
    const entry = { key: real.key, closes: 0 };
    opened.push(entry);
    return sourceLike(real, {
      close: async () => {
        entry.closes++;
        await real.close();
      },
    });
  };
  const closes = () => opened.map((o) => `${o.key.split('/').pop()} ${o.closes}`);
  return { opened, open, closes };
}

test('close() closes every source compiling opened, once, whether the file read it or not', async () => {
  const counting = countingOpener();
  const mpd = join(fixture('dash-template-time').dir, 'manifest.mpd');
  // Only the video representation's track, clipped: the audio representation's sources are
  // the demuxer's, never the file's, and the file reads only some of the video segments.
  const compiled = await compileRecipe(
    parseRecipe({ tracks: [{ source: mpd, kind: 'video' }, { source: fixture('h264-aac-faststart').input }], end: '3' }),
    { openSource: counting.open },
  );
  const { file } = compiled;
  assert.ok(counting.opened.length > 4, `${counting.opened.length} sources opened`);
  // The demuxer closed the manifest once read; everything else is still open.
  assert.deepEqual(
    counting.opened.filter((o) => o.closes > 0).map((o) => o.key),
    [mpd],
  );
  // A read in the middle opens some of the file's sources, not all.
  await file.read(Math.floor(file.size / 2), 1000);

  await compiled.close();
  assert.ok(
    counting.opened.every((o) => o.closes === 1),
    counting.closes().join(', '),
  );
  await compiled.close();
  await compiled.file.close();
  assert.ok(
    counting.opened.every((o) => o.closes === 1),
    `closing again closes nothing twice: ${counting.closes().join(', ')}`,
  );
  await assert.rejects(file.read(0, 10), isCode('USAGE'));
});

test('a file closed before its handle: the handle closes the rest, nothing twice', async () => {
  const counting = countingOpener();
  const compiled = await compileRecipe(parseRecipe({ tracks: [fixture('h264-aac-faststart').input], start: '1', end: '2' }), {
    openSource: counting.open,
  });
  await compiled.file.read(0, compiled.file.size);
  await compiled.file.close();
  await compiled.close();
  assert.equal(counting.opened.length, 1);
  assert.deepEqual(counting.closes(), ['h264-aac-faststart.mp4 1']);
});

test('a recipe that fails to compile closes every source it opened', async () => {
  const counting = countingOpener();
  const mpd = join(fixture('dash-template-time').dir, 'manifest.mpd');
  await assert.rejects(
    compileRecipe(parseRecipe({ tracks: [{ source: mpd }, { source: mpd, representation: '0', track: 99 }] }), {
      openSource: counting.open,
    }),
    isCode('USAGE'),
  );
  assert.ok(counting.opened.length > 4, `${counting.opened.length} sources opened`);
  assert.ok(
    counting.opened.every((o) => o.closes === 1),
    counting.closes().join(', '),
  );
});
