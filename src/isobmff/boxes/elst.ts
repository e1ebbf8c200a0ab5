// elst: edit list, in edts.
import { assert } from '../../errors.js';
import type { BoxCodec } from '../codec.js';
import type { FullBox } from '../header.js';
import { boxSize, readFullBox, writeBoxHeader, writeFullBox } from '../header.js';

/** One edit: a segment of the presentation timeline mapped onto the media timeline. */
export interface EditEntry {
  /** Length of the edit, in the mvhd timescale. */
  segmentDuration: number;
  /** Start of the edit in media time (track timescale); -1 = empty edit (a delay). */
  mediaTime: number;
  mediaRateInteger: number;
  mediaRateFraction: number;
}

/** Edit list. Version 0 holds durations and media times in 32 bits, version 1 in 64. */
export interface ElstBox extends FullBox {
  entries: EditEntry[];
  /** Bytes after the entries, kept so writing is exact. */
  trailing?: Uint8Array;
}

function entryBytes(version: number): number {
  return version === 1 ? 20 : 12;
}

function payloadSize(box: ElstBox): number {
  return 8 + entryBytes(box.version) * box.entries.length + (box.trailing?.length ?? 0);
}

export const elstCodec: BoxCodec<ElstBox> = {
  parse(c) {
    const full = readFullBox(c);
    if (full.version > 1) throw c.error('UNSUPPORTED', `elst version ${full.version}`);
    const count = c.u32();
    c.checkCount(count, entryBytes(full.version), 'elst entries');
    const entries: EditEntry[] = [];
    for (let i = 0; i < count; i++) {
      const v1 = full.version === 1;
      entries.push({
        segmentDuration: v1 ? c.u64() : c.u32(),
        mediaTime: v1 ? c.i64() : c.i32(),
        mediaRateInteger: c.i16(),
        mediaRateFraction: c.i16(),
      });
    }
    const box: ElstBox = { ...full, entries };
    if (c.remaining > 0) box.trailing = c.rest();
    return box;
  },
  size(box) {
    return boxSize(payloadSize(box));
  },
  write(w, box) {
    assert(box.version <= 1, `elst version ${box.version}`);
    writeBoxHeader(w, 'elst', boxSize(payloadSize(box)));
    writeFullBox(w, box);
    w.u32(box.entries.length);
    for (const e of box.entries) {
      if (box.version === 1) {
        w.u64(e.segmentDuration);
        w.i64(e.mediaTime);
      } else {
        assert(e.segmentDuration <= 0xffff_ffff, 'elst v0 segment duration must fit 32 bits');
        assert(e.mediaTime >= -0x8000_0000 && e.mediaTime <= 0x7fff_ffff, 'elst v0 media time must fit 32 bits');
        w.u32(e.segmentDuration);
        w.i32(e.mediaTime);
      }
      w.i16(e.mediaRateInteger);
      w.i16(e.mediaRateFraction);
    }
    if (box.trailing) w.bytesFrom(box.trailing);
  },
};
