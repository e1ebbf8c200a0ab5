// tkhd: track header, in trak.
import { assert } from '../../errors.js';
import type { BoxCodec } from '../codec.js';
import type { FullBox } from '../header.js';
import { boxSize, readFullBox, writeBoxHeader, writeFullBox } from '../header.js';
import { checkTimeVersion, readDuration, readTime, timeBytes, writeDuration, writeTime } from './time-fields.js';

/** tkhd flag: the track is enabled. */
export const TKHD_ENABLED = 0x1;
/** tkhd flag: the track is used in the presentation. */
export const TKHD_IN_MOVIE = 0x2;
/** tkhd flag: the track is used when previewing. */
export const TKHD_IN_PREVIEW = 0x4;

/**
 * Track header: id, duration (in the movie timescale), layering and presentation size.
 * Version 0 holds the times in 32 bits, version 1 in 64 bits. Fixed-point fields are raw.
 */
export interface TkhdBox extends FullBox {
  creationTime: number;
  modificationTime: number;
  trackId: number;
  /** u32 reserved after trackId: 4 raw bytes. */
  reserved1: Uint8Array;
  /** In the mvhd timescale; -1 (`UNKNOWN_DURATION`) when the field is all 1s. */
  duration: number;
  /** 2×u32 reserved after duration: 8 raw bytes. */
  reserved2: Uint8Array;
  layer: number;
  alternateGroup: number;
  /** Raw signed 8.8 fixed point (0x0100 for audio, 0 otherwise). */
  volume: number;
  /** u16 reserved after volume: 2 raw bytes. */
  reserved3: Uint8Array;
  /** Transformation matrix: 36 raw bytes. */
  matrix: Uint8Array;
  /** Raw 16.16 fixed point. */
  width: number;
  /** Raw 16.16 fixed point. */
  height: number;
  /** Bytes after the known fields, kept so writing is exact. */
  trailing?: Uint8Array;
}

function payloadSize(box: TkhdBox): number {
  return 4 + 3 * timeBytes(box.version) + 4 + 4 + 8 + 2 + 2 + 2 + 2 + 36 + 4 + 4 + (box.trailing?.length ?? 0);
}

export const tkhdCodec: BoxCodec<TkhdBox> = {
  parse(c) {
    const full = readFullBox(c);
    checkTimeVersion(c, 'tkhd', full.version);
    const box: TkhdBox = {
      ...full,
      creationTime: readTime(c, full.version),
      modificationTime: readTime(c, full.version),
      trackId: c.u32(),
      reserved1: c.bytesCopy(4),
      duration: readDuration(c, full.version),
      reserved2: c.bytesCopy(8),
      layer: c.i16(),
      alternateGroup: c.i16(),
      volume: c.i16(),
      reserved3: c.bytesCopy(2),
      matrix: c.bytesCopy(36),
      width: c.u32(),
      height: c.u32(),
    };
    if (c.remaining > 0) box.trailing = c.rest();
    return box;
  },
  size(box) {
    return boxSize(payloadSize(box));
  },
  write(w, box) {
    assert(
      box.reserved1.length === 4 && box.reserved2.length === 8 && box.reserved3.length === 2 && box.matrix.length === 36,
      'tkhd raw field sizes',
    );
    writeBoxHeader(w, 'tkhd', boxSize(payloadSize(box)));
    writeFullBox(w, box);
    writeTime(w, box.version, box.creationTime);
    writeTime(w, box.version, box.modificationTime);
    w.u32(box.trackId);
    w.bytesFrom(box.reserved1);
    writeDuration(w, box.version, box.duration);
    w.bytesFrom(box.reserved2);
    w.i16(box.layer);
    w.i16(box.alternateGroup);
    w.i16(box.volume);
    w.bytesFrom(box.reserved3);
    w.bytesFrom(box.matrix);
    w.u32(box.width);
    w.u32(box.height);
    if (box.trailing) w.bytesFrom(box.trailing);
  },
};
