import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sttsCodec } from '../../../src/isobmff/boxes/stts.js';
import { encodeBox } from '../../../src/isobmff/codec.js';
import { assertRoundTrip, be32, boxBytes, parseBox, vvfCode } from './roundtrip.js';

test('stts round-trips its runs', () => {
  const bytes = boxBytes('stts', [0, 0, 0, 0, ...be32(2), ...be32(86), ...be32(1024), ...be32(1), ...be32(0xffffffff)]);
  const box = assertRoundTrip(sttsCodec, bytes);
  assert.deepEqual([...box.counts], [86, 1]);
  assert.deepEqual([...box.deltas], [1024, 0xffffffff]);
});

test('stts empty, and with trailing bytes', () => {
  assert.equal(assertRoundTrip(sttsCodec, boxBytes('stts', [0, 0, 0, 0, ...be32(0)])).counts.length, 0);
  const box = assertRoundTrip(sttsCodec, boxBytes('stts', [0, 0, 0, 0, ...be32(1), ...be32(1), ...be32(2), 0, 0]));
  assert.deepEqual(box.trailing, new Uint8Array([0, 0]));
});

test('stts written from typed arrays', () => {
  const bytes = encodeBox(sttsCodec, { version: 0, flags: 0, counts: Uint32Array.of(3), deltas: Uint32Array.of(512) });
  assert.deepEqual(bytes, boxBytes('stts', [0, 0, 0, 0, ...be32(1), ...be32(3), ...be32(512)]));
});

test('stts count beyond its bytes is a BOX_OVERRUN', () => {
  assert.throws(
    () => parseBox(sttsCodec, boxBytes('stts', [0, 0, 0, 0, ...be32(0x40000000), ...be32(1), ...be32(1)])),
    vvfCode('BOX_OVERRUN'),
  );
  assert.throws(() => parseBox(sttsCodec, boxBytes('stts', [0, 0, 0, 0, ...be32(1), ...be32(1)])), vvfCode('BOX_OVERRUN'));
  assert.throws(() => parseBox(sttsCodec, boxBytes('stts', [0, 0, 0])), vvfCode('BOX_OVERRUN'));
});
