// stsz / stz2: sample sizes and compact sample sizes, in stbl.
import { assert } from '../../errors.js';
import type { BoxCodec } from '../codec.js';
import type { FullBox } from '../header.js';
import { boxSize, readFullBox, writeBoxHeader, writeFullBox } from '../header.js';

/**
 * Sample sizes. stsz holds either one constant size for all samples or a 32-bit size per
 * sample; stz2 holds a 4-, 8- or 16-bit size per sample.
 */
export interface StszBox extends FullBox {
  type: 'stsz' | 'stz2';
  /** stsz: the size of every sample, or 0 when sizes are listed per sample. Always 0 for stz2. */
  sampleSize: number;
  /** Bits per listed size: 4, 8 or 16 for stz2; 32 for stsz. */
  fieldSize: number;
  sampleCount: number;
  /**
   * Per-sample sizes; null when stsz gives a constant `sampleSize` (then `sampleCount` may
   * be huge without any table behind it, so nothing is allocated for it).
   */
  sizes: Uint32Array | null;
  /** stz2: the 24 reserved bits before field_size. */
  reserved?: number;
  /** stz2 with field size 4 and an odd count: the last byte's low nibble (0 when valid). */
  padding?: number;
  /** Bytes after the entries, kept so writing is exact. */
  trailing?: Uint8Array;
}

/** Bytes of the size table. */
function tableBytes(box: StszBox): number {
  if (box.type === 'stsz') return box.sampleSize === 0 ? 4 * box.sampleCount : 0;
  return Math.ceil((box.sampleCount * box.fieldSize) / 8);
}

function payloadSize(box: StszBox): number {
  return 4 + 8 + tableBytes(box) + (box.trailing?.length ?? 0);
}

export const stszCodec: BoxCodec<StszBox> = {
  parse(c, h) {
    const full = readFullBox(c);
    let box: StszBox;
    if (h.type === 'stsz') {
      const sampleSize = c.u32();
      const sampleCount = c.u32();
      box = { ...full, type: 'stsz', sampleSize, fieldSize: 32, sampleCount, sizes: null };
      if (sampleSize === 0) {
        c.checkCount(sampleCount, 4, 'stsz entries');
        const sizes = new Uint32Array(sampleCount);
        for (let i = 0; i < sampleCount; i++) sizes[i] = c.u32();
        box.sizes = sizes;
      }
    } else if (h.type === 'stz2') {
      const reserved = c.u24();
      const fieldSize = c.u8();
      if (fieldSize !== 4 && fieldSize !== 8 && fieldSize !== 16) {
        throw c.error('BOX_INVALID', `stz2 field size ${fieldSize} is not 4, 8 or 16`);
      }
      const sampleCount = c.u32();
      c.checkCount(Math.ceil((sampleCount * fieldSize) / 8), 1, 'stz2 entries');
      const sizes = new Uint32Array(sampleCount);
      box = { ...full, type: 'stz2', sampleSize: 0, fieldSize, sampleCount, sizes, reserved };
      if (fieldSize === 4) {
        for (let i = 0; i < sampleCount; i += 2) {
          const b = c.u8();
          sizes[i] = b >> 4;
          if (i + 1 < sampleCount) sizes[i + 1] = b & 0xf;
          else if ((b & 0xf) !== 0) box.padding = b & 0xf;
        }
      } else if (fieldSize === 8) {
        for (let i = 0; i < sampleCount; i++) sizes[i] = c.u8();
      } else {
        for (let i = 0; i < sampleCount; i++) sizes[i] = c.u16();
      }
    } else {
      throw c.error('BOX_INVALID', `stszCodec cannot read ${h.type}`);
    }
    if (c.remaining > 0) box.trailing = c.rest();
    return box;
  },
  size(box) {
    return boxSize(payloadSize(box));
  },
  write(w, box) {
    const sizes = box.sizes;
    writeBoxHeader(w, box.type, boxSize(payloadSize(box)));
    writeFullBox(w, box);
    if (box.type === 'stsz') {
      w.u32(box.sampleSize);
      w.u32(box.sampleCount);
      if (box.sampleSize === 0) {
        assert(sizes !== null && sizes.length === box.sampleCount, 'stsz sizes must list sampleCount sizes');
        for (const s of sizes) w.u32(s);
      } else {
        assert(sizes === null, 'stsz with a constant sample size must have no size table');
      }
    } else {
      const f = box.fieldSize;
      assert(f === 4 || f === 8 || f === 16, `stz2 field size ${f}`);
      assert(sizes !== null && sizes.length === box.sampleCount, 'stz2 sizes must list sampleCount sizes');
      const max = 2 ** f - 1;
      w.u24(box.reserved ?? 0);
      w.u8(f);
      w.u32(box.sampleCount);
      for (let i = 0; i < sizes.length; i += f === 4 ? 2 : 1) {
        const s = sizes[i] ?? 0;
        assert(s <= max, `stz2 size ${s} does not fit ${f} bits`);
        if (f === 4) {
          const next = i + 1 < sizes.length ? (sizes[i + 1] ?? 0) : (box.padding ?? 0);
          assert(next <= max, `stz2 size ${next} does not fit 4 bits`);
          w.u8((s << 4) | next);
        } else if (f === 8) {
          w.u8(s);
        } else {
          w.u16(s);
        }
      }
    }
    if (box.trailing) w.bytesFrom(box.trailing);
  },
};
