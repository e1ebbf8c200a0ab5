// SqliteStore's quota: the byte total of compiled forms stays bounded, least recently used files lose theirs first
// (their recipe stays: still registered, compiled again when asked for), an oversized file keeps only its recipe,
// a version 1 database upgrades.
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import Database from 'better-sqlite3';
import { defaultCatalogConfig } from '../../src/catalog/config.js';
import { openStore } from '../../src/catalog/open-store.js';
import { loadServeConfig } from '../../src/server/config.js';
import { SQLITE_SCHEMA_VERSION, SqliteStore } from '../../src/store/sqlite-store.js';
import { isCode } from '../virtual/virtual-helpers.js';
import { madeUp } from './store-helpers.js';

let dir = '';
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vvf-store-quota-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** The bytes the quota counts for a madeUp file: its compiled form. */
const counted = (_id: string, size: number) => size;

/** Whether the store still holds a file's compiled form (an evicted file keeps only its recipe). */
async function holds(store: SqliteStore, id: string): Promise<boolean> {
  return ((await store.get(id))?.compiled.byteLength ?? 0) > 0;
}

/** Files whose compiled form the store holds. */
async function holding(store: SqliteStore): Promise<string[]> {
  const out: string[] = [];
  for (const f of await store.list()) if (await holds(store, f.id)) out.push(f.id);
  return out;
}

/** A clock the test moves. */
function clock(start = 1_000_000) {
  let t = start;
  return {
    now: () => t,
    advance: (ms: number) => {
      t += ms;
    },
  };
}

test('the byte total stays under the quota after many puts, and the file just put is always kept', async () => {
  const store = SqliteStore.open(join(dir, 'many.db'), { maxBytes: 100_000 });
  for (let i = 0; i < 60; i++) {
    const id = `f${i}`;
    await store.put(madeUp(id, 9_000 + ((i * 577) % 3000)));
    assert.ok((await store.totalBytes()) <= 100_000, `after put ${i}: ${await store.totalBytes()}`);
    assert.equal(await holds(store, id), true, `the file just put (${id}) is kept`);
  }
  const kept = await holding(store);
  assert.ok(kept.length >= 7 && kept.length <= 11, `kept ${kept.length}`);
  // Evicted files stay registered: every id is listed, ordered by (created, id), not by use.
  const listed = (await store.list()).map((f) => f.id);
  assert.equal(listed.length, 60);
  assert.deepEqual(listed, [...listed].sort());
  assert.equal(await store.has('f0'), true, 'an evicted file is still there for the registry');
  await store.close();
});

test('the least recently used file (by get) is evicted first; a recently read one is kept; gets are written at most once per interval', async () => {
  const path = join(dir, 'lru.db');
  const c = clock();
  const store = SqliteStore.open(path, { maxBytes: 3 * counted('a', 30_000) + 100, now: c.now });
  for (const id of ['a', 'b', 'c']) {
    await store.put(madeUp(id, 30_000, 5000 - id.charCodeAt(0)));
    c.advance(1000);
  }
  c.advance(120_000);
  assert.ok(await store.get('a'), 'a read: now the most recently used');
  const usedOfA = () => {
    const raw = new Database(path, { readonly: true });
    try {
      return (raw.prepare('SELECT used FROM file_usage WHERE id = ?').get('a') as { used: number }).used;
    } finally {
      raw.close();
    }
  };
  const touchedAt = usedOfA();
  assert.equal(touchedAt, c.now());
  c.advance(10_000);
  await store.get('a');
  assert.equal(usedOfA(), touchedAt, 'a second get within a minute writes nothing');

  c.advance(120_000);
  await store.put(madeUp('d', 30_000));
  const before = usedOfA();
  assert.equal(await holds(store, 'b'), false, 'b, least recently used, evicted');
  assert.equal(await store.has('b'), true, 'b is still registered');
  // (holds() reads, which counts as a use: check a without reading it first.)
  assert.equal(before, touchedAt);
  assert.equal(await holds(store, 'a'), true, 'a, read recently, kept');
  assert.equal(await holds(store, 'c'), true);
  assert.equal(await holds(store, 'd'), true);
  // list() is still oldest-first by created (c, b, a were created in that order).
  assert.deepEqual(
    (await store.list()).map((f) => f.id),
    ['c', 'b', 'a', 'd'],
  );

  // A put counts as a use too: c, put again, outlives a.
  c.advance(1000);
  await store.put(madeUp('c', 30_000, 1));
  c.advance(1000);
  await store.put(madeUp('e', 30_000));
  assert.equal(await holds(store, 'c'), true);
  assert.equal(await holds(store, 'e'), true);
  assert.equal((await holding(store)).length, 3, 'three fit');
  await store.close();
});

test('a file larger than the quota is not stored, without an error; an older form of it goes too', async () => {
  const store = SqliteStore.open(join(dir, 'big.db'), { maxBytes: 50_000 });
  await store.put(madeUp('small', 10_000));
  await store.put(madeUp('big', 10_000));
  assert.equal(store.fits(60_000), false);
  await store.put(madeUp('big', 60_000));
  assert.equal(await holds(store, 'big'), false, 'not stored, and the older, smaller form is gone too');
  assert.equal(await store.has('big'), true, 'its recipe is kept: still registered');
  assert.equal(await holds(store, 'small'), true, 'nothing evicted for a file that is not stored');
  assert.equal(await store.totalBytes(), counted('small', 10_000));
  await store.close();
});

test('maxBytes 0 is unlimited; a negative quota is USAGE', async () => {
  const store = SqliteStore.open(':memory:', { maxBytes: 0 });
  for (let i = 0; i < 20; i++) await store.put(madeUp(`u${i}`, 100_000));
  assert.equal((await store.list()).length, 20);
  assert.equal(store.fits(Number.MAX_SAFE_INTEGER), true);
  await store.close();
  assert.throws(() => SqliteStore.open(':memory:', { maxBytes: -1 }), isCode('USAGE'));
});

test('a version 1 database upgrades in place: sizes counted, last use taken as created', async () => {
  const path = join(dir, 'v1.db');
  const old = new Database(path);
  old.pragma('journal_mode = WAL');
  old.exec(`CREATE TABLE virtual_files (
    id TEXT PRIMARY KEY NOT NULL, recipe TEXT NOT NULL, created INTEGER NOT NULL, compiled BLOB NOT NULL)`);
  const insert = old.prepare('INSERT INTO virtual_files VALUES (?, ?, ?, ?)');
  for (const [id, created] of [
    ['old', 1000],
    ['middle', 2000],
    ['new', 3000],
  ] as const) {
    const f = madeUp(id, 20_000, created);
    insert.run(f.id, JSON.stringify(f.recipe), f.created, Buffer.from(f.compiled));
  }
  old.pragma('user_version = 1');
  old.close();

  const limit = counted('old', 20_000) + counted('middle', 20_000) + counted('new', 20_000) + 10;
  const store = SqliteStore.open(path, { maxBytes: limit });
  assert.equal(await store.totalBytes(), limit - 10);
  assert.deepEqual(
    (await store.list()).map((f) => f.id),
    ['old', 'middle', 'new'],
  );
  assert.equal((await store.get('middle'))?.compiled.length, 20_000);
  await store.put(madeUp('next', 20_000, 4000));
  assert.equal(await holds(store, 'middle'), true, 'read after the upgrade: kept');
  assert.equal(await holds(store, 'old'), false, 'the oldest, never read since the upgrade, evicted');
  await store.close();

  const raw = new Database(path, { readonly: true });
  assert.equal(raw.pragma('user_version', { simple: true }), SQLITE_SCHEMA_VERSION);
  raw.close();
  // Opening again changes nothing (the migration ran once).
  const again = SqliteStore.open(path, { maxBytes: limit });
  assert.equal((await again.list()).length, 4);
  await again.close();
});

test('many distinct recipes of a hostile size (issue 11 C.5) leave the store bounded', async () => {
  // Each ?video=/?audio= variant of a hostile manifest is another id with another multi-megabyte
  // compiled form. The quota bounds the byte total of the rows; the file itself is that plus
  // SQLite's pages and free pages it reuses, so it stays near the quota with no VACUUM needed.
  const path = join(dir, 'hostile.db');
  const quota = 8 << 20;
  const store = SqliteStore.open(path, { maxBytes: quota });
  for (let i = 0; i < 40; i++) await store.put(madeUp(`variant-${i}`, 1 << 20));
  assert.ok((await store.totalBytes()) <= quota);
  assert.ok((await holding(store)).length <= 8);
  await store.close(); // checkpoints the WAL into the main file
  const size = statSync(path).size;
  assert.ok(size < 2 * quota, `database file ${size} bytes for a ${quota}-byte quota (40 MiB were put)`);
});

test('the setting reaches the store: VVF_STORE_MAX_BYTES, and openStore passes storeMaxBytes', async () => {
  assert.equal(loadServeConfig({ env: { VVF_STORE_MAX_BYTES: '12345' } }).storeMaxBytes, 12345);
  assert.equal(loadServeConfig({ env: {} }).storeMaxBytes, 1024 * 1024 * 1024);
  assert.throws(() => loadServeConfig({ env: { VVF_STORE_MAX_BYTES: 'lots' } }), isCode('USAGE'));
  const tiered = await openStore({ ...defaultCatalogConfig, storePath: join(dir, 'wired.db'), storeMaxBytes: 4321 });
  assert.ok(tiered);
  assert.ok(tiered.persistent instanceof SqliteStore);
  assert.equal(tiered.persistent.maxBytes, 4321);
  await tiered.close();
});
