// stts: decoding time to sample, in stbl.
import { assert } from '../../errors.js';
import type { BoxCodec } from '../codec.js';
import type { FullBox } from '../header.js';
import { boxSize, readFullBox, writeBoxHeader, writeFullBox } from '../header.js';

/** Decode durations, run-length coded: `counts[i]` consecutive samples last `deltas[i]` ticks each. */
export interface SttsBox extends FullBox {
  counts: Uint32Array;
  deltas: Uint32Array;
  /** Bytes after the entries, kept so writing is exact. */
  trailing?: Uint8Array;
}

function payloadSize(box: SttsBox): number {
  return 8 + 8 * box.counts.length + (box.trailing?.length ?? 0);
}

export const sttsCodec: BoxCodec<SttsBox> = {
  parse(c) {
    const full = readFullBox(c);
    const count = c.u32();
    c.checkCount(count, 8, 'stts entries');
    const counts = new Uint32Array(count);
    const deltas = new Uint32Array(count);
    for (let i = 0; i < count; i++) {
      counts[i] = c.u32();
      deltas[i] = c.u32();
    }
    const box: SttsBox = { ...full, counts, deltas };
    if (c.remaining > 0) box.trailing = c.rest();
    return box;
  },
  size(box) {
    return boxSize(payloadSize(box));
  },
  write(w, box) {
    const n = box.counts.length;
    assert(box.deltas.length === n, 'stts columns must have the same length');
    writeBoxHeader(w, 'stts', boxSize(payloadSize(box)));
    writeFullBox(w, box);
    w.u32(n);
    for (let i = 0; i < n; i++) {
      w.u32(box.counts[i] ?? 0);
      w.u32(box.deltas[i] ?? 0);
    }
    if (box.trailing) w.bytesFrom(box.trailing);
  },
};
