// tfra: track fragment random access, in mfra.
import { assert } from '../../errors.js';
import type { BoxCodec } from '../codec.js';
import type { Cursor } from '../cursor.js';
import type { FullBox } from '../header.js';
import { boxSize, readFullBox, writeBoxHeader, writeFullBox } from '../header.js';
import type { Writer } from '../writer.js';

/**
 * Track fragment random access: for one track, the sync samples and the moof that holds
 * each. Version 0 holds times and moof offsets in 32 bits, version 1 in 64 bits.
 *
 * The three `lengthSizeOf*` fields are the raw 2-bit values from the box: each number is
 * stored in (value + 1) bytes, i.e. 1 to 4 bytes.
 */
export interface TfraBox extends FullBox {
  trackId: number;
  lengthSizeOfTrafNum: number;
  lengthSizeOfTrunNum: number;
  lengthSizeOfSampleNum: number;
  /** The 26 reserved bits before the length sizes, kept for exact writing. */
  reserved: number;
  /** Presentation time of each sync sample, in the track timescale. */
  times: Float64Array;
  /** Absolute file offset of the moof holding each sample. */
  moofOffsets: Float64Array;
  /** 1-based traf number within the moof. */
  trafNumbers: Uint32Array;
  /** 1-based trun number within the traf. */
  trunNumbers: Uint32Array;
  /** 1-based sample number within the trun. */
  sampleNumbers: Uint32Array;
  /** Bytes after the entries, kept so writing is exact. */
  trailing?: Uint8Array;
}

function readUintN(c: Cursor, bytes: number): number {
  switch (bytes) {
    case 1:
      return c.u8();
    case 2:
      return c.u16();
    case 3:
      return c.u24();
    default:
      return c.u32();
  }
}

function writeUintN(w: Writer, bytes: number, v: number): void {
  assert(v < 2 ** (8 * bytes), `tfra number ${v} does not fit ${bytes} bytes`);
  switch (bytes) {
    case 1:
      w.u8(v);
      break;
    case 2:
      w.u16(v);
      break;
    case 3:
      w.u24(v);
      break;
    default:
      w.u32(v);
  }
}

function entrySize(
  box: Pick<TfraBox, 'version' | 'lengthSizeOfTrafNum' | 'lengthSizeOfTrunNum' | 'lengthSizeOfSampleNum'>,
): number {
  return (box.version === 1 ? 16 : 8) + box.lengthSizeOfTrafNum + box.lengthSizeOfTrunNum + box.lengthSizeOfSampleNum + 3;
}

function payloadSize(box: TfraBox): number {
  return 4 + 12 + box.times.length * entrySize(box) + (box.trailing?.length ?? 0);
}

export const tfraCodec: BoxCodec<TfraBox> = {
  parse(c) {
    const full = readFullBox(c);
    // The layout of other versions is unknown: refuse rather than guess.
    if (full.version > 1) throw c.error('UNSUPPORTED', `tfra version ${full.version}`);
    const trackId = c.u32();
    const sizes = c.u32();
    const count = c.u32();
    const head = {
      ...full,
      trackId,
      reserved: sizes >>> 6,
      lengthSizeOfTrafNum: (sizes >>> 4) & 3,
      lengthSizeOfTrunNum: (sizes >>> 2) & 3,
      lengthSizeOfSampleNum: sizes & 3,
    };
    // Hostile counts fail here, before any allocation.
    c.checkCount(count, entrySize(head), 'tfra entries');
    const box: TfraBox = {
      ...head,
      times: new Float64Array(count),
      moofOffsets: new Float64Array(count),
      trafNumbers: new Uint32Array(count),
      trunNumbers: new Uint32Array(count),
      sampleNumbers: new Uint32Array(count),
    };
    const v1 = full.version === 1;
    for (let i = 0; i < count; i++) {
      box.times[i] = v1 ? c.u64() : c.u32();
      box.moofOffsets[i] = v1 ? c.u64() : c.u32();
      box.trafNumbers[i] = readUintN(c, head.lengthSizeOfTrafNum + 1);
      box.trunNumbers[i] = readUintN(c, head.lengthSizeOfTrunNum + 1);
      box.sampleNumbers[i] = readUintN(c, head.lengthSizeOfSampleNum + 1);
    }
    if (c.remaining > 0) box.trailing = c.rest();
    return box;
  },
  size(box) {
    return boxSize(payloadSize(box));
  },
  write(w, box) {
    const n = box.times.length;
    assert(box.version <= 1, `tfra version ${box.version}`);
    assert(
      box.moofOffsets.length === n &&
        box.trafNumbers.length === n &&
        box.trunNumbers.length === n &&
        box.sampleNumbers.length === n,
      'tfra columns must have the same length',
    );
    assert(
      box.lengthSizeOfTrafNum <= 3 && box.lengthSizeOfTrunNum <= 3 && box.lengthSizeOfSampleNum <= 3 && box.reserved < 2 ** 26,
      'tfra length sizes are 2-bit fields',
    );
    writeBoxHeader(w, 'tfra', boxSize(payloadSize(box)));
    writeFullBox(w, box);
    w.u32(box.trackId);
    w.u32(box.reserved * 64 + box.lengthSizeOfTrafNum * 16 + box.lengthSizeOfTrunNum * 4 + box.lengthSizeOfSampleNum);
    w.u32(n);
    const v1 = box.version === 1;
    for (let i = 0; i < n; i++) {
      const t = box.times[i]!;
      const o = box.moofOffsets[i]!;
      if (v1) {
        w.u64(t);
        w.u64(o);
      } else {
        assert(t <= 0xffff_ffff && o <= 0xffff_ffff, 'tfra v0 time and offset must fit 32 bits');
        w.u32(t);
        w.u32(o);
      }
      writeUintN(w, box.lengthSizeOfTrafNum + 1, box.trafNumbers[i]!);
      writeUintN(w, box.lengthSizeOfTrunNum + 1, box.trunNumbers[i]!);
      writeUintN(w, box.lengthSizeOfSampleNum + 1, box.sampleNumbers[i]!);
    }
    if (box.trailing) w.bytesFrom(box.trailing);
  },
};
