import assert from 'node:assert/strict';
import { test } from 'node:test';
import { VvfError } from '../../../src/errors.js';
import { tfdtCodec } from '../../../src/isobmff/boxes/tfdt.js';
import { encodeBox } from '../../../src/isobmff/codec.js';
import { Cursor } from '../../../src/isobmff/cursor.js';
import { readBoxHeader } from '../../../src/isobmff/header.js';
import { assertRoundTrip, boxBytes } from './roundtrip.js';

function parse(bytes: Uint8Array) {
  const h = readBoxHeader(new Cursor(bytes, 0, 'test'), bytes.length);
  return tfdtCodec.parse(new Cursor(bytes, 0, h.type, h.headerSize, h.size), h);
}

test('tfdt v0 round-trips a 32-bit decode time', () => {
  const box = assertRoundTrip(tfdtCodec, boxBytes('tfdt', [0, 0, 0, 0, 0xff, 0xff, 0xff, 0xfe]));
  assert.equal(box.version, 0);
  assert.equal(box.baseMediaDecodeTime, 0xfffffffe);
});

test('tfdt v1 round-trips a 64-bit decode time', () => {
  const box = assertRoundTrip(tfdtCodec, boxBytes('tfdt', [1, 0, 0, 0, 0, 0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]));
  assert.equal(box.version, 1);
  assert.equal(box.baseMediaDecodeTime, Number.MAX_SAFE_INTEGER);
});

test('tfdt keeps trailing bytes', () => {
  const box = assertRoundTrip(tfdtCodec, boxBytes('tfdt', [0, 0, 0, 0, 0, 0, 0, 5, 1, 2, 3]));
  assert.equal(box.baseMediaDecodeTime, 5);
  assert.deepEqual(box.trailing, Uint8Array.of(1, 2, 3));
});

test('tfdt v1 past 2^53 gives NUMBER_TOO_LARGE', () => {
  assert.throws(
    () => parse(boxBytes('tfdt', [1, 0, 0, 0, 0, 0x20, 0, 0, 0, 0, 0, 0])),
    (e: unknown) => e instanceof VvfError && e.code === 'NUMBER_TOO_LARGE',
  );
});

test('tfdt v1 with only 4 bytes of time gives BOX_OVERRUN', () => {
  assert.throws(
    () => parse(boxBytes('tfdt', [1, 0, 0, 0, 0, 0, 0, 1])),
    (e: unknown) => e instanceof VvfError && e.code === 'BOX_OVERRUN',
  );
});

test('tfdt unknown version gives UNSUPPORTED', () => {
  assert.throws(
    () => parse(boxBytes('tfdt', [2, 0, 0, 0, 0, 0, 0, 1])),
    (e: unknown) => e instanceof VvfError && e.code === 'UNSUPPORTED',
  );
});

test('tfdt v0 refuses to write a time that needs 64 bits', () => {
  assert.throws(
    () => encodeBox(tfdtCodec, { version: 0, flags: 0, baseMediaDecodeTime: 2 ** 32 }),
    (e: unknown) => e instanceof VvfError && e.code === 'BUG',
  );
});
