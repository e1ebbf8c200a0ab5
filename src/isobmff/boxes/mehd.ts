// mehd: movie extends header, in mvex.
import type { BoxCodec } from '../codec.js';
import type { FullBox } from '../header.js';
import { boxSize, readFullBox, writeBoxHeader, writeFullBox } from '../header.js';
import { checkTimeVersion, readDuration, timeBytes, writeDuration } from './time-fields.js';

/** Duration of the whole fragmented movie. Version 0 holds it in 32 bits, version 1 in 64. */
export interface MehdBox extends FullBox {
  /** In the mvhd timescale; -1 (`UNKNOWN_DURATION`) when the field is all 1s. */
  fragmentDuration: number;
  /** Bytes after the known fields, kept so writing is exact. */
  trailing?: Uint8Array;
}

function payloadSize(box: MehdBox): number {
  return 4 + timeBytes(box.version) + (box.trailing?.length ?? 0);
}

export const mehdCodec: BoxCodec<MehdBox> = {
  parse(c) {
    const full = readFullBox(c);
    checkTimeVersion(c, 'mehd', full.version);
    const box: MehdBox = { ...full, fragmentDuration: readDuration(c, full.version) };
    if (c.remaining > 0) box.trailing = c.rest();
    return box;
  },
  size(box) {
    return boxSize(payloadSize(box));
  },
  write(w, box) {
    writeBoxHeader(w, 'mehd', boxSize(payloadSize(box)));
    writeFullBox(w, box);
    writeDuration(w, box.version, box.fragmentDuration);
    if (box.trailing) w.bytesFrom(box.trailing);
  },
};
