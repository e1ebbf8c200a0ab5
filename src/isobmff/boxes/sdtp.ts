// sdtp: independent and disposable samples, in stbl or traf.
import type { BoxCodec } from '../codec.js';
import type { FullBox } from '../header.js';
import { boxSize, readFullBox, writeBoxHeader, writeFullBox } from '../header.js';

/**
 * Sample dependency flags, one byte per sample (is_leading, sample_depends_on,
 * sample_is_depended_on, sample_has_redundancy: 2 bits each). The entry count is not
 * stored: it is the sample count of the enclosing stbl or traf, implied by the box size.
 */
export interface SdtpBox extends FullBox {
  entries: Uint8Array;
}

export const sdtpCodec: BoxCodec<SdtpBox> = {
  parse(c) {
    const full = readFullBox(c);
    return { ...full, entries: c.rest() };
  },
  size(box) {
    return boxSize(4 + box.entries.length);
  },
  write(w, box) {
    writeBoxHeader(w, 'sdtp', boxSize(4 + box.entries.length));
    writeFullBox(w, box);
    w.bytesFrom(box.entries);
  },
};
