// mvhd: movie header, in moov.
import { assert } from '../../errors.js';
import type { BoxCodec } from '../codec.js';
import type { FullBox } from '../header.js';
import { boxSize, readFullBox, writeBoxHeader, writeFullBox } from '../header.js';
import { checkTimeVersion, readDuration, readTime, timeBytes, writeDuration, writeTime } from './time-fields.js';

/**
 * Movie header: timescale and duration of the whole movie. Version 0 holds the times in
 * 32 bits, version 1 in 64 bits. Fixed-point fields are kept raw.
 */
export interface MvhdBox extends FullBox {
  /** Seconds since 1904-01-01 UTC. */
  creationTime: number;
  modificationTime: number;
  /** Ticks per second of the movie time (mvhd duration, edit list segment durations). */
  timescale: number;
  /** In `timescale` units; -1 (`UNKNOWN_DURATION`) when the field is all 1s. */
  duration: number;
  /** Preferred rate, raw signed 16.16 fixed point (0x00010000 = 1.0). */
  rate: number;
  /** Preferred volume, raw signed 8.8 fixed point (0x0100 = full). */
  volume: number;
  /** bit(16) reserved + 2×u32 reserved: 10 raw bytes. */
  reserved: Uint8Array;
  /** Transformation matrix: 36 raw bytes (9 × 32-bit fixed point). */
  matrix: Uint8Array;
  /** 6×u32 pre_defined: 24 raw bytes. */
  preDefined: Uint8Array;
  nextTrackId: number;
  /** Bytes after the known fields, kept so writing is exact. */
  trailing?: Uint8Array;
}

function payloadSize(box: MvhdBox): number {
  return 4 + 3 * timeBytes(box.version) + 4 + 4 + 2 + 10 + 36 + 24 + 4 + (box.trailing?.length ?? 0);
}

export const mvhdCodec: BoxCodec<MvhdBox> = {
  parse(c) {
    const full = readFullBox(c);
    checkTimeVersion(c, 'mvhd', full.version);
    const box: MvhdBox = {
      ...full,
      creationTime: readTime(c, full.version),
      modificationTime: readTime(c, full.version),
      timescale: c.u32(),
      duration: readDuration(c, full.version),
      rate: c.i32(),
      volume: c.i16(),
      reserved: c.bytesCopy(10),
      matrix: c.bytesCopy(36),
      preDefined: c.bytesCopy(24),
      nextTrackId: c.u32(),
    };
    if (c.remaining > 0) box.trailing = c.rest();
    return box;
  },
  size(box) {
    return boxSize(payloadSize(box));
  },
  write(w, box) {
    assert(box.reserved.length === 10 && box.matrix.length === 36 && box.preDefined.length === 24, 'mvhd raw field sizes');
    writeBoxHeader(w, 'mvhd', boxSize(payloadSize(box)));
    writeFullBox(w, box);
    writeTime(w, box.version, box.creationTime);
    writeTime(w, box.version, box.modificationTime);
    w.u32(box.timescale);
    writeDuration(w, box.version, box.duration);
    w.i32(box.rate);
    w.i16(box.volume);
    w.bytesFrom(box.reserved);
    w.bytesFrom(box.matrix);
    w.bytesFrom(box.preDefined);
    w.u32(box.nextTrackId);
    if (box.trailing) w.bytesFrom(box.trailing);
  },
};
