import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cttsCodec } from '../../../src/isobmff/boxes/ctts.js';
import { assertRoundTrip, be32, boxBytes, parseBox, vvfCode } from './roundtrip.js';

test('ctts v0 round-trips, reading negative offsets as signed', () => {
  const bytes = boxBytes('ctts', [
    0,
    0,
    0,
    0,
    ...be32(3),
    ...be32(1),
    ...be32(1024),
    ...be32(2),
    ...be32(-512),
    ...be32(1),
    ...be32(0x7fffffff),
  ]);
  const box = assertRoundTrip(cttsCodec, bytes);
  assert.equal(box.version, 0);
  assert.deepEqual([...box.counts], [1, 2, 1]);
  assert.deepEqual([...box.offsets], [1024, -512, 0x7fffffff]);
});

test('ctts v1 round-trips signed offsets', () => {
  const box = assertRoundTrip(cttsCodec, boxBytes('ctts', [1, 0, 0, 0, ...be32(1), ...be32(5), ...be32(-0x80000000)]));
  assert.equal(box.version, 1);
  assert.deepEqual([...box.offsets], [-0x80000000]);
});

test('ctts keeps trailing bytes', () => {
  const box = assertRoundTrip(cttsCodec, boxBytes('ctts', [0, 0, 0, 0, ...be32(0), 4]));
  assert.deepEqual(box.trailing, new Uint8Array([4]));
});

test('ctts count beyond its bytes is a BOX_OVERRUN', () => {
  assert.throws(() => parseBox(cttsCodec, boxBytes('ctts', [0, 0, 0, 0, ...be32(0xffffffff)])), vvfCode('BOX_OVERRUN'));
  assert.throws(
    () => parseBox(cttsCodec, boxBytes('ctts', [0, 0, 0, 0, ...be32(2), ...be32(1), ...be32(1), ...be32(1)])),
    vvfCode('BOX_OVERRUN'),
  );
});
