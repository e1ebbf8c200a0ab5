import assert from 'node:assert/strict';
import { test } from 'node:test';
import { elstCodec } from '../../../src/isobmff/boxes/elst.js';
import { encodeBox } from '../../../src/isobmff/codec.js';
import { assertRoundTrip, be16, be32, be64, boxBytes, parseBox, vvfCode } from './roundtrip.js';

test('elst v0 round-trips, with an empty edit and a signed media time', () => {
  const bytes = boxBytes('elst', [
    0,
    0,
    0,
    0,
    ...be32(2),
    ...be32(500),
    ...be32(-1),
    ...be16(1),
    ...be16(0),
    ...be32(2000),
    ...be32(1024),
    ...be16(1),
    ...be16(0),
  ]);
  const box = assertRoundTrip(elstCodec, bytes);
  assert.deepEqual(box.entries, [
    { segmentDuration: 500, mediaTime: -1, mediaRateInteger: 1, mediaRateFraction: 0 },
    { segmentDuration: 2000, mediaTime: 1024, mediaRateInteger: 1, mediaRateFraction: 0 },
  ]);
});

test('elst v1 round-trips with 64-bit values and a negative media time', () => {
  const bytes = boxBytes('elst', [
    1,
    0,
    0,
    0,
    ...be32(2),
    ...be64(2 ** 40),
    ...be64(-1),
    ...be16(1),
    ...be16(0),
    ...be64(7),
    ...be64(2 ** 36),
    ...be16(-1),
    ...be16(0x8000),
  ]);
  const box = assertRoundTrip(elstCodec, bytes);
  assert.equal(box.entries[0]?.segmentDuration, 2 ** 40);
  assert.equal(box.entries[0]?.mediaTime, -1);
  assert.equal(box.entries[1]?.mediaTime, 2 ** 36);
  assert.equal(box.entries[1]?.mediaRateInteger, -1);
  assert.equal(box.entries[1]?.mediaRateFraction, -0x8000);
});

test('elst with no entries and with trailing bytes', () => {
  assert.deepEqual(assertRoundTrip(elstCodec, boxBytes('elst', [0, 0, 0, 0, ...be32(0)])).entries, []);
  const box = assertRoundTrip(elstCodec, boxBytes('elst', [0, 0, 0, 0, ...be32(0), 1, 2, 3]));
  assert.deepEqual(box.trailing, new Uint8Array([1, 2, 3]));
});

test('elst written from a built box', () => {
  const bytes = encodeBox(elstCodec, {
    version: 0,
    flags: 0,
    entries: [{ segmentDuration: 10, mediaTime: -1, mediaRateInteger: 1, mediaRateFraction: 0 }],
  });
  assert.deepEqual(bytes, boxBytes('elst', [0, 0, 0, 0, ...be32(1), ...be32(10), ...be32(-1), ...be16(1), ...be16(0)]));
});

test('elst count beyond its bytes is a BOX_OVERRUN before allocating', () => {
  assert.throws(
    () => parseBox(elstCodec, boxBytes('elst', [0, 0, 0, 0, ...be32(0xffffffff), ...be32(1)])),
    vvfCode('BOX_OVERRUN'),
  );
  // Two v0 entries' worth of bytes are not two v1 entries.
  const v0 = [...be32(1), ...be32(0), ...be16(1), ...be16(0)];
  assert.throws(() => parseBox(elstCodec, boxBytes('elst', [1, 0, 0, 0, ...be32(2), ...v0, ...v0])), vvfCode('BOX_OVERRUN'));
  assert.throws(() => parseBox(elstCodec, boxBytes('elst', [2, 0, 0, 0, ...be32(0)])), vvfCode('UNSUPPORTED'));
});
