// ftyp / styp: file type and segment type, at file level.
import type { BoxCodec } from '../codec.js';
import { boxSize, writeBoxHeader } from '../header.js';

/** File type (ftyp) or segment type (styp, same layout): the brands a file conforms to. */
export interface FtypBox {
  type: 'ftyp' | 'styp';
  majorBrand: string;
  minorVersion: number;
  compatibleBrands: string[];
  /** 1–3 bytes after the last whole brand, kept so writing is exact. */
  trailing?: Uint8Array;
}

function payloadSize(box: FtypBox): number {
  return 8 + 4 * box.compatibleBrands.length + (box.trailing?.length ?? 0);
}

export const ftypCodec: BoxCodec<FtypBox> = {
  parse(c, h) {
    if (h.type !== 'ftyp' && h.type !== 'styp') throw c.error('BOX_INVALID', `ftypCodec cannot read ${h.type}`);
    const box: FtypBox = { type: h.type, majorBrand: c.fourcc(), minorVersion: c.u32(), compatibleBrands: [] };
    while (c.remaining >= 4) box.compatibleBrands.push(c.fourcc());
    if (c.remaining > 0) box.trailing = c.rest();
    return box;
  },
  size(box) {
    return boxSize(payloadSize(box));
  },
  write(w, box) {
    writeBoxHeader(w, box.type, boxSize(payloadSize(box)));
    w.fourcc(box.majorBrand);
    w.u32(box.minorVersion);
    for (const brand of box.compatibleBrands) w.fourcc(brand);
    if (box.trailing) w.bytesFrom(box.trailing);
  },
};
