import assert from 'node:assert/strict';
import { test } from 'node:test';
import { VvfError } from '../../../src/errors.js';
import { mfroCodec } from '../../../src/isobmff/boxes/mfro.js';
import { Cursor } from '../../../src/isobmff/cursor.js';
import { readBoxHeader } from '../../../src/isobmff/header.js';
import { assertRoundTrip, boxBytes } from './roundtrip.js';

function parse(bytes: Uint8Array) {
  const h = readBoxHeader(new Cursor(bytes, 0, 'test'), bytes.length);
  return mfroCodec.parse(new Cursor(bytes, 0, h.type, h.headerSize, h.size), h);
}

test('mfro round-trips and reads the mfra size', () => {
  const box = assertRoundTrip(mfroCodec, boxBytes('mfro', [0, 0, 0, 0, 0, 0, 0x01, 0x2c]));
  assert.equal(box.mfraSize, 300);
});

test('mfro keeps trailing bytes', () => {
  const box = assertRoundTrip(mfroCodec, boxBytes('mfro', [0, 0, 0, 0, 0, 0, 0, 16, 9]));
  assert.deepEqual(box.trailing, Uint8Array.of(9));
});

test('mfro truncated gives BOX_OVERRUN', () => {
  assert.throws(
    () => parse(boxBytes('mfro', [0, 0, 0, 0, 0])),
    (e: unknown) => e instanceof VvfError && e.code === 'BOX_OVERRUN',
  );
});
