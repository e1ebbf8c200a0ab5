import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ReadAheadSource } from '../../src/demux/read-ahead.js';
import { MemorySource } from '../../src/sources/memory-source.js';

function bytes(n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + 7) & 0xff;
  return b;
}

test('small reads inside one block cost one source read, concurrent or not, with the right bytes', async () => {
  const data = bytes(10_000);
  const inner = new MemorySource(data);
  const ra = new ReadAheadSource(inner, 4096, 2);
  const reads = [
    [0, 100],
    [100, 50],
    [4000, 96],
    [1234, 1],
  ] as const;
  const got = await Promise.all(reads.map(([o, n]) => ra.read(o, n)));
  for (const [i, [o, n]] of reads.entries()) assert.deepEqual(got[i], data.subarray(o, o + n), `read ${o}+${n}`);
  assert.equal(inner.readCount, 1);
  assert.equal(inner.bytesRead, 4096);
  // The last block is short: it ends at the source's end.
  assert.deepEqual(await ra.read(9000, 1000), data.subarray(9000, 10_000));
  assert.equal(inner.readCount, 2);
  assert.equal(inner.bytesRead, 4096 + 10_000 - 8192);
});

test('reads across a block boundary or larger than half a block go straight to the source', async () => {
  const data = bytes(10_000);
  const inner = new MemorySource(data);
  const ra = new ReadAheadSource(inner, 4096, 2);
  assert.deepEqual(await ra.read(4000, 200), data.subarray(4000, 4200));
  assert.equal(inner.bytesRead, 200);
  assert.deepEqual(await ra.read(0, 3000), data.subarray(0, 3000));
  assert.equal(inner.bytesRead, 3200);
});

test('blocks are bounded in number; a failed block read is not kept', async () => {
  const data = bytes(20_000);
  const inner = new MemorySource(data);
  const ra = new ReadAheadSource(inner, 4096, 2);
  await ra.read(0, 10);
  await ra.read(4096, 10);
  await ra.read(8192, 10);
  assert.equal(inner.readCount, 3);
  await ra.read(20, 10); // block 0 was dropped for block 2
  assert.equal(inner.readCount, 4);
  await ra.read(8200, 10); // block 2 is still held
  assert.equal(inner.readCount, 4);

  let fail = true;
  const read = inner.read.bind(inner);
  inner.read = (o: number, n: number) => (fail ? Promise.reject(new Error('down')) : read(o, n));
  await assert.rejects(ra.read(12_300, 10), /down/);
  fail = false;
  assert.deepEqual(await ra.read(12_300, 10), data.subarray(12_300, 12_310));
});
