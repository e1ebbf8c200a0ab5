import assert from 'node:assert/strict';
import { test } from 'node:test';
import { VvfError } from '../../../src/errors.js';
import {
  TFHD_BASE_DATA_OFFSET,
  TFHD_DEFAULT_BASE_IS_MOOF,
  TFHD_DEFAULT_DURATION,
  TFHD_DEFAULT_FLAGS,
  TFHD_DEFAULT_SIZE,
  TFHD_DURATION_IS_EMPTY,
  TFHD_SAMPLE_DESCRIPTION_INDEX,
  tfhdCodec,
} from '../../../src/isobmff/boxes/tfhd.js';
import { encodeBox } from '../../../src/isobmff/codec.js';
import { Cursor } from '../../../src/isobmff/cursor.js';
import { readBoxHeader } from '../../../src/isobmff/header.js';
import { assertRoundTrip, boxBytes } from './roundtrip.js';

const u32 = (v: number) => [(v >>> 24) & 255, (v >>> 16) & 255, (v >>> 8) & 255, v & 255];
const fullBox = (version: number, flags: number) => [version, ...u32(flags).slice(1)];

function parse(bytes: Uint8Array) {
  const h = readBoxHeader(new Cursor(bytes, 0, 'test'), bytes.length);
  return tfhdCodec.parse(new Cursor(bytes, 0, h.type, h.headerSize, h.size), h);
}

test('tfhd flag constants have the spec values', () => {
  assert.deepEqual(
    [
      TFHD_BASE_DATA_OFFSET,
      TFHD_SAMPLE_DESCRIPTION_INDEX,
      TFHD_DEFAULT_DURATION,
      TFHD_DEFAULT_SIZE,
      TFHD_DEFAULT_FLAGS,
      TFHD_DURATION_IS_EMPTY,
      TFHD_DEFAULT_BASE_IS_MOOF,
    ],
    [0x1, 0x2, 0x8, 0x10, 0x20, 0x10000, 0x20000],
  );
});

test('tfhd with only the track id (default-base-is-moof)', () => {
  const box = assertRoundTrip(tfhdCodec, boxBytes('tfhd', [...fullBox(0, TFHD_DEFAULT_BASE_IS_MOOF), ...u32(7)]));
  assert.equal(box.trackId, 7);
  assert.equal(box.flags, TFHD_DEFAULT_BASE_IS_MOOF);
  for (const k of [
    'baseDataOffset',
    'sampleDescriptionIndex',
    'defaultSampleDuration',
    'defaultSampleSize',
    'defaultSampleFlags',
  ]) {
    assert.equal(k in box, false, `${k} must be absent`);
  }
});

test('tfhd with every optional field', () => {
  const flags =
    TFHD_BASE_DATA_OFFSET | TFHD_SAMPLE_DESCRIPTION_INDEX | TFHD_DEFAULT_DURATION | TFHD_DEFAULT_SIZE | TFHD_DEFAULT_FLAGS;
  const payload = [
    ...fullBox(0, flags),
    ...u32(1),
    ...u32(1),
    ...u32(0x00000010),
    ...u32(2),
    ...u32(1024),
    ...u32(333),
    ...u32(0x01010000),
  ];
  const box = assertRoundTrip(tfhdCodec, boxBytes('tfhd', payload));
  assert.equal(box.trackId, 1);
  assert.equal(box.baseDataOffset, 2 ** 32 + 16);
  assert.equal(box.sampleDescriptionIndex, 2);
  assert.equal(box.defaultSampleDuration, 1024);
  assert.equal(box.defaultSampleSize, 333);
  assert.equal(box.defaultSampleFlags, 0x01010000);
});

test('tfhd with some fields reads them in order', () => {
  const flags = TFHD_DEFAULT_DURATION | TFHD_DEFAULT_FLAGS | TFHD_DURATION_IS_EMPTY;
  const box = assertRoundTrip(tfhdCodec, boxBytes('tfhd', [...fullBox(0, flags), ...u32(2), ...u32(512), ...u32(0x02000000)]));
  assert.equal(box.defaultSampleDuration, 512);
  assert.equal(box.defaultSampleFlags, 0x02000000);
  assert.equal(box.defaultSampleSize, undefined);
});

test('tfhd keeps trailing bytes', () => {
  const box = assertRoundTrip(tfhdCodec, boxBytes('tfhd', [...fullBox(0, 0), ...u32(1), 0xde, 0xad]));
  assert.deepEqual(box.trailing, Uint8Array.of(0xde, 0xad));
});

test('tfhd with a flag set but its field missing gives BOX_OVERRUN', () => {
  assert.throws(
    () => parse(boxBytes('tfhd', [...fullBox(0, TFHD_DEFAULT_SIZE | TFHD_DEFAULT_FLAGS), ...u32(1), ...u32(100)])),
    (e: unknown) => e instanceof VvfError && e.code === 'BOX_OVERRUN',
  );
});

test('tfhd base data offset past 2^53 gives NUMBER_TOO_LARGE', () => {
  assert.throws(
    () => parse(boxBytes('tfhd', [...fullBox(0, TFHD_BASE_DATA_OFFSET), ...u32(1), ...u32(0x00200000), ...u32(0)])),
    (e: unknown) => e instanceof VvfError && e.code === 'NUMBER_TOO_LARGE',
  );
});

test('tfhd write refuses a set flag without its field', () => {
  assert.throws(
    () => encodeBox(tfhdCodec, { version: 0, flags: TFHD_DEFAULT_SIZE, trackId: 1 }),
    (e: unknown) => e instanceof VvfError && e.code === 'BUG',
  );
});
