// mfro: movie fragment random access offset, the last box in mfra.
import type { BoxCodec } from '../codec.js';
import type { FullBox } from '../header.js';
import { boxSize, readFullBox, writeBoxHeader, writeFullBox } from '../header.js';

/**
 * Movie fragment random access offset. `mfraSize` is the size of the enclosing mfra box,
 * so a reader can find mfra by reading the last 16 bytes of the file.
 */
export interface MfroBox extends FullBox {
  mfraSize: number;
  /** Bytes after the known fields, kept so writing is exact. */
  trailing?: Uint8Array;
}

function payloadSize(box: MfroBox): number {
  return 8 + (box.trailing?.length ?? 0);
}

export const mfroCodec: BoxCodec<MfroBox> = {
  parse(c) {
    const box: MfroBox = { ...readFullBox(c), mfraSize: c.u32() };
    if (c.remaining > 0) box.trailing = c.rest();
    return box;
  },
  size(box) {
    return boxSize(payloadSize(box));
  },
  write(w, box) {
    writeBoxHeader(w, 'mfro', boxSize(payloadSize(box)));
    writeFullBox(w, box);
    w.u32(box.mfraSize);
    if (box.trailing) w.bytesFrom(box.trailing);
  },
};
