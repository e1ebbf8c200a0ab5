import assert from 'node:assert/strict';
import { test } from 'node:test';
import { trexCodec } from '../../../src/isobmff/boxes/trex.js';
import { assertRoundTrip, be32, boxBytes, parseBox, vvfCode } from './roundtrip.js';

test('trex round-trips its defaults', () => {
  const box = assertRoundTrip(
    trexCodec,
    boxBytes('trex', [0, 0, 0, 0, ...be32(2), ...be32(1), ...be32(1024), ...be32(371), ...be32(0x01010000)]),
  );
  assert.equal(box.trackId, 2);
  assert.equal(box.defaultSampleDescriptionIndex, 1);
  assert.equal(box.defaultSampleDuration, 1024);
  assert.equal(box.defaultSampleSize, 371);
  assert.equal(box.defaultSampleFlags, 0x01010000);
});

test('trex truncated is a BOX_OVERRUN; extra bytes are kept', () => {
  assert.throws(
    () => parseBox(trexCodec, boxBytes('trex', [0, 0, 0, 0, ...be32(1), ...be32(1), ...be32(1), ...be32(1)])),
    vvfCode('BOX_OVERRUN'),
  );
  const box = assertRoundTrip(
    trexCodec,
    boxBytes('trex', [0, 0, 0, 0, ...be32(1), ...be32(1), ...be32(1), ...be32(1), ...be32(0), 5]),
  );
  assert.deepEqual(box.trailing, new Uint8Array([5]));
});
