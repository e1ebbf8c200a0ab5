// SqliteStore: round trips in a real database file, persistence, two connections and two processes on one file.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import Database from 'better-sqlite3';
import { SQLITE_SCHEMA_VERSION, SqliteStore } from '../../src/store/sqlite-store.js';
import { assertSameBytes, isCode } from '../virtual/virtual-helpers.js';
import { madeUp, projectFile, runChild } from './store-helpers.js';

let dir = '';
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vvf-sqlite-store-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

test('put, get, list and delete round trip, and survive closing and reopening', async () => {
  const path = join(dir, 'nested', 'folder', 'round-trip.db');
  const store = SqliteStore.open(path);
  const a = madeUp('a', 1000, 2000);
  const b = madeUp('b', 8 << 20, 1000);
  await store.put(a);
  await store.put(b);
  const got = await store.get('a');
  assert.ok(got);
  assert.equal(got.id, 'a');
  assert.deepEqual(got.recipe, a.recipe);
  assert.equal(got.created, 2000);
  assertSameBytes(got.compiled, a.compiled, 'compiled bytes');
  assert.equal(await store.get('missing'), undefined);
  assert.deepEqual(await store.list(), [
    { id: 'b', recipe: b.recipe, created: 1000 },
    { id: 'a', recipe: a.recipe, created: 2000 },
  ]);
  const a2 = madeUp('a', 10, 3000);
  await store.put(a2);
  assert.equal((await store.get('a'))?.compiled.length, 10, 'put replaces');
  assert.equal((await store.list()).length, 2);
  assert.equal(await store.delete('a'), true);
  assert.equal(await store.delete('a'), false);
  await store.close();
  await assert.rejects(store.get('b'), isCode('USAGE'));

  const reopened = SqliteStore.open(path);
  const again = await reopened.get('b');
  assert.ok(again, 'persisted');
  assert.equal(sha(again.compiled), sha(b.compiled), '8 MiB blob intact');
  assert.equal(await reopened.get('a'), undefined, 'deletion persisted');
  await reopened.close();

  const raw = new Database(path, { readonly: true });
  assert.equal(raw.pragma('journal_mode', { simple: true }), 'wal');
  assert.equal(raw.pragma('user_version', { simple: true }), SQLITE_SCHEMA_VERSION);
  raw.close();
});

test('two stores on one file see each other’s writes and deletions', async () => {
  const path = join(dir, 'two.db');
  const writer = SqliteStore.open(path);
  const reader = SqliteStore.open(path);
  await writer.put(madeUp('shared', 5000));
  const seen = await reader.get('shared');
  assert.ok(seen);
  assertSameBytes(seen.compiled, madeUp('shared', 5000).compiled, 'what the other wrote');
  assert.equal(await reader.delete('shared'), true);
  assert.equal(await writer.get('shared'), undefined);
  await writer.close();
  await reader.close();
});

const CHILD = `
const { SqliteStore } = await import(process.argv[1]);
const { createHash } = await import('node:crypto');
const store = SqliteStore.open(process.argv[2]);
const found = await store.get('from-parent');
const out = { list: (await store.list()).map((f) => f.id), sha: found && createHash('sha256').update(found.compiled).digest('hex'), recipe: found?.recipe };
// Then write while the parent writes too.
const n = Number(process.argv[3]);
out.start = Date.now();
for (let i = 0; i < n; i++) {
  const compiled = new Uint8Array(4096).fill(i & 0xff);
  await store.put({ id: 'child-' + i, recipe: { i }, created: Date.now(), compiled });
}
out.end = Date.now();
await store.close();
console.log(JSON.stringify(out));
`;

test('another process reads what this one wrote, and both write at once without SQLITE_BUSY', async () => {
  const path = join(dir, 'processes.db');
  const store = SqliteStore.open(path);
  const mine = madeUp('from-parent', 100_000);
  await store.put(mine);
  const n = 1000;
  const child = runChild(CHILD, [projectFile('src/store/sqlite-store.ts'), path, String(n)]);
  let childDone = false;
  void child.finally(() => {
    childDone = true;
  });
  // Write here until the child is done, so that its writes meet ours; each put is one transaction.
  const written: number[] = [];
  while (!childDone) {
    const created = Date.now();
    await store.put({ ...madeUp(`parent-${written.length}`, 64), created });
    written.push(created);
    await new Promise((r) => setTimeout(r, 1));
  }
  const out = (await child) as { list: string[]; sha: string; recipe: unknown; start: number; end: number };
  assert.equal(out.sha, sha(mine.compiled), 'the child read the bytes the parent wrote');
  assert.deepEqual(out.recipe, mine.recipe);
  assert.ok(out.list.includes('from-parent'));
  assert.ok(
    written.some((t) => t >= out.start && t <= out.end),
    `this process wrote while the child did (${out.start}-${out.end})`,
  );
  const ids = new Set((await store.list()).map((f) => f.id));
  for (let i = 0; i < n; i++) assert.ok(ids.has(`child-${i}`), `child-${i}`);
  for (let i = 0; i < written.length; i++) assert.ok(ids.has(`parent-${i}`), `parent-${i}`);
  const last = await store.get(`child-${n - 1}`);
  assert.equal(last?.compiled[0], (n - 1) & 0xff);
  await store.close();
});

test('a database of a newer schema, or a file that is no database, fails with USAGE', async () => {
  const newer = join(dir, 'newer.db');
  await SqliteStore.open(newer).close();
  const raw = new Database(newer);
  raw.pragma('user_version = 99');
  raw.close();
  assert.throws(() => SqliteStore.open(newer), isCode('USAGE'));

  const garbage = join(dir, 'garbage.db');
  await writeFile(garbage, Buffer.alloc(8192, 0x41));
  assert.throws(() => SqliteStore.open(garbage), isCode('USAGE'));
  assert.throws(() => SqliteStore.open(join(dir, 'x.db'), { busyTimeoutMs: -1 }), isCode('USAGE'));
  assert.equal(existsSync(join(dir, 'x.db')), false);
});

test('a row whose recipe is not JSON is a miss, not an error', async () => {
  const path = join(dir, 'bad-row.db');
  const store = SqliteStore.open(path);
  await store.put(madeUp('good', 10));
  await store.put(madeUp('bad', 10));
  const raw = new Database(path);
  raw.prepare("UPDATE virtual_files SET recipe = '{not json' WHERE id = 'bad'").run();
  raw.close();
  assert.equal(await store.get('bad'), undefined);
  assert.ok(await store.get('good'));
  assert.deepEqual(
    (await store.list()).map((f) => f.id),
    ['good'],
  );
  await store.close();
});
