import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mvhdCodec } from '../../../src/isobmff/boxes/mvhd.js';
import { UNKNOWN_DURATION } from '../../../src/isobmff/boxes/time-fields.js';
import { assertRoundTrip, be16, be32, be64, boxBytes, parseBox, vvfCode } from './roundtrip.js';

const matrix = [
  ...be32(0x10000),
  ...be32(0),
  ...be32(0),
  ...be32(0),
  ...be32(0x10000),
  ...be32(0),
  ...be32(0),
  ...be32(0),
  ...be32(0x40000000),
];

/** rate, volume, reserved (with non-zero bytes to prove they are kept), matrix, pre_defined, next_track_ID. */
function tail(nextTrackId: number): number[] {
  const reserved = [0, 7, 0, 0, 0, 1, 0, 0, 0, 2];
  const preDefined = Array.from({ length: 24 }, (_, i) => i);
  return [...be32(0x10000), ...be16(0x100), ...reserved, ...matrix, ...preDefined, ...be32(nextTrackId)];
}

test('mvhd v0 round-trips', () => {
  const bytes = boxBytes('mvhd', [
    0,
    0,
    0,
    0,
    ...be32(3_000_000_000),
    ...be32(3_000_000_001),
    ...be32(1000),
    ...be32(2000),
    ...tail(3),
  ]);
  assert.equal(bytes.length, 108);
  const box = assertRoundTrip(mvhdCodec, bytes);
  assert.equal(box.version, 0);
  assert.equal(box.creationTime, 3_000_000_000);
  assert.equal(box.modificationTime, 3_000_000_001);
  assert.equal(box.timescale, 1000);
  assert.equal(box.duration, 2000);
  assert.equal(box.rate, 0x10000);
  assert.equal(box.volume, 0x100);
  assert.equal(box.matrix.length, 36);
  assert.equal(box.reserved[1], 7);
  assert.equal(box.preDefined[23], 23);
  assert.equal(box.nextTrackId, 3);
});

test('mvhd v1 round-trips with 64-bit times', () => {
  const bytes = boxBytes('mvhd', [
    1,
    0,
    0,
    0,
    ...be64(2 ** 40),
    ...be64(2 ** 40 + 1),
    ...be32(90000),
    ...be64(2 ** 52),
    ...tail(2),
  ]);
  assert.equal(bytes.length, 120);
  const box = assertRoundTrip(mvhdCodec, bytes);
  assert.equal(box.creationTime, 2 ** 40);
  assert.equal(box.timescale, 90000);
  assert.equal(box.duration, 2 ** 52);
});

test('mvhd duration of all 1s is unknown, in both versions, and writes back', () => {
  const v0 = assertRoundTrip(
    mvhdCodec,
    boxBytes('mvhd', [0, 0, 0, 0, ...be32(0), ...be32(0), ...be32(1000), ...be32(0xffffffff), ...tail(2)]),
  );
  assert.equal(v0.duration, UNKNOWN_DURATION);
  const ones = [255, 255, 255, 255, 255, 255, 255, 255];
  const v1 = assertRoundTrip(
    mvhdCodec,
    boxBytes('mvhd', [1, 0, 0, 0, ...be64(0), ...be64(0), ...be32(1000), ...ones, ...tail(2)]),
  );
  assert.equal(v1.duration, UNKNOWN_DURATION);
});

test('mvhd keeps trailing bytes', () => {
  const box = assertRoundTrip(
    mvhdCodec,
    boxBytes('mvhd', [0, 0, 0, 0, ...be32(0), ...be32(0), ...be32(600), ...be32(6000), ...tail(5), 9, 9]),
  );
  assert.deepEqual(box.trailing, new Uint8Array([9, 9]));
});

test('mvhd v1 time past 2^53 is NUMBER_TOO_LARGE', () => {
  const bytes = boxBytes('mvhd', [
    1,
    0,
    0,
    0,
    ...be32(0x00400000),
    ...be32(0),
    ...be64(0),
    ...be32(1000),
    ...be64(0),
    ...tail(2),
  ]);
  assert.throws(() => parseBox(mvhdCodec, bytes), vvfCode('NUMBER_TOO_LARGE'));
});

test('truncated mvhd is a BOX_OVERRUN, unknown version is UNSUPPORTED', () => {
  const good = boxBytes('mvhd', [0, 0, 0, 0, ...be32(0), ...be32(0), ...be32(1000), ...be32(2000), ...tail(2)]);
  assert.throws(() => parseBox(mvhdCodec, boxBytes('mvhd', good.subarray(8, good.length - 1))), vvfCode('BOX_OVERRUN'));
  const v2 = good.slice();
  v2[8] = 2;
  assert.throws(() => parseBox(mvhdCodec, v2), vvfCode('UNSUPPORTED'));
});
