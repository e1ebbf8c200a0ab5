import assert from 'node:assert/strict';
import { test } from 'node:test';
import { tkhdCodec } from '../../../src/isobmff/boxes/tkhd.js';
import { assertRoundTrip, be16, be32, be64, boxBytes, parseBox, vvfCode } from './roundtrip.js';

const matrix = Array.from({ length: 36 }, (_, i) => (i % 4 === 1 ? 1 : 0));

/** reserved(4), duration, reserved(8), layer, alternate_group, volume, reserved(2), matrix, width, height. */
function afterTrackId(duration: number[]): number[] {
  return [
    0,
    0,
    0,
    1,
    ...duration,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    2,
    ...be16(-1),
    ...be16(1),
    ...be16(0x100),
    0,
    3,
    ...matrix,
    ...be32(320 << 16),
    ...be32(240 << 16),
  ];
}

test('tkhd v0 round-trips', () => {
  const bytes = boxBytes('tkhd', [0, 0, 0, 3, ...be32(10), ...be32(11), ...be32(7), ...afterTrackId(be32(2000))]);
  assert.equal(bytes.length, 92);
  const box = assertRoundTrip(tkhdCodec, bytes);
  assert.equal(box.flags, 3);
  assert.equal(box.creationTime, 10);
  assert.equal(box.modificationTime, 11);
  assert.equal(box.trackId, 7);
  assert.equal(box.duration, 2000);
  assert.equal(box.layer, -1);
  assert.equal(box.alternateGroup, 1);
  assert.equal(box.volume, 0x100);
  assert.equal(box.width, 320 * 65536);
  assert.equal(box.height, 240 * 65536);
  assert.deepEqual(box.reserved1, new Uint8Array([0, 0, 0, 1]));
  assert.deepEqual(box.reserved3, new Uint8Array([0, 3]));
});

test('tkhd v1 round-trips with 64-bit times', () => {
  const bytes = boxBytes('tkhd', [1, 0, 0, 1, ...be64(2 ** 33), ...be64(2 ** 33), ...be32(1), ...afterTrackId(be64(2 ** 35))]);
  assert.equal(bytes.length, 104);
  const box = assertRoundTrip(tkhdCodec, bytes);
  assert.equal(box.version, 1);
  assert.equal(box.creationTime, 2 ** 33);
  assert.equal(box.duration, 2 ** 35);
});

test('tkhd keeps trailing bytes', () => {
  const box = assertRoundTrip(
    tkhdCodec,
    boxBytes('tkhd', [0, 0, 0, 3, ...be32(0), ...be32(0), ...be32(1), ...afterTrackId(be32(5)), 1]),
  );
  assert.deepEqual(box.trailing, new Uint8Array([1]));
});

test('truncated tkhd is a BOX_OVERRUN, unknown version is UNSUPPORTED', () => {
  const payload = [0, 0, 0, 3, ...be32(0), ...be32(0), ...be32(1), ...afterTrackId(be32(5))];
  assert.throws(() => parseBox(tkhdCodec, boxBytes('tkhd', payload.slice(0, -4))), vvfCode('BOX_OVERRUN'));
  // A v1 header over a v0-sized payload runs out too.
  assert.throws(() => parseBox(tkhdCodec, boxBytes('tkhd', [1, ...payload.slice(1)])), vvfCode('BOX_OVERRUN'));
  assert.throws(() => parseBox(tkhdCodec, boxBytes('tkhd', [3, ...payload.slice(1)])), vvfCode('UNSUPPORTED'));
});
