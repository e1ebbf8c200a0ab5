import assert from 'node:assert/strict';
import { test } from 'node:test';
import { VvfError } from '../../../src/errors.js';
import { type TfraBox, tfraCodec } from '../../../src/isobmff/boxes/tfra.js';
import { encodeBox } from '../../../src/isobmff/codec.js';
import { Cursor } from '../../../src/isobmff/cursor.js';
import { readBoxHeader } from '../../../src/isobmff/header.js';
import { assertRoundTrip, boxBytes } from './roundtrip.js';

const u32 = (v: number) => [(v >>> 24) & 255, (v >>> 16) & 255, (v >>> 8) & 255, v & 255];
const u64 = (v: number) => [...u32(Math.floor(v / 2 ** 32)), ...u32(v % 2 ** 32)];
const isCode = (code: string) => (e: unknown) => e instanceof VvfError && e.code === code;

function parse(bytes: Uint8Array) {
  const h = readBoxHeader(new Cursor(bytes, 0, 'test'), bytes.length);
  return tfraCodec.parse(new Cursor(bytes, 0, h.type, h.headerSize, h.size), h);
}

test('tfra v1 with 1-byte numbers (as ffmpeg writes it) round-trips', () => {
  const head = [1, 0, 0, 0, ...u32(1), ...u32(0), ...u32(2)];
  const entry1 = [...u64(0), ...u64(48), 1, 1, 1];
  const entry2 = [...u64(2 ** 40), ...u64(2 ** 35 + 1), 1, 2, 3];
  const payload = [...head, ...entry1, ...entry2];
  const box = assertRoundTrip(tfraCodec, boxBytes('tfra', payload));
  assert.equal(box.trackId, 1);
  assert.equal(box.lengthSizeOfTrafNum, 0);
  assert.deepEqual(box.times, Float64Array.of(0, 2 ** 40));
  assert.deepEqual(box.moofOffsets, Float64Array.of(48, 2 ** 35 + 1));
  assert.deepEqual(box.trafNumbers, Uint32Array.of(1, 1));
  assert.deepEqual(box.trunNumbers, Uint32Array.of(1, 2));
  assert.deepEqual(box.sampleNumbers, Uint32Array.of(1, 3));
});

test('tfra v0 with 2, 3 and 4-byte numbers and reserved bits round-trips', () => {
  // reserved = 0x2aaaaaa (26 bits), traf 1 (2 bytes), trun 2 (3 bytes), sample 3 (4 bytes)
  const sizes = 0x2aaaaaa * 64 + (1 << 4) + (2 << 2) + 3;
  const payload = [
    0,
    0,
    0,
    0,
    ...u32(9),
    ...u32(sizes),
    ...u32(1),
    ...u32(1000),
    ...u32(0xfffffff0),
    0x12,
    0x34,
    0x56,
    0x78,
    0x9a,
    ...u32(0xfedcba98),
  ];
  const box = assertRoundTrip(tfraCodec, boxBytes('tfra', payload));
  assert.equal(box.reserved, 0x2aaaaaa);
  assert.equal(box.lengthSizeOfTrafNum, 1);
  assert.equal(box.lengthSizeOfTrunNum, 2);
  assert.equal(box.lengthSizeOfSampleNum, 3);
  assert.deepEqual(box.times, Float64Array.of(1000));
  assert.deepEqual(box.moofOffsets, Float64Array.of(0xfffffff0));
  assert.deepEqual(box.trafNumbers, Uint32Array.of(0x1234));
  assert.deepEqual(box.trunNumbers, Uint32Array.of(0x56789a));
  assert.deepEqual(box.sampleNumbers, Uint32Array.of(0xfedcba98));
});

test('tfra keeps trailing bytes', () => {
  const box = assertRoundTrip(tfraCodec, boxBytes('tfra', [0, 0, 0, 0, ...u32(1), ...u32(0), ...u32(0), 5]));
  assert.equal(box.times.length, 0);
  assert.deepEqual(box.trailing, Uint8Array.of(5));
});

test('tfra entry count past the payload gives BOX_OVERRUN', () => {
  const payload = [1, 0, 0, 0, ...u32(1), ...u32(0x3f), ...u32(0x10000000), ...u64(0), ...u64(0)];
  assert.throws(() => parse(boxBytes('tfra', payload)), isCode('BOX_OVERRUN'));
});

test('tfra entry cut short gives BOX_OVERRUN', () => {
  const payload = [0, 0, 0, 0, ...u32(1), ...u32(0), ...u32(1), ...u32(0), ...u32(0), 1, 1];
  assert.throws(() => parse(boxBytes('tfra', payload)), isCode('BOX_OVERRUN'));
});

test('tfra v1 time past 2^53 gives NUMBER_TOO_LARGE', () => {
  const payload = [1, 0, 0, 0, ...u32(1), ...u32(0), ...u32(1), ...u32(0xffffffff), ...u32(0), ...u64(0), 1, 1, 1];
  assert.throws(() => parse(boxBytes('tfra', payload)), isCode('NUMBER_TOO_LARGE'));
});

test('tfra unknown version gives UNSUPPORTED', () => {
  assert.throws(() => parse(boxBytes('tfra', [3, 0, 0, 0, ...u32(1), ...u32(0), ...u32(0)])), isCode('UNSUPPORTED'));
});

test('tfra write refuses a number that does not fit its length size', () => {
  const box: TfraBox = {
    version: 0,
    flags: 0,
    trackId: 1,
    lengthSizeOfTrafNum: 0,
    lengthSizeOfTrunNum: 0,
    lengthSizeOfSampleNum: 0,
    reserved: 0,
    times: Float64Array.of(0),
    moofOffsets: Float64Array.of(0),
    trafNumbers: Uint32Array.of(256),
    trunNumbers: Uint32Array.of(1),
    sampleNumbers: Uint32Array.of(1),
  };
  assert.throws(() => encodeBox(tfraCodec, box), isCode('BUG'));
  assert.equal(encodeBox(tfraCodec, { ...box, lengthSizeOfTrafNum: 1 }).length, 8 + 16 + 8 + 2 + 1 + 1);
});
