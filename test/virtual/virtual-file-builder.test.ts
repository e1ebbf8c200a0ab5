import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MemorySource } from '../../src/sources/memory-source.js';
import { refOf, type SourceRef } from '../../src/virtual/source-ref.js';
import { VirtualFileBuilder } from '../../src/virtual/virtual-file-builder.js';
import { assertSameBytes, isCode, lookupResolver, prng, randomBytesFrom } from './virtual-helpers.js';

const refs: SourceRef[] = [
  { key: 'a', validator: 'va', size: 1000 },
  { key: 'b', validator: 'vb', size: 1000 },
];

test('merges contiguous runs of one source and consecutive held bytes, nothing else', () => {
  const b = new VirtualFileBuilder(refs);
  b.addBytes(new Uint8Array([1, 2]));
  b.addBytes(new Uint8Array([3]));
  b.addBytes(new Uint8Array(0));
  b.addSourceRange(0, 0, 10);
  b.addSourceRange(0, 10, 5); // continues: merged
  b.addSourceRange(0, 15, 0); // empty: ignored
  b.addSourceRange(0, 20, 5); // gap in the source
  b.addSourceRange(1, 25, 5); // other source
  b.addSourceRange(0, 25, 5); // continues source 0's last run, but not the previous extent
  b.addBytes(new Uint8Array([4]));
  b.addSourceRange(0, 30, 5); // a held extent in between
  assert.equal(b.size, 3 + 15 + 5 + 5 + 5 + 1 + 5);
  assert.equal(b.extentCount, 7);
  const vf = b.build({ format: 'test-v1', resolve: lookupResolver([]).resolve });
  assert.deepEqual(
    [...vf.extents()],
    [
      { start: 0, end: 3, kind: 'bytes' },
      { start: 3, end: 18, kind: 'source', sourceIndex: 0, sourceOffset: 0 },
      { start: 18, end: 23, kind: 'source', sourceIndex: 0, sourceOffset: 20 },
      { start: 23, end: 28, kind: 'source', sourceIndex: 1, sourceOffset: 25 },
      { start: 28, end: 33, kind: 'source', sourceIndex: 0, sourceOffset: 25 },
      { start: 33, end: 34, kind: 'bytes' },
      { start: 34, end: 39, kind: 'source', sourceIndex: 0, sourceOffset: 30 },
    ],
  );
  assert.equal(vf.memoryBytes(), 4 + 7 * 20);
});

test('grows past its initial capacity; held bytes stay in order across growth', async () => {
  const data = randomBytesFrom(prng(1), 100_000);
  const source = new MemorySource(data, 'memory:grow');
  const b = new VirtualFileBuilder([source]);
  const expected: Uint8Array[] = [];
  const rng = prng(2);
  for (let i = 0; i < 5000; i++) {
    const held = randomBytesFrom(rng, 1 + (i % 7));
    b.addBytes(held);
    expected.push(held);
    const offset = (i * 13) % 90_000;
    b.addSourceRange(0, offset, 17);
    expected.push(data.subarray(offset, offset + 17));
  }
  assert.equal(b.extentCount, 10_000);
  const vf = b.build({ format: 'test-v1', resolve: lookupResolver([source]).resolve });
  assertSameBytes(await vf.read(0, vf.size), Buffer.concat(expected));
  // The builder goes on without changing what it built.
  b.addBytes(new Uint8Array(10));
  assert.equal(vf.extentCount, 10_000);
  assert.equal(b.build({ format: 'test-v1', resolve: lookupResolver([source]).resolve }).size, vf.size + 10);
});

test('refuses ranges outside their source and unknown source indexes', () => {
  const b = new VirtualFileBuilder(refs);
  assert.throws(() => b.addSourceRange(2, 0, 1), isCode('USAGE'));
  assert.throws(() => b.addSourceRange(-1, 0, 1), isCode('USAGE'));
  assert.throws(() => b.addSourceRange(0.5, 0, 1), isCode('USAGE'));
  assert.throws(() => b.addSourceRange(0, 999, 2), isCode('SOURCE_RANGE'));
  assert.throws(() => b.addSourceRange(0, 1001, 0), isCode('SOURCE_RANGE'));
  assert.throws(() => b.addSourceRange(0, -1, 1), isCode('SOURCE_RANGE'));
  assert.throws(() => b.addSourceRange(0, 0, Number.NaN), isCode('SOURCE_RANGE'));
  assert.equal(b.size, 0);
  b.addSourceRange(0, 999, 1);
  assert.equal(b.size, 1);
  assert.throws(() => new VirtualFileBuilder([{ key: 'x', validator: 'v', size: -1 }]), isCode('USAGE'));
});

test('keeps only key, validator and size of the sources it is given', () => {
  const source = new MemorySource(new Uint8Array(10), 'memory:ten');
  const b = new VirtualFileBuilder([source]);
  assert.deepEqual(b.sources, [refOf(source)]);
  assert.ok(!(b.sources[0] instanceof MemorySource));
});
