import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MemorySource } from '../../src/sources/memory-source.js';
import { refOf, resolveWith } from '../../src/virtual/source-ref.js';
import { isCode } from './virtual-helpers.js';

test('refOf keeps key, validator and size', () => {
  const s = new MemorySource(new Uint8Array([1, 2, 3]), 'memory:abc');
  assert.deepEqual(refOf(s), { key: 'memory:abc', validator: s.validator, size: 3 });
});

test('resolveWith opens by key and refuses, closing it, a source whose validator or size changed', async () => {
  const original = new MemorySource(new Uint8Array([1, 2, 3]), 'memory:abc');
  const ref = refOf(original);
  const opened: string[] = [];
  const same = resolveWith(async (key) => {
    opened.push(key);
    return new MemorySource(new Uint8Array([1, 2, 3]), key);
  });
  const got = await same(ref);
  assert.deepEqual(opened, ['memory:abc']);
  assert.deepEqual(await got.read(0, 3), new Uint8Array([1, 2, 3]));

  let changed: MemorySource | undefined;
  const other = resolveWith(async (key) => {
    changed = new MemorySource(new Uint8Array([1, 2, 4]), key);
    return changed;
  });
  await assert.rejects(other(ref), isCode('SOURCE_CHANGED'));
  await assert.rejects(changed!.read(0, 1), isCode('USAGE'), 'the refused source was closed');

  // Same validator string, different size: refused too.
  const resized = resolveWith(async (key) => {
    const s = new MemorySource(new Uint8Array(4), key);
    return Object.assign(Object.create(s) as MemorySource, { validator: ref.validator, size: 4 });
  });
  await assert.rejects(resized(ref), isCode('SOURCE_CHANGED'));
});
