// ctts: composition time to sample, in stbl.
import { assert } from '../../errors.js';
import type { BoxCodec } from '../codec.js';
import type { FullBox } from '../header.js';
import { boxSize, readFullBox, writeBoxHeader, writeFullBox } from '../header.js';

/**
 * Composition offsets, run-length coded: `counts[i]` consecutive samples have offset
 * `offsets[i]` (composition time − decode time). Offsets are read signed in every version:
 * version 1 declares them signed, and some writers put negative values in version 0 boxes
 * (ffmpeg reads them signed too). The same 32 bits are written back either way.
 */
export interface CttsBox extends FullBox {
  counts: Uint32Array;
  offsets: Int32Array;
  /** Bytes after the entries, kept so writing is exact. */
  trailing?: Uint8Array;
}

function payloadSize(box: CttsBox): number {
  return 8 + 8 * box.counts.length + (box.trailing?.length ?? 0);
}

export const cttsCodec: BoxCodec<CttsBox> = {
  parse(c) {
    const full = readFullBox(c);
    const count = c.u32();
    c.checkCount(count, 8, 'ctts entries');
    const counts = new Uint32Array(count);
    const offsets = new Int32Array(count);
    for (let i = 0; i < count; i++) {
      counts[i] = c.u32();
      offsets[i] = c.i32();
    }
    const box: CttsBox = { ...full, counts, offsets };
    if (c.remaining > 0) box.trailing = c.rest();
    return box;
  },
  size(box) {
    return boxSize(payloadSize(box));
  },
  write(w, box) {
    const n = box.counts.length;
    assert(box.offsets.length === n, 'ctts columns must have the same length');
    writeBoxHeader(w, 'ctts', boxSize(payloadSize(box)));
    writeFullBox(w, box);
    w.u32(n);
    for (let i = 0; i < n; i++) {
      w.u32(box.counts[i] ?? 0);
      w.i32(box.offsets[i] ?? 0);
    }
    if (box.trailing) w.bytesFrom(box.trailing);
  },
};
