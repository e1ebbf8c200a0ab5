// Shared v0/v1 time fields of mvhd, tkhd, mdhd and mehd (32 bits in version 0, 64 in version 1).
import { assert } from '../../errors.js';
import type { Cursor } from '../cursor.js';
import type { Writer } from '../writer.js';

/**
 * A duration field of all 1s: the spec's "duration unknown". Parsed as -1 in both
 * versions (a 64-bit all-1s value does not fit a JS number) and written back as all 1s.
 */
export const UNKNOWN_DURATION = -1;

/** Refuses versions whose layout is not known, rather than guessing. */
export function checkTimeVersion(c: Cursor, type: string, version: number): void {
  if (version > 1) throw c.error('UNSUPPORTED', `${type} version ${version}`);
}

/** A creation/modification time: u32 in version 0, u64 in version 1. */
export function readTime(c: Cursor, version: number): number {
  return version === 1 ? c.u64() : c.u32();
}

export function writeTime(w: Writer, version: number, v: number): void {
  if (version === 1) {
    w.u64(v);
  } else {
    assert(v >= 0 && v <= 0xffff_ffff, `version 0 time must fit 32 bits: ${v}`);
    w.u32(v);
  }
}

/** A duration: like a time, but all 1s reads as {@link UNKNOWN_DURATION}. */
export function readDuration(c: Cursor, version: number): number {
  if (version === 1) {
    const at = c.position;
    if (c.remaining >= 8 && c.bytes.subarray(at, at + 8).every((b) => b === 0xff)) {
      c.skip(8);
      return UNKNOWN_DURATION;
    }
    return c.u64();
  }
  const d = c.u32();
  return d === 0xffff_ffff ? UNKNOWN_DURATION : d;
}

export function writeDuration(w: Writer, version: number, v: number): void {
  if (v === UNKNOWN_DURATION) {
    w.u32(0xffff_ffff);
    if (version === 1) w.u32(0xffff_ffff);
    return;
  }
  writeTime(w, version, v);
}

/** Bytes of one time or duration field. */
export function timeBytes(version: number): number {
  return version === 1 ? 8 : 4;
}
