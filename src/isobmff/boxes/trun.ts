// trun: track fragment run, in traf.
import { assert } from '../../errors.js';
import type { BoxCodec } from '../codec.js';
import type { FullBox } from '../header.js';
import { boxSize, readFullBox, writeBoxHeader, writeFullBox } from '../header.js';

/** trun flag: data_offset (signed 32-bit) is present. */
export const TRUN_DATA_OFFSET = 0x1;
/** trun flag: first_sample_flags is present (overrides the flags of the first sample). */
export const TRUN_FIRST_SAMPLE_FLAGS = 0x4;
/** trun flag: each sample has a duration. */
export const TRUN_SAMPLE_DURATION = 0x100;
/** trun flag: each sample has a size. */
export const TRUN_SAMPLE_SIZE = 0x200;
/** trun flag: each sample has flags. */
export const TRUN_SAMPLE_FLAGS = 0x400;
/** trun flag: each sample has a composition time offset. */
export const TRUN_SAMPLE_COMPOSITION_OFFSET = 0x800;

/**
 * Track fragment run: a run of contiguous samples. Each per-sample array is present
 * (with `sampleCount` entries) exactly when its flag is set; otherwise the tfhd / trex
 * defaults apply.
 */
export interface TrunBox extends FullBox {
  sampleCount: number;
  /** Signed offset of the run's data from the traf's base data offset. */
  dataOffset?: number;
  firstSampleFlags?: number;
  durations: Uint32Array | null;
  sizes: Uint32Array | null;
  sampleFlags: Uint32Array | null;
  /**
   * Read signed in every version, as ffmpeg does: version 0 is unsigned by the spec, but
   * some writers put negative values there. Written back as the same 32 bits.
   */
  compositionOffsets: Int32Array | null;
  /** Bytes after the known fields, kept so writing is exact. */
  trailing?: Uint8Array;
}

/** Bytes per sample entry for these flags. */
function entrySize(flags: number): number {
  let n = 0;
  if (flags & TRUN_SAMPLE_DURATION) n += 4;
  if (flags & TRUN_SAMPLE_SIZE) n += 4;
  if (flags & TRUN_SAMPLE_FLAGS) n += 4;
  if (flags & TRUN_SAMPLE_COMPOSITION_OFFSET) n += 4;
  return n;
}

function payloadSize(box: TrunBox): number {
  const f = box.flags;
  let n = 8;
  if (f & TRUN_DATA_OFFSET) n += 4;
  if (f & TRUN_FIRST_SAMPLE_FLAGS) n += 4;
  return n + box.sampleCount * entrySize(f) + (box.trailing?.length ?? 0);
}

/** The array for a set flag, checked against the sample count (a mismatch is a bug in the caller). */
function column<A extends Uint32Array | Int32Array>(a: A | null, count: number, what: string): A {
  assert(a !== null && a.length === count, `trun ${what} must hold ${count} entries when its flag is set`);
  return a;
}

export const trunCodec: BoxCodec<TrunBox> = {
  parse(c) {
    const full = readFullBox(c);
    const f = full.flags;
    const sampleCount = c.u32();
    const box: TrunBox = {
      ...full,
      sampleCount,
      durations: null,
      sizes: null,
      sampleFlags: null,
      compositionOffsets: null,
    };
    if (f & TRUN_DATA_OFFSET) box.dataOffset = c.i32();
    if (f & TRUN_FIRST_SAMPLE_FLAGS) box.firstSampleFlags = c.u32();
    const stride = entrySize(f);
    if (stride > 0) {
      // Hostile counts fail here, before any allocation.
      c.checkCount(sampleCount, stride, 'trun samples');
      const raw = c.bytesView(sampleCount * stride);
      const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
      const durations = f & TRUN_SAMPLE_DURATION ? new Uint32Array(sampleCount) : null;
      const sizes = f & TRUN_SAMPLE_SIZE ? new Uint32Array(sampleCount) : null;
      const sampleFlags = f & TRUN_SAMPLE_FLAGS ? new Uint32Array(sampleCount) : null;
      const cts = f & TRUN_SAMPLE_COMPOSITION_OFFSET ? new Int32Array(sampleCount) : null;
      let at = 0;
      for (let i = 0; i < sampleCount; i++) {
        if (durations) {
          durations[i] = view.getUint32(at);
          at += 4;
        }
        if (sizes) {
          sizes[i] = view.getUint32(at);
          at += 4;
        }
        if (sampleFlags) {
          sampleFlags[i] = view.getUint32(at);
          at += 4;
        }
        if (cts) {
          cts[i] = view.getInt32(at);
          at += 4;
        }
      }
      box.durations = durations;
      box.sizes = sizes;
      box.sampleFlags = sampleFlags;
      box.compositionOffsets = cts;
    }
    if (c.remaining > 0) box.trailing = c.rest();
    return box;
  },
  size(box) {
    return boxSize(payloadSize(box));
  },
  write(w, box) {
    const f = box.flags;
    const n = box.sampleCount;
    writeBoxHeader(w, 'trun', boxSize(payloadSize(box)));
    writeFullBox(w, box);
    w.u32(n);
    if (f & TRUN_DATA_OFFSET) {
      assert(box.dataOffset !== undefined, 'trun data offset flag is set but dataOffset is missing');
      w.i32(box.dataOffset);
    }
    if (f & TRUN_FIRST_SAMPLE_FLAGS) {
      assert(box.firstSampleFlags !== undefined, 'trun first sample flags flag is set but firstSampleFlags is missing');
      w.u32(box.firstSampleFlags);
    }
    const durations = f & TRUN_SAMPLE_DURATION ? column(box.durations, n, 'durations') : null;
    const sizes = f & TRUN_SAMPLE_SIZE ? column(box.sizes, n, 'sizes') : null;
    const sampleFlags = f & TRUN_SAMPLE_FLAGS ? column(box.sampleFlags, n, 'sampleFlags') : null;
    const cts = f & TRUN_SAMPLE_COMPOSITION_OFFSET ? column(box.compositionOffsets, n, 'compositionOffsets') : null;
    if (durations || sizes || sampleFlags || cts) {
      for (let i = 0; i < n; i++) {
        if (durations) w.u32(durations[i]!);
        if (sizes) w.u32(sizes[i]!);
        if (sampleFlags) w.u32(sampleFlags[i]!);
        if (cts) w.i32(cts[i]!);
      }
    }
    if (box.trailing) w.bytesFrom(box.trailing);
  },
};
