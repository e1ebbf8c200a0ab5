import assert from 'node:assert/strict';
import { test } from 'node:test';
import { VvfError } from '../../../src/errors.js';
import {
  TRUN_DATA_OFFSET,
  TRUN_FIRST_SAMPLE_FLAGS,
  TRUN_SAMPLE_COMPOSITION_OFFSET,
  TRUN_SAMPLE_DURATION,
  TRUN_SAMPLE_FLAGS,
  TRUN_SAMPLE_SIZE,
  type TrunBox,
  trunCodec,
} from '../../../src/isobmff/boxes/trun.js';
import { encodeBox } from '../../../src/isobmff/codec.js';
import { Cursor } from '../../../src/isobmff/cursor.js';
import { readBoxHeader } from '../../../src/isobmff/header.js';
import { assertRoundTrip, boxBytes } from './roundtrip.js';

const u32 = (v: number) => [(v >>> 24) & 255, (v >>> 16) & 255, (v >>> 8) & 255, v & 255];
const fullBox = (version: number, flags: number) => [version, ...u32(flags).slice(1)];

function parse(bytes: Uint8Array) {
  const h = readBoxHeader(new Cursor(bytes, 0, 'test'), bytes.length);
  return trunCodec.parse(new Cursor(bytes, 0, h.type, h.headerSize, h.size), h);
}

const isCode = (code: string) => (e: unknown) => e instanceof VvfError && e.code === code;

test('trun flag constants have the spec values', () => {
  assert.deepEqual(
    [
      TRUN_DATA_OFFSET,
      TRUN_FIRST_SAMPLE_FLAGS,
      TRUN_SAMPLE_DURATION,
      TRUN_SAMPLE_SIZE,
      TRUN_SAMPLE_FLAGS,
      TRUN_SAMPLE_COMPOSITION_OFFSET,
    ],
    [0x1, 0x4, 0x100, 0x200, 0x400, 0x800],
  );
});

test('trun with every field round-trips and reads columns', () => {
  const flags =
    TRUN_DATA_OFFSET |
    TRUN_FIRST_SAMPLE_FLAGS |
    TRUN_SAMPLE_DURATION |
    TRUN_SAMPLE_SIZE |
    TRUN_SAMPLE_FLAGS |
    TRUN_SAMPLE_COMPOSITION_OFFSET;
  const payload = [
    ...fullBox(1, flags),
    ...u32(2),
    ...u32(-8), // data offset, signed
    ...u32(0x02000000),
    ...[...u32(512), ...u32(1000), ...u32(0x02000000), ...u32(1024)],
    ...[...u32(513), ...u32(200), ...u32(0x01010000), ...u32(-512)],
  ];
  const box = assertRoundTrip(trunCodec, boxBytes('trun', payload));
  assert.equal(box.sampleCount, 2);
  assert.equal(box.dataOffset, -8);
  assert.equal(box.firstSampleFlags, 0x02000000);
  assert.deepEqual(box.durations, Uint32Array.of(512, 513));
  assert.deepEqual(box.sizes, Uint32Array.of(1000, 200));
  assert.deepEqual(box.sampleFlags, Uint32Array.of(0x02000000, 0x01010000));
  assert.deepEqual(box.compositionOffsets, Int32Array.of(1024, -512));
});

test('trun version 0 reads composition offsets signed and writes the same bits', () => {
  const payload = [...fullBox(0, TRUN_SAMPLE_COMPOSITION_OFFSET), ...u32(2), ...u32(0xfffffc00), ...u32(0x7fffffff)];
  const box = assertRoundTrip(trunCodec, boxBytes('trun', payload));
  assert.deepEqual(box.compositionOffsets, Int32Array.of(-1024, 0x7fffffff));
});

test('trun with absent per-sample fields has null columns', () => {
  const box = assertRoundTrip(
    trunCodec,
    boxBytes('trun', [...fullBox(0, TRUN_DATA_OFFSET | TRUN_SAMPLE_SIZE), ...u32(1), ...u32(100), ...u32(77)]),
  );
  assert.equal(box.durations, null);
  assert.equal(box.sampleFlags, null);
  assert.equal(box.compositionOffsets, null);
  assert.equal(box.firstSampleFlags, undefined);
  assert.deepEqual(box.sizes, Uint32Array.of(77));
  assert.equal(box.dataOffset, 100);
});

test('trun with no per-sample fields and a large count allocates nothing', () => {
  const box = assertRoundTrip(trunCodec, boxBytes('trun', [...fullBox(0, 0), ...u32(0xffffffff)]));
  assert.equal(box.sampleCount, 0xffffffff);
  assert.equal(box.sizes, null);
});

test('trun with zero samples round-trips', () => {
  const box = assertRoundTrip(trunCodec, boxBytes('trun', [...fullBox(0, TRUN_SAMPLE_SIZE | TRUN_SAMPLE_DURATION), ...u32(0)]));
  assert.deepEqual(box.sizes, new Uint32Array(0));
});

test('trun keeps trailing bytes', () => {
  const box = assertRoundTrip(trunCodec, boxBytes('trun', [...fullBox(0, TRUN_SAMPLE_SIZE), ...u32(1), ...u32(5), 1, 2]));
  assert.deepEqual(box.trailing, Uint8Array.of(1, 2));
});

test('trun sample count past the payload gives BOX_OVERRUN before allocating', () => {
  assert.throws(
    () =>
      parse(boxBytes('trun', [...fullBox(0, TRUN_SAMPLE_SIZE | TRUN_SAMPLE_DURATION), ...u32(0x40000000), ...u32(1), ...u32(2)])),
    isCode('BOX_OVERRUN'),
  );
});

test('trun with one sample entry cut short gives BOX_OVERRUN', () => {
  assert.throws(
    () => parse(boxBytes('trun', [...fullBox(0, TRUN_SAMPLE_SIZE | TRUN_SAMPLE_DURATION), ...u32(1), ...u32(1), 0, 0])),
    isCode('BOX_OVERRUN'),
  );
});

test('trun missing its data offset gives BOX_OVERRUN', () => {
  assert.throws(() => parse(boxBytes('trun', [...fullBox(0, TRUN_DATA_OFFSET), ...u32(0)])), isCode('BOX_OVERRUN'));
});

test('trun write refuses a column whose length differs from sampleCount', () => {
  const box: TrunBox = {
    version: 0,
    flags: TRUN_SAMPLE_SIZE,
    sampleCount: 3,
    durations: null,
    sizes: Uint32Array.of(1, 2),
    sampleFlags: null,
    compositionOffsets: null,
  };
  assert.throws(() => encodeBox(trunCodec, box), isCode('BUG'));
});

test('trun built in code encodes and parses back', () => {
  const box: TrunBox = {
    version: 1,
    flags: TRUN_DATA_OFFSET | TRUN_SAMPLE_DURATION | TRUN_SAMPLE_COMPOSITION_OFFSET,
    sampleCount: 3,
    dataOffset: 120,
    durations: Uint32Array.of(1, 2, 3),
    sizes: null,
    sampleFlags: null,
    compositionOffsets: Int32Array.of(-1, 0, 1),
  };
  const bytes = encodeBox(trunCodec, box);
  assert.equal(bytes.length, 8 + 4 + 4 + 4 + 3 * 8);
  assert.deepEqual(assertRoundTrip(trunCodec, bytes), box);
});
