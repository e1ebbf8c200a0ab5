import assert from 'node:assert/strict';
import { test } from 'node:test';
import { stszCodec } from '../../../src/isobmff/boxes/stsz.js';
import { encodeBox } from '../../../src/isobmff/codec.js';
import { assertRoundTrip, be16, be24, be32, boxBytes, parseBox, vvfCode } from './roundtrip.js';

test('stsz with per-sample sizes round-trips', () => {
  const box = assertRoundTrip(
    stszCodec,
    boxBytes('stsz', [0, 0, 0, 0, ...be32(0), ...be32(3), ...be32(1000), ...be32(20), ...be32(0xffffffff)]),
  );
  assert.equal(box.type, 'stsz');
  assert.equal(box.sampleSize, 0);
  assert.equal(box.fieldSize, 32);
  assert.equal(box.sampleCount, 3);
  assert.deepEqual([...(box.sizes ?? [])], [1000, 20, 0xffffffff]);
});

test('stsz with a constant size and a huge count allocates nothing', () => {
  const box = assertRoundTrip(stszCodec, boxBytes('stsz', [0, 0, 0, 0, ...be32(512), ...be32(0xffffffff)]));
  assert.equal(box.sampleSize, 512);
  assert.equal(box.sampleCount, 0xffffffff);
  assert.equal(box.sizes, null);
});

test('stsz with a constant size keeps bytes after it', () => {
  const box = assertRoundTrip(stszCodec, boxBytes('stsz', [0, 0, 0, 0, ...be32(4), ...be32(1), ...be32(4)]));
  assert.deepEqual(box.trailing, new Uint8Array(be32(4)));
});

test('stz2 with 16-, 8- and 4-bit fields round-trips', () => {
  const s16 = assertRoundTrip(stszCodec, boxBytes('stz2', [0, 0, 0, 0, ...be24(0), 16, ...be32(2), ...be16(0xffff), ...be16(3)]));
  assert.equal(s16.type, 'stz2');
  assert.equal(s16.fieldSize, 16);
  assert.deepEqual([...(s16.sizes ?? [])], [0xffff, 3]);
  const s8 = assertRoundTrip(stszCodec, boxBytes('stz2', [0, 0, 0, 0, ...be24(0), 8, ...be32(3), 1, 2, 255]));
  assert.deepEqual([...(s8.sizes ?? [])], [1, 2, 255]);
  // Four-bit sizes pack two per byte, first in the high nibble; an odd count pads the last low nibble.
  const s4 = assertRoundTrip(stszCodec, boxBytes('stz2', [0, 0, 0, 0, ...be24(0), 4, ...be32(3), 0x12, 0xf0]));
  assert.deepEqual([...(s4.sizes ?? [])], [1, 2, 15]);
  assert.equal(s4.padding, undefined);
  const even = assertRoundTrip(stszCodec, boxBytes('stz2', [0, 0, 0, 0, ...be24(0), 4, ...be32(2), 0xab]));
  assert.deepEqual([...(even.sizes ?? [])], [10, 11]);
});

test('stz2 keeps non-zero reserved bits and padding nibble', () => {
  const box = assertRoundTrip(stszCodec, boxBytes('stz2', [0, 0, 0, 0, ...be24(0x123456), 4, ...be32(1), 0x57]));
  assert.equal(box.reserved, 0x123456);
  assert.equal(box.padding, 7);
  assert.deepEqual([...(box.sizes ?? [])], [5]);
});

test('stz2 built from sizes', () => {
  const bytes = encodeBox(stszCodec, {
    type: 'stz2',
    version: 0,
    flags: 0,
    sampleSize: 0,
    fieldSize: 4,
    sampleCount: 3,
    sizes: Uint32Array.of(3, 4, 5),
  });
  assert.deepEqual(bytes, boxBytes('stz2', [0, 0, 0, 0, ...be24(0), 4, ...be32(3), 0x34, 0x50]));
});

test('stsz and stz2 counts beyond their bytes are a BOX_OVERRUN', () => {
  assert.throws(
    () => parseBox(stszCodec, boxBytes('stsz', [0, 0, 0, 0, ...be32(0), ...be32(0xffffffff), ...be32(1)])),
    vvfCode('BOX_OVERRUN'),
  );
  assert.throws(
    () => parseBox(stszCodec, boxBytes('stz2', [0, 0, 0, 0, ...be24(0), 16, ...be32(3), 0, 1, 0, 2, 0])),
    vvfCode('BOX_OVERRUN'),
  );
  assert.throws(
    () => parseBox(stszCodec, boxBytes('stz2', [0, 0, 0, 0, ...be24(0), 4, ...be32(3), 0x12])),
    vvfCode('BOX_OVERRUN'),
  );
  assert.throws(() => parseBox(stszCodec, boxBytes('stsz', [0, 0, 0, 0, ...be32(0)])), vvfCode('BOX_OVERRUN'));
});

test('stz2 with a field size other than 4, 8 or 16 is BOX_INVALID', () => {
  assert.throws(() => parseBox(stszCodec, boxBytes('stz2', [0, 0, 0, 0, ...be24(0), 32, ...be32(0)])), vvfCode('BOX_INVALID'));
});
