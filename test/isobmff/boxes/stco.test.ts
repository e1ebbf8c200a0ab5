import assert from 'node:assert/strict';
import { test } from 'node:test';
import { stcoCodec } from '../../../src/isobmff/boxes/stco.js';
import { encodeBox } from '../../../src/isobmff/codec.js';
import { assertRoundTrip, be32, be64, boxBytes, parseBox, vvfCode } from './roundtrip.js';

test('stco round-trips 32-bit offsets', () => {
  const box = assertRoundTrip(
    stcoCodec,
    boxBytes('stco', [0, 0, 0, 0, ...be32(3), ...be32(48), ...be32(4096), ...be32(0xffffffff)]),
  );
  assert.equal(box.type, 'stco');
  assert.deepEqual([...box.offsets], [48, 4096, 0xffffffff]);
});

test('co64 round-trips 64-bit offsets up to 2^53', () => {
  const box = assertRoundTrip(stcoCodec, boxBytes('co64', [0, 0, 0, 0, ...be32(2), ...be64(2 ** 32 + 5), ...be64(2 ** 53 - 1)]));
  assert.equal(box.type, 'co64');
  assert.deepEqual([...box.offsets], [2 ** 32 + 5, 2 ** 53 - 1]);
});

test('stco and co64 with trailing bytes and built from arrays', () => {
  assert.deepEqual(assertRoundTrip(stcoCodec, boxBytes('stco', [0, 0, 0, 0, ...be32(0), 1])).trailing, new Uint8Array([1]));
  const bytes = encodeBox(stcoCodec, { type: 'co64', version: 0, flags: 0, offsets: Float64Array.of(2 ** 40) });
  assert.deepEqual(bytes, boxBytes('co64', [0, 0, 0, 0, ...be32(1), ...be64(2 ** 40)]));
});

test('co64 past 2^53 is NUMBER_TOO_LARGE', () => {
  assert.throws(
    () => parseBox(stcoCodec, boxBytes('co64', [0, 0, 0, 0, ...be32(1), ...be32(0xffffffff), ...be32(0)])),
    vvfCode('NUMBER_TOO_LARGE'),
  );
});

test('counts beyond their bytes are a BOX_OVERRUN', () => {
  assert.throws(
    () => parseBox(stcoCodec, boxBytes('stco', [0, 0, 0, 0, ...be32(0xffffffff), ...be32(1)])),
    vvfCode('BOX_OVERRUN'),
  );
  // Two stco entries' worth of bytes are one co64 entry.
  assert.throws(
    () => parseBox(stcoCodec, boxBytes('co64', [0, 0, 0, 0, ...be32(2), ...be32(0), ...be32(1)])),
    vvfCode('BOX_OVERRUN'),
  );
});

test('stcoCodec refuses other box types', () => {
  assert.throws(() => parseBox(stcoCodec, boxBytes('stsz', [0, 0, 0, 0, ...be32(0)])), vvfCode('BOX_INVALID'));
});
