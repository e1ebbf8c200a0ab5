// stco / co64: chunk offsets (32-bit and 64-bit), in stbl.
import { assert } from '../../errors.js';
import type { BoxCodec } from '../codec.js';
import type { FullBox } from '../header.js';
import { boxSize, readFullBox, writeBoxHeader, writeFullBox } from '../header.js';

/**
 * Absolute file offsets of the chunks: 32-bit in stco, 64-bit in co64 (read values are
 * checked to fit 2^53).
 */
export interface StcoBox extends FullBox {
  type: 'stco' | 'co64';
  offsets: Float64Array;
  /** Bytes after the entries, kept so writing is exact. */
  trailing?: Uint8Array;
}

function entryBytes(type: StcoBox['type']): number {
  return type === 'co64' ? 8 : 4;
}

function payloadSize(box: StcoBox): number {
  return 8 + entryBytes(box.type) * box.offsets.length + (box.trailing?.length ?? 0);
}

export const stcoCodec: BoxCodec<StcoBox> = {
  parse(c, h) {
    if (h.type !== 'stco' && h.type !== 'co64') throw c.error('BOX_INVALID', `stcoCodec cannot read ${h.type}`);
    const type = h.type;
    const full = readFullBox(c);
    const count = c.u32();
    c.checkCount(count, entryBytes(type), `${type} entries`);
    const offsets = new Float64Array(count);
    if (type === 'co64') {
      for (let i = 0; i < count; i++) offsets[i] = c.u64();
    } else {
      for (let i = 0; i < count; i++) offsets[i] = c.u32();
    }
    const box: StcoBox = { ...full, type, offsets };
    if (c.remaining > 0) box.trailing = c.rest();
    return box;
  },
  size(box) {
    return boxSize(payloadSize(box));
  },
  write(w, box) {
    writeBoxHeader(w, box.type, boxSize(payloadSize(box)));
    writeFullBox(w, box);
    w.u32(box.offsets.length);
    if (box.type === 'co64') {
      for (const o of box.offsets) w.u64(o);
    } else {
      for (const o of box.offsets) {
        assert(o >= 0 && o <= 0xffff_ffff && Number.isInteger(o), `stco offset ${o} does not fit 32 bits`);
        w.u32(o);
      }
    }
    if (box.trailing) w.bytesFrom(box.trailing);
  },
};
