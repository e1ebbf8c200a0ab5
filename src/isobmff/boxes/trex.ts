// trex: track extends defaults, in mvex.
import type { BoxCodec } from '../codec.js';
import type { FullBox } from '../header.js';
import { boxSize, readFullBox, writeBoxHeader, writeFullBox } from '../header.js';

/** Per-track defaults for fragment samples, used when tfhd and trun do not override them. */
export interface TrexBox extends FullBox {
  trackId: number;
  /** 1-based index into the track's stsd entries. */
  defaultSampleDescriptionIndex: number;
  defaultSampleDuration: number;
  defaultSampleSize: number;
  /** Sample flags (is_leading, depends_on, …, is_non_sync_sample, degradation_priority). */
  defaultSampleFlags: number;
  /** Bytes after the known fields, kept so writing is exact. */
  trailing?: Uint8Array;
}

function payloadSize(box: TrexBox): number {
  return 4 + 20 + (box.trailing?.length ?? 0);
}

export const trexCodec: BoxCodec<TrexBox> = {
  parse(c) {
    const full = readFullBox(c);
    const box: TrexBox = {
      ...full,
      trackId: c.u32(),
      defaultSampleDescriptionIndex: c.u32(),
      defaultSampleDuration: c.u32(),
      defaultSampleSize: c.u32(),
      defaultSampleFlags: c.u32(),
    };
    if (c.remaining > 0) box.trailing = c.rest();
    return box;
  },
  size(box) {
    return boxSize(payloadSize(box));
  },
  write(w, box) {
    writeBoxHeader(w, 'trex', boxSize(payloadSize(box)));
    writeFullBox(w, box);
    w.u32(box.trackId);
    w.u32(box.defaultSampleDescriptionIndex);
    w.u32(box.defaultSampleDuration);
    w.u32(box.defaultSampleSize);
    w.u32(box.defaultSampleFlags);
    if (box.trailing) w.bytesFrom(box.trailing);
  },
};
