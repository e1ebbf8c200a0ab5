// tfdt: track fragment decode time, in traf.
import { assert } from '../../errors.js';
import type { BoxCodec } from '../codec.js';
import type { FullBox } from '../header.js';
import { boxSize, readFullBox, writeBoxHeader, writeFullBox } from '../header.js';

/**
 * Track fragment base media decode time: the decode time, in the track timescale, of the
 * first sample of the fragment. Version 0 holds it in 32 bits, version 1 in 64 bits.
 */
export interface TfdtBox extends FullBox {
  baseMediaDecodeTime: number;
  /** Bytes after the known fields, kept so writing is exact. */
  trailing?: Uint8Array;
}

function payloadSize(box: TfdtBox): number {
  return 4 + (box.version === 1 ? 8 : 4) + (box.trailing?.length ?? 0);
}

export const tfdtCodec: BoxCodec<TfdtBox> = {
  parse(c) {
    const full = readFullBox(c);
    // The layout of other versions is unknown: refuse rather than guess.
    if (full.version > 1) throw c.error('UNSUPPORTED', `tfdt version ${full.version}`);
    const box: TfdtBox = { ...full, baseMediaDecodeTime: full.version === 1 ? c.u64() : c.u32() };
    if (c.remaining > 0) box.trailing = c.rest();
    return box;
  },
  size(box) {
    return boxSize(payloadSize(box));
  },
  write(w, box) {
    assert(box.version <= 1, `tfdt version ${box.version}`);
    writeBoxHeader(w, 'tfdt', boxSize(payloadSize(box)));
    writeFullBox(w, box);
    if (box.version === 1) {
      w.u64(box.baseMediaDecodeTime);
    } else {
      assert(box.baseMediaDecodeTime <= 0xffff_ffff, 'tfdt v0 decode time must fit 32 bits');
      w.u32(box.baseMediaDecodeTime);
    }
    if (box.trailing) w.bytesFrom(box.trailing);
  },
};
