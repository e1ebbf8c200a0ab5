// stss: sync sample table, in stbl.
import type { BoxCodec } from '../codec.js';
import type { FullBox } from '../header.js';
import { boxSize, readFullBox, writeBoxHeader, writeFullBox } from '../header.js';

/** Sync (key) samples. Without an stss box every sample is a sync sample. */
export interface StssBox extends FullBox {
  /** 1-based sample numbers, in increasing order. */
  samples: Uint32Array;
  /** Bytes after the entries, kept so writing is exact. */
  trailing?: Uint8Array;
}

function payloadSize(box: StssBox): number {
  return 8 + 4 * box.samples.length + (box.trailing?.length ?? 0);
}

export const stssCodec: BoxCodec<StssBox> = {
  parse(c) {
    const full = readFullBox(c);
    const count = c.u32();
    c.checkCount(count, 4, 'stss entries');
    const samples = new Uint32Array(count);
    for (let i = 0; i < count; i++) samples[i] = c.u32();
    const box: StssBox = { ...full, samples };
    if (c.remaining > 0) box.trailing = c.rest();
    return box;
  },
  size(box) {
    return boxSize(payloadSize(box));
  },
  write(w, box) {
    writeBoxHeader(w, 'stss', boxSize(payloadSize(box)));
    writeFullBox(w, box);
    w.u32(box.samples.length);
    for (const s of box.samples) w.u32(s);
    if (box.trailing) w.bytesFrom(box.trailing);
  },
};
