import assert from 'node:assert/strict';
import { test } from 'node:test';
import { VvfError } from '../../../src/errors.js';
import { mfhdCodec } from '../../../src/isobmff/boxes/mfhd.js';
import { Cursor } from '../../../src/isobmff/cursor.js';
import { readBoxHeader } from '../../../src/isobmff/header.js';
import { assertRoundTrip, boxBytes } from './roundtrip.js';

function parse(bytes: Uint8Array) {
  const h = readBoxHeader(new Cursor(bytes, 0, 'test'), bytes.length);
  return mfhdCodec.parse(new Cursor(bytes, 0, h.type, h.headerSize, h.size), h);
}

test('mfhd round-trips and reads the sequence number', () => {
  const box = assertRoundTrip(mfhdCodec, boxBytes('mfhd', [0, 0, 0, 0, 0x12, 0x34, 0x56, 0x78]));
  assert.equal(box.version, 0);
  assert.equal(box.sequenceNumber, 0x12345678);
  assert.equal(box.trailing, undefined);
});

test('mfhd keeps trailing bytes', () => {
  const box = assertRoundTrip(mfhdCodec, boxBytes('mfhd', [0, 0, 0, 0, 0, 0, 0, 1, 0xaa, 0xbb]));
  assert.deepEqual(box.trailing, Uint8Array.of(0xaa, 0xbb));
});

test('mfhd truncated gives BOX_OVERRUN', () => {
  assert.throws(
    () => parse(boxBytes('mfhd', [0, 0, 0, 0, 0, 0, 1])),
    (e: unknown) => e instanceof VvfError && e.code === 'BOX_OVERRUN',
  );
});
