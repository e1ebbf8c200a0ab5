import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mehdCodec } from '../../../src/isobmff/boxes/mehd.js';
import { UNKNOWN_DURATION } from '../../../src/isobmff/boxes/time-fields.js';
import { assertRoundTrip, be32, be64, boxBytes, parseBox, vvfCode } from './roundtrip.js';

test('mehd v0 and v1 round-trip', () => {
  assert.equal(assertRoundTrip(mehdCodec, boxBytes('mehd', [0, 0, 0, 0, ...be32(25600)])).fragmentDuration, 25600);
  assert.equal(assertRoundTrip(mehdCodec, boxBytes('mehd', [1, 0, 0, 0, ...be64(2 ** 50)])).fragmentDuration, 2 ** 50);
  const ones = assertRoundTrip(mehdCodec, boxBytes('mehd', [1, 0, 0, 0, 255, 255, 255, 255, 255, 255, 255, 255]));
  assert.equal(ones.fragmentDuration, UNKNOWN_DURATION);
});

test('mehd truncated, past 2^53, or of an unknown version', () => {
  assert.throws(() => parseBox(mehdCodec, boxBytes('mehd', [1, 0, 0, 0, ...be32(1)])), vvfCode('BOX_OVERRUN'));
  assert.throws(
    () => parseBox(mehdCodec, boxBytes('mehd', [1, 0, 0, 0, ...be32(0x00200000), ...be32(1)])),
    vvfCode('NUMBER_TOO_LARGE'),
  );
  assert.throws(() => parseBox(mehdCodec, boxBytes('mehd', [2, 0, 0, 0, ...be32(1)])), vvfCode('UNSUPPORTED'));
});
