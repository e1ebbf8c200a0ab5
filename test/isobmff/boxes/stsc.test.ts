import assert from 'node:assert/strict';
import { test } from 'node:test';
import { stscCodec } from '../../../src/isobmff/boxes/stsc.js';
import { assertRoundTrip, be32, boxBytes, parseBox, vvfCode } from './roundtrip.js';

test('stsc round-trips its three columns', () => {
  const bytes = boxBytes('stsc', [
    0,
    0,
    0,
    0,
    ...be32(2),
    ...be32(1),
    ...be32(12),
    ...be32(1),
    ...be32(4),
    ...be32(7),
    ...be32(2),
  ]);
  const box = assertRoundTrip(stscCodec, bytes);
  assert.deepEqual([...box.firstChunks], [1, 4]);
  assert.deepEqual([...box.samplesPerChunk], [12, 7]);
  assert.deepEqual([...box.descriptionIndexes], [1, 2]);
});

test('stsc empty, and with trailing bytes', () => {
  assert.equal(assertRoundTrip(stscCodec, boxBytes('stsc', [0, 0, 0, 0, ...be32(0)])).firstChunks.length, 0);
  assert.deepEqual(assertRoundTrip(stscCodec, boxBytes('stsc', [0, 0, 0, 0, ...be32(0), 1, 2])).trailing, new Uint8Array([1, 2]));
});

test('stsc count beyond its bytes is a BOX_OVERRUN', () => {
  // 2 entries need 24 bytes; 16 are there.
  assert.throws(
    () => parseBox(stscCodec, boxBytes('stsc', [0, 0, 0, 0, ...be32(2), ...be32(1), ...be32(1), ...be32(1), ...be32(2)])),
    vvfCode('BOX_OVERRUN'),
  );
  assert.throws(() => parseBox(stscCodec, boxBytes('stsc', [0, 0, 0, 0, ...be32(0x7fffffff)])), vvfCode('BOX_OVERRUN'));
});
