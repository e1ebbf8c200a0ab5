// MemoryLruStore: round trips, eviction of the least recently used past the byte budget.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MemoryLruStore } from '../../src/store/memory-lru.js';
import type { StoredFile } from '../../src/store/metadata-store.js';
import { isCode } from '../virtual/virtual-helpers.js';
import { madeUp } from './store-helpers.js';

const cost = (f: StoredFile) => f.compiled.byteLength + JSON.stringify(f.recipe).length;

test('put, get, list and delete round trip', async () => {
  const store = new MemoryLruStore({ maxBytes: 1 << 20 });
  const a = madeUp('a', 100, 2000);
  const b = madeUp('b', 200, 1000);
  await store.put(a);
  await store.put(b);
  assert.equal(await store.get('a'), a);
  assert.equal(await store.get('missing'), undefined);
  assert.deepEqual(await store.list(), [
    { id: 'b', recipe: b.recipe, created: 1000 },
    { id: 'a', recipe: a.recipe, created: 2000 },
  ]);
  assert.equal(store.bytes, cost(a) + cost(b));
  const a2 = madeUp('a', 50, 3000);
  await store.put(a2);
  assert.equal(await store.get('a'), a2, 'put replaces');
  assert.equal(store.bytes, cost(a2) + cost(b));
  assert.equal(await store.delete('a'), true);
  assert.equal(await store.delete('a'), false);
  assert.equal(await store.get('a'), undefined);
  assert.equal(store.count, 1);
  assert.equal(store.bytes, cost(b));
});

test('evicts the least recently used until the new file fits', async () => {
  const files = ['a', 'b', 'c', 'd'].map((id) => madeUp(id, 1000));
  const one = cost(files[0]!);
  const store = new MemoryLruStore({ maxBytes: 3 * one });
  for (const f of files.slice(0, 3)) await store.put(f);
  assert.equal(store.bytes, 3 * one);
  // Using `a` makes `b` the least recently used.
  assert.ok(await store.get('a'));
  await store.put(files[3]!);
  assert.deepEqual(
    (await store.list()).map((f) => f.id),
    ['a', 'c', 'd'],
  );
  assert.equal(await store.has('b'), false);
  assert.ok(store.bytes <= store.maxBytes);
  // A file of about two evicts the two least recently used (c, then a), and no more.
  await store.put(madeUp('big', 1900));
  assert.deepEqual(
    (await store.list()).map((f) => f.id),
    ['big', 'd'],
  );
  assert.ok(store.bytes <= store.maxBytes);
});

test('a file larger than the budget is not held, and drops an older entry of its id', async () => {
  const store = new MemoryLruStore({ maxBytes: 5000 });
  await store.put(madeUp('x', 100));
  await store.put(madeUp('y', 100));
  await store.put(madeUp('x', 10_000));
  assert.equal(await store.get('x'), undefined, 'no stale x left behind');
  assert.ok(await store.get('y'), 'others are kept');
  assert.equal(store.bytes, cost(madeUp('y', 100)));
});

test('a zero budget holds nothing; bad options and use after close fail with USAGE', async () => {
  const none = new MemoryLruStore({ maxBytes: 0 });
  await none.put(madeUp('a', 1));
  assert.equal(none.count, 0);
  assert.throws(() => new MemoryLruStore({ maxBytes: -1 }), isCode('USAGE'));
  assert.throws(() => new MemoryLruStore({ maxBytes: 1.5 }), isCode('USAGE'));
  const store = new MemoryLruStore({ maxBytes: 100 });
  await store.close();
  await assert.rejects(store.get('a'), isCode('USAGE'));
  await assert.rejects(store.put(madeUp('a', 1)), isCode('USAGE'));
});
