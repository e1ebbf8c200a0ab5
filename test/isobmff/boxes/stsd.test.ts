import assert from 'node:assert/strict';
import { test } from 'node:test';
import { VvfError } from '../../../src/errors.js';
import { stsdCodec } from '../../../src/isobmff/boxes/stsd.js';
import { encodeBox } from '../../../src/isobmff/codec.js';
import { Cursor } from '../../../src/isobmff/cursor.js';
import { readBoxHeader } from '../../../src/isobmff/header.js';

function u32(v: number): number[] {
  return [(v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff];
}

function fourcc(s: string): number[] {
  return [...s].map((ch) => ch.charCodeAt(0));
}

/** A box with a 32-bit size. */
function box(type: string, payload: number[]): number[] {
  return [...u32(8 + payload.length), ...fourcc(type), ...payload];
}

/** An opaque sample entry of `n` payload bytes with recognizable contents. */
function entry(type: string, n: number, seed: number): number[] {
  return box(
    type,
    Array.from({ length: n }, (_, i) => (i * 7 + seed) & 0xff),
  );
}

/** Parses a whole stsd box placed at absolute offset `base`. */
function parseAt(bytes: Uint8Array, base = 0) {
  const c = new Cursor(bytes, base, 'stsd');
  const h = readBoxHeader(c, base + bytes.length);
  const payload = new Cursor(bytes, base, 'moov/trak/mdia/minf/stbl/stsd', h.headerSize, h.size);
  return stsdCodec.parse(payload, h);
}

function stsd(version: number, flags: number, count: number, rest: number[]): Uint8Array {
  return new Uint8Array(
    box('stsd', [version, (flags >>> 16) & 0xff, (flags >>> 8) & 0xff, flags & 0xff, ...u32(count), ...rest]),
  );
}

function expectVvf(fn: () => unknown, code: string, offset?: number): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof VvfError, `expected a VvfError, got ${String(e)}`);
    assert.equal(e.code, code);
    if (offset !== undefined) assert.equal(e.offset, offset);
    return true;
  });
}

test('stsd: two entries round-trip exactly and are kept as whole boxes', () => {
  const a = entry('avc1', 90, 1);
  const b = entry('mp4a', 30, 2);
  const bytes = stsd(0, 0, 2, [...a, ...b]);
  const box = parseAt(bytes);
  assert.equal(box.version, 0);
  assert.equal(box.flags, 0);
  assert.equal(box.entries.length, 2);
  assert.deepEqual([...(box.entries[0] ?? [])], a);
  assert.deepEqual([...(box.entries[1] ?? [])], b);
  assert.equal(box.trailing, undefined);
  assert.equal(stsdCodec.size(box), bytes.length);
  assert.deepEqual(encodeBox(stsdCodec, box), bytes);
});

test('stsd: entries are copies, not views of the source', () => {
  const bytes = stsd(0, 0, 1, entry('hvc1', 10, 3));
  const box = parseAt(bytes);
  const before = [...(box.entries[0] ?? [])];
  bytes.fill(0xee);
  assert.deepEqual([...(box.entries[0] ?? [])], before);
});

test('stsd: version, flags and trailing bytes survive the round trip', () => {
  const bytes = stsd(1, 0x000102, 1, [...entry('Opus', 20, 4), 0, 0, 0, 0, 9]);
  const box = parseAt(bytes);
  assert.equal(box.version, 1);
  assert.equal(box.flags, 0x102);
  assert.deepEqual([...(box.trailing ?? [])], [0, 0, 0, 0, 9]);
  assert.deepEqual(encodeBox(stsdCodec, box), bytes);
});

test('stsd: zero entries parse and write back', () => {
  const bytes = stsd(0, 0, 0, []);
  const box = parseAt(bytes);
  assert.equal(box.entries.length, 0);
  assert.deepEqual(encodeBox(stsdCodec, box), bytes);
});

test('stsd: a box built in memory encodes to the expected bytes', () => {
  const e = new Uint8Array(entry('ac-3', 5, 5));
  const out = encodeBox(stsdCodec, { version: 0, flags: 0, entries: [e] });
  assert.deepEqual(out, stsd(0, 0, 1, [...e]));
});

test('stsd: an entry_count claiming more entries than the bytes can hold is BOX_OVERRUN before allocating', () => {
  // 2^32-1 entries of at least 8 bytes in 13 bytes.
  const bytes = stsd(0, 0, 0xffffffff, entry('avc1', 5, 6));
  expectVvf(() => parseAt(bytes, 1000), 'BOX_OVERRUN', 1000 + 16);
});

test('stsd: an entry_count larger than the entries present is BOX_OVERRUN', () => {
  // Room for two 8-byte headers, but the first entry takes all of it.
  const bytes = stsd(0, 0, 2, entry('avc1', 16, 7));
  expectVvf(() => parseAt(bytes), 'BOX_OVERRUN');
});

test('stsd: an entry whose size runs past the box is BOX_OVERRUN at the entry', () => {
  const e = entry('avc1', 16, 8);
  e.splice(0, 4, ...u32(200));
  const bytes = stsd(0, 0, 1, e);
  expectVvf(() => parseAt(bytes, 500), 'BOX_OVERRUN', 500 + 16);
});

test('stsd: an entry size smaller than its header is BOX_INVALID', () => {
  const e = entry('avc1', 16, 9);
  e.splice(0, 4, ...u32(4));
  expectVvf(() => parseAt(stsd(0, 0, 1, e)), 'BOX_INVALID', 16);
});

test('stsd: a non-printable entry type is BOX_INVALID', () => {
  const e = entry('avc1', 8, 10);
  e.splice(4, 4, 1, 2, 3, 4);
  expectVvf(() => parseAt(stsd(0, 0, 1, e)), 'BOX_INVALID');
});

test('stsd: a payload cut before entry_count is BOX_OVERRUN', () => {
  const bytes = new Uint8Array(box('stsd', [0, 0, 0, 0, 0, 0]));
  expectVvf(() => parseAt(bytes), 'BOX_OVERRUN');
});
