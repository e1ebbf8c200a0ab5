// mfhd: movie fragment header, in moof.
import type { BoxCodec } from '../codec.js';
import type { FullBox } from '../header.js';
import { boxSize, readFullBox, writeBoxHeader, writeFullBox } from '../header.js';

/** Movie fragment header: the fragment's sequence number. */
export interface MfhdBox extends FullBox {
  sequenceNumber: number;
  /** Bytes after the known fields, kept so writing is exact. */
  trailing?: Uint8Array;
}

function payloadSize(box: MfhdBox): number {
  return 8 + (box.trailing?.length ?? 0);
}

export const mfhdCodec: BoxCodec<MfhdBox> = {
  parse(c) {
    const box: MfhdBox = { ...readFullBox(c), sequenceNumber: c.u32() };
    if (c.remaining > 0) box.trailing = c.rest();
    return box;
  },
  size(box) {
    return boxSize(payloadSize(box));
  },
  write(w, box) {
    writeBoxHeader(w, 'mfhd', boxSize(payloadSize(box)));
    writeFullBox(w, box);
    w.u32(box.sequenceNumber);
    if (box.trailing) w.bytesFrom(box.trailing);
  },
};
