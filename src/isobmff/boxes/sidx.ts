// sidx: segment index, at file level (top level or inside a segment).
import { assert } from '../../errors.js';
import type { BoxCodec } from '../codec.js';
import type { FullBox } from '../header.js';
import { boxSize, readFullBox, writeBoxHeader, writeFullBox } from '../header.js';

/** One reference of a sidx: a subsegment, or another sidx. */
export interface SidxReference {
  /** 0: media (a subsegment of moof+mdat); 1: points to another sidx box. */
  referenceType: 0 | 1;
  /** Bytes of the referenced material (31 bits). */
  referencedSize: number;
  /** Duration in the sidx timescale. */
  subsegmentDuration: number;
  startsWithSap: boolean;
  /** SAP type, 3 bits (0 = unknown). */
  sapType: number;
  /** 28 bits, in the sidx timescale. */
  sapDeltaTime: number;
}

/**
 * Segment index. Version 0 holds `earliestPresentationTime` and `firstOffset` in 32 bits,
 * version 1 in 64 bits.
 *
 * `firstOffset` counts from the first byte AFTER this sidx box (its end), not from the
 * start of the file or of the box: the first reference starts at `sidxEnd + firstOffset`,
 * and each next one where the previous ended.
 */
export interface SidxBox extends FullBox {
  referenceId: number;
  timescale: number;
  earliestPresentationTime: number;
  firstOffset: number;
  /** The 16 reserved bits before reference_count, kept for exact writing. */
  reserved: number;
  references: SidxReference[];
  /** Bytes after the references, kept so writing is exact. */
  trailing?: Uint8Array;
}

const REFERENCE_SIZE = 12;

function payloadSize(box: SidxBox): number {
  return 4 + 8 + (box.version === 1 ? 16 : 8) + 4 + box.references.length * REFERENCE_SIZE + (box.trailing?.length ?? 0);
}

export const sidxCodec: BoxCodec<SidxBox> = {
  parse(c) {
    const full = readFullBox(c);
    // The layout of other versions is unknown: refuse rather than guess.
    if (full.version > 1) throw c.error('UNSUPPORTED', `sidx version ${full.version}`);
    const referenceId = c.u32();
    const timescale = c.u32();
    const earliestPresentationTime = full.version === 1 ? c.u64() : c.u32();
    const firstOffset = full.version === 1 ? c.u64() : c.u32();
    const reserved = c.u16();
    const count = c.u16();
    c.checkCount(count, REFERENCE_SIZE, 'sidx references');
    const references: SidxReference[] = new Array(count);
    for (let i = 0; i < count; i++) {
      const a = c.u32();
      const subsegmentDuration = c.u32();
      const b = c.u32();
      references[i] = {
        referenceType: (a >>> 31) as 0 | 1,
        referencedSize: a & 0x7fff_ffff,
        subsegmentDuration,
        startsWithSap: b >>> 31 === 1,
        sapType: (b >>> 28) & 7,
        sapDeltaTime: b & 0x0fff_ffff,
      };
    }
    const box: SidxBox = { ...full, referenceId, timescale, earliestPresentationTime, firstOffset, reserved, references };
    if (c.remaining > 0) box.trailing = c.rest();
    return box;
  },
  size(box) {
    return boxSize(payloadSize(box));
  },
  write(w, box) {
    assert(box.version <= 1, `sidx version ${box.version}`);
    assert(box.references.length <= 0xffff, 'sidx holds at most 65535 references');
    writeBoxHeader(w, 'sidx', boxSize(payloadSize(box)));
    writeFullBox(w, box);
    w.u32(box.referenceId);
    w.u32(box.timescale);
    if (box.version === 1) {
      w.u64(box.earliestPresentationTime);
      w.u64(box.firstOffset);
    } else {
      assert(box.earliestPresentationTime <= 0xffff_ffff && box.firstOffset <= 0xffff_ffff, 'sidx v0 fields must fit 32 bits');
      w.u32(box.earliestPresentationTime);
      w.u32(box.firstOffset);
    }
    w.u16(box.reserved);
    w.u16(box.references.length);
    for (const r of box.references) {
      assert(r.referencedSize <= 0x7fff_ffff, 'sidx referenced size must fit 31 bits');
      assert(r.sapDeltaTime <= 0x0fff_ffff && r.sapType <= 7, 'sidx SAP fields out of range');
      w.u32(r.referenceType * 0x8000_0000 + r.referencedSize);
      w.u32(r.subsegmentDuration);
      w.u32((r.startsWithSap ? 0x8000_0000 : 0) + r.sapType * 0x1000_0000 + r.sapDeltaTime);
    }
    if (box.trailing) w.bytesFrom(box.trailing);
  },
};
