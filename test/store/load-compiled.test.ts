// loadIfFresh: a stored compiled recipe loads with no source read while its sources are unchanged, and not after.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { copyFile, cp, mkdtemp, readdir, readFile, rm, stat, unlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ensureFixtures, type Fixture } from '../../scripts/fixtures.js';
import { recipeId } from '../../src/catalog/recipe-id.js';
import { parseRecipe, type Recipe } from '../../src/compose/recipe.js';
import { VvfError } from '../../src/errors.js';
import { openSource } from '../../src/sources/open-source.js';
import type { Source } from '../../src/sources/source.js';
import { loadIfFresh } from '../../src/store/load-compiled.js';
import type { StoredFile } from '../../src/store/metadata-store.js';
import { SqliteStore } from '../../src/store/sqlite-store.js';
import { compileRecipe } from '../../src/virtual/compile.js';
import { assertSameBytes, isCode } from '../virtual/virtual-helpers.js';
import { countingOpener, projectFile, runChild } from './store-helpers.js';

let dir = '';
let fixtures: Fixture[] = [];
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vvf-load-compiled-'));
  fixtures = await ensureFixtures();
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

function fixture(name: string): Fixture {
  const f = fixtures.find((x) => x.name === name);
  assert.ok(f, name);
  return f;
}

const open = (key: string): Promise<Source> => openSource(key);
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** Compiles `recipe`, returning what a store would keep and the whole file's bytes. */
async function compileAndStore(recipe: Recipe): Promise<{ stored: StoredFile; bytes: Uint8Array; etag: string }> {
  const { file, movies } = await compileRecipe(recipe);
  const bytes = await file.read(0, file.size);
  const stored: StoredFile = { id: recipeId(recipe), recipe, created: Date.now(), compiled: file.serialize() };
  const etag = file.etag;
  await file.close();
  await Promise.all(movies.flatMap((m) => m.sources.map((s) => s.close())));
  return { stored, bytes, etag };
}

/** A private copy of the progressive fixture, and a clip recipe over it. */
async function progressive(name: string): Promise<{ path: string; recipe: Recipe }> {
  const path = join(dir, name);
  await copyFile(fixture('h264-aac-faststart').input, path);
  return { path, recipe: parseRecipe({ tracks: [path], start: '0.5', end: '3.7' }) };
}

/** A private copy of a segmented DASH fixture (manifest and segments), and a recipe over all of it. */
async function dash(name: string): Promise<{ folder: string; recipe: Recipe }> {
  const f = fixture('dash-template-number');
  const folder = join(dir, name);
  await cp(join(f.input, '..'), folder, { recursive: true });
  return { folder, recipe: parseRecipe({ tracks: [join(folder, 'manifest.mpd')] }) };
}

async function touch(path: string, seconds: number): Promise<void> {
  const st = await stat(path);
  await utimes(path, st.atime, new Date(st.mtimeMs + seconds * 1000));
}

test('fresh: loads from a database reopened as after a restart, reading no source byte, and reads the same bytes', async () => {
  const { recipe } = await progressive('fresh.mp4');
  const { stored, bytes, etag } = await compileAndStore(recipe);
  const path = join(dir, 'fresh.db');
  const writer = SqliteStore.open(path);
  await writer.put(stored);
  await writer.close();

  const store = SqliteStore.open(path);
  const found = await store.get(stored.id);
  assert.ok(found);
  const counting = countingOpener(open);
  const file = await loadIfFresh(found, counting.open);
  assert.ok(file, 'fresh');
  assert.equal(counting.opened.length, 1, 'its one source opened, to check its validator');
  assert.equal(counting.reads(), 0, 'no read of any source');
  assert.equal(counting.bytesRead(), 0);
  assert.equal(file.size, bytes.length);
  assert.equal(file.etag, etag);
  assertSameBytes(file.serialize(), stored.compiled, 'the same compiled form');
  assertSameBytes(await file.read(0, file.size), bytes, 'the same bytes');
  assert.ok(counting.reads() > 0, 'media bytes come from the source opened at load');
  assert.equal(counting.opened.length, 1, 'and it was not opened again');
  await file.close();
  assert.equal(counting.closes(), 1, 'close closes it');
  await store.close();
});

test('a source touched, rewritten with the same size, or deleted is not fresh', async () => {
  const { path, recipe } = await progressive('stale.mp4');
  const { stored } = await compileAndStore(recipe);

  await touch(path, 5);
  let counting = countingOpener(open);
  assert.equal(await loadIfFresh(stored, counting.open), undefined, 'touched');
  assert.equal(counting.reads(), 0);
  assert.equal(counting.closes(), counting.opened.length, 'what was opened is closed');

  const again = await compileAndStore(recipe);
  const recompiled = await loadIfFresh(again.stored, open);
  assert.ok(recompiled, 'fresh after recompiling');
  await recompiled.close();
  const content = await readFile(path);
  for (let i = content.length - 1000; i < content.length; i++) content[i] = content[i]! ^ 0xff;
  await writeFile(path, content);
  await touch(path, 10);
  assert.equal((await stat(path)).size, content.length);
  assert.equal(await loadIfFresh(again.stored, open), undefined, 'rewritten, same size');

  await unlink(path);
  counting = countingOpener(open);
  assert.equal(await loadIfFresh(again.stored, counting.open), undefined, 'deleted');
});

test('DASH: thousands-of-segments style loads open every segment, a bounded number at once, and read none', async () => {
  const { folder, recipe } = await dash('dash');
  const { stored, bytes } = await compileAndStore(recipe);
  const counting = countingOpener(open);
  const file = await loadIfFresh(stored, counting.open, { concurrency: 3 });
  assert.ok(file);
  const segments = (await readdir(folder)).filter((n) => n.endsWith('.m4s'));
  assert.equal(file.sources.length, segments.length, 'every init and media segment is a source');
  assert.equal(counting.opened.length, segments.length);
  assert.ok(counting.maxInFlight() <= 3, `at most 3 opens at once, saw ${counting.maxInFlight()}`);
  assert.ok(counting.maxInFlight() > 1, 'opens overlap');
  assert.equal(counting.reads(), 0);
  // Read only the header: the sources it never asks for are closed with the file all the same.
  const firstSource = [...file.extents()].find((e) => e.kind === 'source')!;
  assertSameBytes(await file.read(0, firstSource.start), bytes.subarray(0, firstSource.start), 'header');
  assert.equal(counting.reads(), 0, 'the header is held in memory');
  await file.close();
  assert.equal(counting.closes(), segments.length, 'every opened segment closed');

  // One media segment rewritten: not fresh.
  await touch(join(folder, segments.find((n) => n.startsWith('chunk-'))!), 3);
  assert.equal(await loadIfFresh(stored, open), undefined);
});

test('bytes that are not a compiled file are a miss; a forbidden source is an error', async () => {
  const { recipe } = await progressive('errors.mp4');
  const { stored } = await compileAndStore(recipe);
  const corrupt = stored.compiled.slice();
  corrupt[corrupt.length - 1]! ^= 1;
  assert.equal(await loadIfFresh({ ...stored, compiled: corrupt }, open), undefined, 'checksum mismatch');
  assert.equal(await loadIfFresh({ ...stored, compiled: new Uint8Array([1, 2, 3]) }, open), undefined, 'not ours');
  const forbidden = async (key: string): Promise<Source> => {
    throw new VvfError('SOURCE_FORBIDDEN', 'not allowed', { source: key });
  };
  await assert.rejects(loadIfFresh(stored, forbidden), isCode('SOURCE_FORBIDDEN'));
  await assert.rejects(loadIfFresh(stored, open, { concurrency: 0 }), isCode('USAGE'));
});

const RESTARTED = `
const [store, load, source, db, id] = process.argv.slice(1);
const { SqliteStore } = await import(store);
const { loadIfFresh } = await import(load);
const { openSource } = await import(source);
const { createHash } = await import('node:crypto');
const opened = [];
const s = SqliteStore.open(db);
const stored = await s.get(id);
const file = await loadIfFresh(stored, async (key) => { const x = await openSource(key); opened.push(x); return x; });
const reads = opened.reduce((n, x) => n + x.readCount, 0);
const bytes = await file.read(0, file.size);
console.log(JSON.stringify({ reads, opened: opened.length, etag: file.etag, sha: createHash('sha256').update(bytes).digest('hex') }));
await file.close();
await s.close();
`;

test('another process on the same database serves the file with zero source reads before the first media byte', async () => {
  const { folder, recipe } = await dash('restart');
  const { stored, bytes, etag } = await compileAndStore(recipe);
  const db = join(dir, 'restart.db');
  const store = SqliteStore.open(db);
  await store.put(stored);
  const out = (await runChild(RESTARTED, [
    projectFile('src/store/sqlite-store.ts'),
    projectFile('src/store/load-compiled.ts'),
    projectFile('src/sources/open-source.ts'),
    db,
    stored.id,
  ])) as { reads: number; opened: number; etag: string; sha: string };
  assert.equal(out.reads, 0, 'no metadata read: nothing parsed');
  assert.equal(out.opened, (await readdir(folder)).filter((n) => n.endsWith('.m4s')).length);
  assert.equal(out.etag, etag);
  assert.equal(out.sha, sha(bytes), 'the same bytes');
  await store.close();
});
