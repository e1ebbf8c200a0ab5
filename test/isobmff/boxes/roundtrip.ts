// Test helper for box codecs: build a box from a payload, and check parse→write is byte-exact.
import assert from 'node:assert/strict';
import { VvfError } from '../../../src/errors.js';
import type { BoxCodec } from '../../../src/isobmff/codec.js';
import { encodeBox } from '../../../src/isobmff/codec.js';
import { Cursor } from '../../../src/isobmff/cursor.js';
import { readBoxHeader } from '../../../src/isobmff/header.js';

/**
 * Parses `bytes` (one whole box) with `codec`, then checks that the codec consumed the
 * whole payload, that `codec.size` equals the input length and that writing gives the
 * input bytes back exactly. Returns the parsed box for further assertions.
 */
export function assertRoundTrip<T>(codec: BoxCodec<T>, bytes: Uint8Array): T {
  const h = readBoxHeader(new Cursor(bytes, 0, 'test'), bytes.length);
  assert.equal(h.size, bytes.length, 'box size field must equal the buffer length');
  const c = new Cursor(bytes, 0, h.type, h.headerSize, h.size);
  const box = codec.parse(c, h);
  assert.equal(c.remaining, 0, `parse left ${c.remaining} payload bytes unread`);
  assert.equal(codec.size(box), bytes.length, 'codec.size must equal the input length');
  assert.deepEqual(encodeBox(codec, box), bytes, 'written bytes must equal the input');
  return box;
}

/** A whole box (32-bit size header) of `type` around `payload`. */
export function boxBytes(type: string, payload: number[] | Uint8Array): Uint8Array {
  const out = new Uint8Array(8 + payload.length);
  new DataView(out.buffer).setUint32(0, out.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i) & 0xff;
  out.set(payload, 8);
  return out;
}

/** Parses one whole box with `codec` without the round-trip checks (for malformed input). */
export function parseBox<T>(codec: BoxCodec<T>, bytes: Uint8Array): T {
  const h = readBoxHeader(new Cursor(bytes, 0, 'test'), bytes.length);
  return codec.parse(new Cursor(bytes, 0, h.type, h.headerSize, h.size), h);
}

/** Big-endian bytes of a 16-bit value. */
export function be16(v: number): number[] {
  return [(v >>> 8) & 0xff, v & 0xff];
}

/** Big-endian bytes of a 24-bit value. */
export function be24(v: number): number[] {
  return [(v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff];
}

/** Big-endian bytes of a 32-bit value (negative values give their two's complement). */
export function be32(v: number): number[] {
  return [(v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff];
}

/** Big-endian bytes of a 64-bit value (two's complement for negatives), exact within ±2^53. */
export function be64(v: number): number[] {
  const b = BigInt.asUintN(64, BigInt(v));
  return [...be32(Number(b >> 32n)), ...be32(Number(b & 0xffff_ffffn))];
}

/** The four bytes of a four-character code. */
export function fourcc(s: string): number[] {
  return [...s].map((ch) => ch.charCodeAt(0) & 0xff);
}

/** A predicate for assert.throws: a VvfError with `code`. */
export function vvfCode(code: string): (e: unknown) => boolean {
  return (e) => e instanceof VvfError && e.code === code;
}
