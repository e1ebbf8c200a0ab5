// The catalog every face shares: ids, names, registering, listing, deleting, change events,
// and a folder of recipe files kept in step with it.
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { ensureFixtures } from '../../scripts/fixtures.js';
import { Catalog } from '../../src/catalog/catalog.js';
import { defaultCatalogConfig } from '../../src/catalog/config.js';
import { readableName } from '../../src/catalog/names.js';
import { RecipeFolder, type RecipeFolderEvent } from '../../src/catalog/recipe-folder.js';
import { recipeId } from '../../src/catalog/recipe-id.js';
import { parseRecipe } from '../../src/compose/recipe.js';
import { VvfError } from '../../src/errors.js';

test('readable names: the recipe name, else the source file (a manifest with its folder), the clip and the pieces', () => {
  assert.equal(readableName(parseRecipe({ name: 'Talk / 2026', tracks: ['a.mp4'] })), 'Talk _ 2026');
  assert.equal(readableName(parseRecipe({ tracks: ['/media/talk.mp4'] })), 'talk');
  assert.equal(readableName(parseRecipe({ tracks: ['/media/talk/manifest.mpd'] })), 'talk-manifest');
  assert.equal(readableName(parseRecipe({ tracks: ['https://cdn.example/v/x.mp4?token=1'] })), 'x');
  assert.equal(readableName(parseRecipe({ tracks: ['a.mp4'], start: 10, end: 20 })), 'a.10-20');
  assert.equal(readableName(parseRecipe({ pieces: [{ tracks: ['a.mp4'] }, { tracks: ['b.mp4'] }] })), 'a+1');
  assert.equal(readableName(parseRecipe({ tracks: ['..mp4'] })), '_');
  assert.equal(readableName(parseRecipe({ tracks: ['/media/talk/master.m3u8#720p'] })), 'talk-master.720p');
  assert.equal(readableName(parseRecipe({ tracks: ['/media/take#2.mp4'] })), 'take#2');
  assert.throws(() => parseRecipe({ name: '', tracks: ['a.mp4'] }), VvfError);
  assert.throws(() => parseRecipe({ name: 'x'.repeat(101), tracks: ['a.mp4'] }), VvfError);
  // The name is part of the recipe, so of its id.
  assert.notEqual(recipeId(parseRecipe({ tracks: ['a.mp4'] })), recipeId(parseRecipe({ name: 'a', tracks: ['a.mp4'] })));
});

test('register, get, list and delete, with a change event for each change and none for a known recipe', async () => {
  const fixture = (await ensureFixtures()).find((f) => f.name === 'h264-aac-faststart')!;
  const root = dirname(fixture.input);
  const catalog = await Catalog.open({ ...defaultCatalogConfig, roots: [root] });
  let changes = 0;
  const stop = catalog.onChange(() => changes++);
  try {
    const recipe = catalog.underRoot(parseRecipe({ tracks: [fixture.input.slice(root.length + 1)] }));
    const first = await catalog.register(recipe);
    assert.equal(first.created, true);
    assert.equal(first.entry.id, recipeId(recipe));
    assert.ok(first.entry.file.size > 0);
    assert.equal(changes, 1);
    const again = await catalog.register(recipe);
    assert.equal(again.created, false);
    assert.equal(again.entry, first.entry);
    assert.equal(changes, 1);
    assert.deepEqual(
      (await catalog.list()).map((e) => e.id),
      [first.entry.id],
    );
    assert.equal((await catalog.get(first.entry.id))?.file.etag, first.entry.file.etag);
    assert.equal(await catalog.delete(first.entry.id), true);
    assert.equal(changes, 2);
    assert.equal(await catalog.delete(first.entry.id), false);
    assert.equal(await catalog.get(first.entry.id), undefined);
    // The policy is the catalog's: a file outside the roots is refused.
    await assert.rejects(
      catalog.register(parseRecipe({ tracks: ['/etc/passwd'] })),
      (e: unknown) => e instanceof VvfError && e.kind === 'forbidden',
    );
  } finally {
    stop();
    await catalog.close();
  }
});

test('a recipe folder: files appear, change, break and disappear, and the catalog follows', async () => {
  const fixture = (await ensureFixtures()).find((f) => f.name === 'h264-aac-faststart')!;
  const dir = mkdtempSync(join(tmpdir(), 'vvf-recipes-'));
  cpSync(fixture.input, join(dir, 'talk.mp4'));
  const catalog = await Catalog.open({ ...defaultCatalogConfig, roots: [dir] });
  const events: RecipeFolderEvent[] = [];
  writeFileSync(join(dir, 'whole.json'), JSON.stringify({ tracks: ['talk.mp4'] }));
  const folder = await RecipeFolder.watch(dir, catalog, { report: (e) => events.push(e), rescanMs: 60_000 });
  const waitFor = async (what: string, ok: () => Promise<boolean>) => {
    const deadline = Date.now() + 5000;
    while (!(await ok())) {
      if (Date.now() > deadline) throw new Error(`not seen within 5 s: ${what}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  };
  const names = async () => (await catalog.list()).map((e) => e.name).sort();
  try {
    assert.deepEqual(await names(), ['whole'], 'registered at start, named after the file');
    writeFileSync(join(dir, 'clip.json'), JSON.stringify({ tracks: ['talk.mp4'], start: 0, end: 1 }));
    await waitFor('a new file', async () => (await names()).join() === 'clip,whole');
    const clipId = folder.files().get('clip.json')!;
    writeFileSync(join(dir, 'clip.json'), JSON.stringify({ tracks: ['talk.mp4'], start: 0, end: 2 }));
    await waitFor('a changed file', async () => folder.files().get('clip.json') !== clipId);
    assert.equal(await catalog.get(clipId), undefined, 'the old recipe is gone');
    writeFileSync(join(dir, 'broken.json'), '{ not json');
    await waitFor('a broken file reported', async () => events.some((e) => e.event === 'refused' && e.file === 'broken.json'));
    rmSync(join(dir, 'whole.json'));
    await waitFor('a deleted file', async () => (await names()).join() === 'clip');
    const refusals = events.filter((e) => e.event === 'refused').length;
    await folder.rescan();
    assert.equal(events.filter((e) => e.event === 'refused').length, refusals, 'an unchanged broken file is reported once');
  } finally {
    await folder.close();
    await catalog.close();
  }
});

test('a file whose compiled form the store evicted is still registered: compiled again, same id and bytes', async () => {
  const { SqliteStore } = await import('../../src/store/sqlite-store.js');
  const fixture = (await ensureFixtures()).find((f) => f.name === 'h264-aac-faststart')!;
  const root = dirname(fixture.input);
  const dir = mkdtempSync(join(tmpdir(), 'vvf-evict-'));
  // Room for one compiled form: registering a second evicts the first's.
  const store = SqliteStore.open(join(dir, 'store.db'), { maxBytes: 6000 });
  const catalog = await Catalog.open({ ...defaultCatalogConfig, roots: [root] }, { store });
  try {
    const a = (await catalog.register(parseRecipe({ tracks: [fixture.input] }))).entry;
    const b = (await catalog.register(parseRecipe({ tracks: [fixture.input], start: 1, end: 2 }))).entry;
    assert.equal((await store.get(a.id))?.compiled.byteLength, 0, 'a was evicted from the store');
    const bytes = await a.file.read(0, 4096);
    // Another process (a fresh catalog on the same store) still knows a and serves the same bytes.
    const other = await Catalog.open({ ...defaultCatalogConfig, roots: [root] }, { store });
    try {
      const again = await other.get(a.id);
      assert.ok(again, 'still registered');
      assert.equal(again.file.etag, a.file.etag);
      assert.deepEqual(await again.file.read(0, 4096), bytes);
      assert.deepEqual((await other.list()).map((e) => e.id).sort(), [a.id, b.id].sort());
    } finally {
      await other.close();
    }
  } finally {
    await catalog.close();
    await store.close();
  }
});
