// stsc: sample to chunk, in stbl.
import { assert } from '../../errors.js';
import type { BoxCodec } from '../codec.js';
import type { FullBox } from '../header.js';
import { boxSize, readFullBox, writeBoxHeader, writeFullBox } from '../header.js';

/**
 * Chunk layout, run-length coded: from chunk `firstChunks[i]` (1-based) until the next
 * entry's first chunk, each chunk holds `samplesPerChunk[i]` samples described by stsd
 * entry `descriptionIndexes[i]` (1-based).
 */
export interface StscBox extends FullBox {
  firstChunks: Uint32Array;
  samplesPerChunk: Uint32Array;
  descriptionIndexes: Uint32Array;
  /** Bytes after the entries, kept so writing is exact. */
  trailing?: Uint8Array;
}

function payloadSize(box: StscBox): number {
  return 8 + 12 * box.firstChunks.length + (box.trailing?.length ?? 0);
}

export const stscCodec: BoxCodec<StscBox> = {
  parse(c) {
    const full = readFullBox(c);
    const count = c.u32();
    c.checkCount(count, 12, 'stsc entries');
    const firstChunks = new Uint32Array(count);
    const samplesPerChunk = new Uint32Array(count);
    const descriptionIndexes = new Uint32Array(count);
    for (let i = 0; i < count; i++) {
      firstChunks[i] = c.u32();
      samplesPerChunk[i] = c.u32();
      descriptionIndexes[i] = c.u32();
    }
    const box: StscBox = { ...full, firstChunks, samplesPerChunk, descriptionIndexes };
    if (c.remaining > 0) box.trailing = c.rest();
    return box;
  },
  size(box) {
    return boxSize(payloadSize(box));
  },
  write(w, box) {
    const n = box.firstChunks.length;
    assert(box.samplesPerChunk.length === n && box.descriptionIndexes.length === n, 'stsc columns must have the same length');
    writeBoxHeader(w, 'stsc', boxSize(payloadSize(box)));
    writeFullBox(w, box);
    w.u32(n);
    for (let i = 0; i < n; i++) {
      w.u32(box.firstChunks[i] ?? 0);
      w.u32(box.samplesPerChunk[i] ?? 0);
      w.u32(box.descriptionIndexes[i] ?? 0);
    }
    if (box.trailing) w.bytesFrom(box.trailing);
  },
};
