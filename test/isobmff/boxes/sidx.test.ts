import assert from 'node:assert/strict';
import { test } from 'node:test';
import { VvfError } from '../../../src/errors.js';
import { type SidxBox, sidxCodec } from '../../../src/isobmff/boxes/sidx.js';
import { encodeBox } from '../../../src/isobmff/codec.js';
import { Cursor } from '../../../src/isobmff/cursor.js';
import { readBoxHeader } from '../../../src/isobmff/header.js';
import { assertRoundTrip, boxBytes } from './roundtrip.js';

const u16 = (v: number) => [(v >>> 8) & 255, v & 255];
const u32 = (v: number) => [(v >>> 24) & 255, (v >>> 16) & 255, (v >>> 8) & 255, v & 255];
const u64 = (v: number) => [...u32(Math.floor(v / 2 ** 32)), ...u32(v % 2 ** 32)];
const isCode = (code: string) => (e: unknown) => e instanceof VvfError && e.code === code;

function parse(bytes: Uint8Array) {
  const h = readBoxHeader(new Cursor(bytes, 0, 'test'), bytes.length);
  return sidxCodec.parse(new Cursor(bytes, 0, h.type, h.headerSize, h.size), h);
}

const media = [...u32(0x00001000), ...u32(90000), ...u32(0x90000000)]; // type 0, SAP type 1, delta 0
const nested = [...u32(0x80000200), ...u32(45000), ...u32(0x00000123)]; // type 1, no SAP, delta 0x123

test('sidx v0 round-trips and reads references', () => {
  const payload = [0, 0, 0, 0, ...u32(1), ...u32(90000), ...u32(3003), ...u32(52), ...u16(0), ...u16(2), ...media, ...nested];
  const box = assertRoundTrip(sidxCodec, boxBytes('sidx', payload));
  assert.equal(box.referenceId, 1);
  assert.equal(box.timescale, 90000);
  assert.equal(box.earliestPresentationTime, 3003);
  assert.equal(box.firstOffset, 52);
  assert.deepEqual(box.references, [
    { referenceType: 0, referencedSize: 0x1000, subsegmentDuration: 90000, startsWithSap: true, sapType: 1, sapDeltaTime: 0 },
    { referenceType: 1, referencedSize: 0x200, subsegmentDuration: 45000, startsWithSap: false, sapType: 0, sapDeltaTime: 0x123 },
  ]);
});

test('sidx v1 round-trips 64-bit times and offsets', () => {
  const payload = [1, 0, 0, 0, ...u32(2), ...u32(48000), ...u64(2 ** 40 + 5), ...u64(2 ** 33), ...u16(0), ...u16(1), ...media];
  const box = assertRoundTrip(sidxCodec, boxBytes('sidx', payload));
  assert.equal(box.version, 1);
  assert.equal(box.earliestPresentationTime, 2 ** 40 + 5);
  assert.equal(box.firstOffset, 2 ** 33);
});

test('sidx keeps the reserved field, all-ones reference fields and trailing bytes', () => {
  const ones = [...u32(0xffffffff), ...u32(0xffffffff), ...u32(0xffffffff)];
  const payload = [0, 0, 0, 0, ...u32(1), ...u32(1000), ...u32(0), ...u32(0), ...u16(0xabcd), ...u16(1), ...ones, 7, 7];
  const box = assertRoundTrip(sidxCodec, boxBytes('sidx', payload));
  assert.equal(box.reserved, 0xabcd);
  assert.deepEqual(box.references[0], {
    referenceType: 1,
    referencedSize: 0x7fffffff,
    subsegmentDuration: 0xffffffff,
    startsWithSap: true,
    sapType: 7,
    sapDeltaTime: 0x0fffffff,
  });
  assert.deepEqual(box.trailing, Uint8Array.of(7, 7));
});

test('sidx reference count past the payload gives BOX_OVERRUN', () => {
  const payload = [0, 0, 0, 0, ...u32(1), ...u32(1000), ...u32(0), ...u32(0), ...u16(0), ...u16(0xffff), ...media];
  assert.throws(() => parse(boxBytes('sidx', payload)), isCode('BOX_OVERRUN'));
});

test('sidx v1 cut in its header gives BOX_OVERRUN', () => {
  assert.throws(
    () => parse(boxBytes('sidx', [1, 0, 0, 0, ...u32(1), ...u32(1000), ...u32(0), ...u32(0)])),
    isCode('BOX_OVERRUN'),
  );
});

test('sidx v1 first offset past 2^53 gives NUMBER_TOO_LARGE', () => {
  const payload = [1, 0, 0, 0, ...u32(1), ...u32(1000), ...u64(0), ...u32(0x00200000), ...u32(1), ...u16(0), ...u16(0)];
  assert.throws(() => parse(boxBytes('sidx', payload)), isCode('NUMBER_TOO_LARGE'));
});

test('sidx unknown version gives UNSUPPORTED', () => {
  assert.throws(() => parse(boxBytes('sidx', [2, 0, 0, 0, ...u32(1), ...u32(1000)])), isCode('UNSUPPORTED'));
});

test('sidx v0 refuses to write a 64-bit first offset', () => {
  const box: SidxBox = {
    version: 0,
    flags: 0,
    referenceId: 1,
    timescale: 1,
    earliestPresentationTime: 0,
    firstOffset: 2 ** 32,
    reserved: 0,
    references: [],
  };
  assert.throws(() => encodeBox(sidxCodec, box), isCode('BUG'));
  assert.equal(encodeBox(sidxCodec, { ...box, version: 1 }).length, 8 + 4 + 8 + 16 + 4);
});
