import assert from 'node:assert/strict';
import { test } from 'node:test';
import { stssCodec } from '../../../src/isobmff/boxes/stss.js';
import { assertRoundTrip, be32, boxBytes, parseBox, vvfCode } from './roundtrip.js';

test('stss round-trips 1-based sample numbers', () => {
  const box = assertRoundTrip(stssCodec, boxBytes('stss', [0, 0, 0, 0, ...be32(3), ...be32(1), ...be32(26), ...be32(51)]));
  assert.deepEqual([...box.samples], [1, 26, 51]);
});

test('stss empty, and with trailing bytes', () => {
  assert.equal(assertRoundTrip(stssCodec, boxBytes('stss', [0, 0, 0, 0, ...be32(0)])).samples.length, 0);
  assert.deepEqual(
    assertRoundTrip(stssCodec, boxBytes('stss', [0, 0, 0, 0, ...be32(1), ...be32(1), 0])).trailing,
    new Uint8Array([0]),
  );
});

test('stss count beyond its bytes is a BOX_OVERRUN', () => {
  assert.throws(() => parseBox(stssCodec, boxBytes('stss', [0, 0, 0, 0, ...be32(2), ...be32(1)])), vvfCode('BOX_OVERRUN'));
});
