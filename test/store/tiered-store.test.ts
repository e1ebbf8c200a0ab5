// TieredStore: memory first, the persistent store behind it, memory warmed from it.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { MemoryLruStore } from '../../src/store/memory-lru.js';
import type { MetadataStore, StoredFile, StoredFileInfo } from '../../src/store/metadata-store.js';
import { SqliteStore } from '../../src/store/sqlite-store.js';
import { TieredStore } from '../../src/store/tiered-store.js';
import { assertSameBytes } from '../virtual/virtual-helpers.js';
import { madeUp } from './store-helpers.js';

let dir = '';
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vvf-tiered-store-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A store that counts the gets that reach it. */
class CountingStore implements MetadataStore {
  gets = 0;
  constructor(private readonly inner: MetadataStore) {}
  list(): Promise<StoredFileInfo[]> {
    return this.inner.list();
  }
  get(id: string): Promise<StoredFile | undefined> {
    this.gets++;
    return this.inner.get(id);
  }
  has(id: string): Promise<boolean> {
    return this.inner.has(id);
  }
  put(file: StoredFile): Promise<void> {
    return this.inner.put(file);
  }
  delete(id: string): Promise<boolean> {
    return this.inner.delete(id);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

test('put goes to both tiers; get is answered from memory while it holds the file', async () => {
  const path = join(dir, 'both.db');
  const persistent = new CountingStore(SqliteStore.open(path));
  const memory = new MemoryLruStore({ maxBytes: 1 << 20 });
  const store = new TieredStore(memory, persistent);
  const a = madeUp('a', 1000);
  await store.put(a);
  assert.ok(await memory.has('a'));
  assert.equal((await persistent.get('a'))?.id, 'a');
  persistent.gets = 0;
  assert.equal(await store.get('a'), a);
  assert.equal(persistent.gets, 0, 'memory answered');
  assert.equal(await store.get('missing'), undefined);
  assert.equal(persistent.gets, 1, 'a miss asks the persistent store');
  await store.close();
});

test('a file evicted from memory, or from before a restart, comes from the persistent store and warms memory', async () => {
  const path = join(dir, 'warm.db');
  const first = new TieredStore(new MemoryLruStore({ maxBytes: 1 << 20 }), SqliteStore.open(path));
  const a = madeUp('a', 3000, 1);
  const b = madeUp('b', 3000, 2);
  await first.put(a);
  await first.put(b);
  await first.close();

  // A restart: empty memory, small enough for one file only, over the same database.
  const memory = new MemoryLruStore({ maxBytes: 4000 });
  const persistent = new CountingStore(SqliteStore.open(path));
  const store = new TieredStore(memory, persistent);
  assert.deepEqual(
    (await store.list()).map((f) => f.id),
    ['a', 'b'],
    'list comes from the persistent store',
  );
  assert.equal(memory.count, 0);
  const got = await store.get('a');
  assert.ok(got);
  assertSameBytes(got.compiled, a.compiled, 'a');
  assert.equal(persistent.gets, 1);
  assert.ok(await memory.has('a'), 'warmed');
  await store.get('a');
  assert.equal(persistent.gets, 1, 'the second get is from memory');
  await store.get('b');
  assert.ok((await memory.has('b')) && !(await memory.has('a')), 'b evicted a from memory');
  assert.equal(persistent.gets, 2);
  assert.deepEqual(
    (await store.list()).map((f) => f.id),
    ['a', 'b'],
    'still listed',
  );
  assert.ok(await store.get('a'), 'and still there');
  assert.equal(persistent.gets, 3);

  assert.equal(await store.delete('a'), true);
  assert.equal(await memory.has('a'), false);
  assert.equal(await persistent.get('a'), undefined);
  assert.equal(await store.delete('a'), false);
  await store.close();
});
