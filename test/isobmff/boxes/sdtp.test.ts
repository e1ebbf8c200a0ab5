import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sdtpCodec } from '../../../src/isobmff/boxes/sdtp.js';
import { assertRoundTrip, boxBytes, parseBox, vvfCode } from './roundtrip.js';

test('sdtp round-trips one byte per sample, count implied by the size', () => {
  const box = assertRoundTrip(sdtpCodec, boxBytes('sdtp', [0, 0, 0, 0, 0x20, 0x10, 0x18, 0x1c]));
  assert.deepEqual([...box.entries], [0x20, 0x10, 0x18, 0x1c]);
  assert.equal(assertRoundTrip(sdtpCodec, boxBytes('sdtp', [0, 0, 0, 0])).entries.length, 0);
});

test('sdtp without its full-box header is a BOX_OVERRUN', () => {
  assert.throws(() => parseBox(sdtpCodec, boxBytes('sdtp', [0, 0])), vvfCode('BOX_OVERRUN'));
});
