import assert from 'node:assert/strict';
import { test } from 'node:test';
import { VvfError } from '../../src/errors.js';
import { MemorySource } from '../../src/sources/memory-source.js';

const bytes = Uint8Array.from({ length: 256 }, (_, i) => i);

function isCode(code: string) {
  return (e: unknown) => e instanceof VvfError && e.code === code;
}

test('reads exact ranges and counts them', async () => {
  const s = new MemorySource(bytes);
  assert.equal(s.size, 256);
  assert.match(s.key, /^memory:[0-9a-f]{16}$/);
  assert.deepEqual(await s.read(10, 3), Uint8Array.of(10, 11, 12));
  assert.deepEqual(await s.read(250, 6), Uint8Array.of(250, 251, 252, 253, 254, 255));
  assert.equal((await s.read(256, 0)).length, 0);
  assert.equal(s.readCount, 3);
  assert.equal(s.bytesRead, 9);
});

test('a read returns a copy the caller cannot use to change the source', async () => {
  const s = new MemorySource(bytes);
  const got = await s.read(0, 4);
  got[0] = 99;
  assert.deepEqual(await s.read(0, 1), Uint8Array.of(0));
});

test('validator follows content; key can be named', () => {
  const a = new MemorySource(bytes, 'memory:a');
  const b = new MemorySource(bytes.slice());
  const changed = bytes.slice();
  changed[7] = 0;
  assert.equal(a.key, 'memory:a');
  assert.equal(a.validator, b.validator);
  assert.notEqual(new MemorySource(changed).validator, a.validator);
  assert.notEqual(new MemorySource(bytes.subarray(0, 255)).validator, a.validator);
});

test('reads outside the source are SOURCE_RANGE; reads after close fail', async () => {
  const s = new MemorySource(bytes);
  await assert.rejects(s.read(250, 7), isCode('SOURCE_RANGE'));
  await assert.rejects(s.read(-1, 1), isCode('SOURCE_RANGE'));
  await assert.rejects(s.read(1.5, 1), isCode('SOURCE_RANGE'));
  await assert.rejects(s.read(0, Number.NaN), isCode('SOURCE_RANGE'));
  assert.equal(s.readCount, 0);
  await s.close();
  await assert.rejects(s.read(0, 1), isCode('USAGE'));
});
