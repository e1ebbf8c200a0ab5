// tfhd: track fragment header, in traf.
import { assert } from '../../errors.js';
import type { BoxCodec } from '../codec.js';
import type { FullBox } from '../header.js';
import { boxSize, readFullBox, writeBoxHeader, writeFullBox } from '../header.js';

/** tfhd flag: base_data_offset (u64) is present. */
export const TFHD_BASE_DATA_OFFSET = 0x1;
/** tfhd flag: sample_description_index is present. */
export const TFHD_SAMPLE_DESCRIPTION_INDEX = 0x2;
/** tfhd flag: default_sample_duration is present. */
export const TFHD_DEFAULT_DURATION = 0x8;
/** tfhd flag: default_sample_size is present. */
export const TFHD_DEFAULT_SIZE = 0x10;
/** tfhd flag: default_sample_flags is present. */
export const TFHD_DEFAULT_FLAGS = 0x20;
/** tfhd flag: the fragment has no samples for this duration. */
export const TFHD_DURATION_IS_EMPTY = 0x10000;
/** tfhd flag: without base_data_offset, the data base is the start of the enclosing moof. */
export const TFHD_DEFAULT_BASE_IS_MOOF = 0x20000;

/**
 * Track fragment header: which track the traf belongs to and the defaults for its samples.
 * Each optional field is present exactly when its flag is set in `flags`.
 */
export interface TfhdBox extends FullBox {
  trackId: number;
  /** Absolute file offset that trun data offsets count from (64-bit in the file). */
  baseDataOffset?: number;
  /** 1-based index into the track's stsd entries. */
  sampleDescriptionIndex?: number;
  defaultSampleDuration?: number;
  defaultSampleSize?: number;
  defaultSampleFlags?: number;
  /** Bytes after the known fields, kept so writing is exact. */
  trailing?: Uint8Array;
}

function payloadSize(box: TfhdBox): number {
  const f = box.flags;
  let n = 8;
  if (f & TFHD_BASE_DATA_OFFSET) n += 8;
  if (f & TFHD_SAMPLE_DESCRIPTION_INDEX) n += 4;
  if (f & TFHD_DEFAULT_DURATION) n += 4;
  if (f & TFHD_DEFAULT_SIZE) n += 4;
  if (f & TFHD_DEFAULT_FLAGS) n += 4;
  return n + (box.trailing?.length ?? 0);
}

/** The field for a set flag; a missing one is a bug in whoever built the box. */
function present(v: number | undefined, what: string): number {
  assert(v !== undefined, `tfhd flag for ${what} is set but the field is missing`);
  return v;
}

export const tfhdCodec: BoxCodec<TfhdBox> = {
  parse(c) {
    const box: TfhdBox = { ...readFullBox(c), trackId: c.u32() };
    const f = box.flags;
    if (f & TFHD_BASE_DATA_OFFSET) box.baseDataOffset = c.u64();
    if (f & TFHD_SAMPLE_DESCRIPTION_INDEX) box.sampleDescriptionIndex = c.u32();
    if (f & TFHD_DEFAULT_DURATION) box.defaultSampleDuration = c.u32();
    if (f & TFHD_DEFAULT_SIZE) box.defaultSampleSize = c.u32();
    if (f & TFHD_DEFAULT_FLAGS) box.defaultSampleFlags = c.u32();
    if (c.remaining > 0) box.trailing = c.rest();
    return box;
  },
  size(box) {
    return boxSize(payloadSize(box));
  },
  write(w, box) {
    writeBoxHeader(w, 'tfhd', boxSize(payloadSize(box)));
    writeFullBox(w, box);
    w.u32(box.trackId);
    const f = box.flags;
    if (f & TFHD_BASE_DATA_OFFSET) w.u64(present(box.baseDataOffset, 'baseDataOffset'));
    if (f & TFHD_SAMPLE_DESCRIPTION_INDEX) w.u32(present(box.sampleDescriptionIndex, 'sampleDescriptionIndex'));
    if (f & TFHD_DEFAULT_DURATION) w.u32(present(box.defaultSampleDuration, 'defaultSampleDuration'));
    if (f & TFHD_DEFAULT_SIZE) w.u32(present(box.defaultSampleSize, 'defaultSampleSize'));
    if (f & TFHD_DEFAULT_FLAGS) w.u32(present(box.defaultSampleFlags, 'defaultSampleFlags'));
    if (box.trailing) w.bytesFrom(box.trailing);
  },
};
