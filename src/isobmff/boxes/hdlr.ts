// hdlr: handler reference, in mdia or meta.
import { assert } from '../../errors.js';
import type { BoxCodec } from '../codec.js';
import type { FullBox } from '../header.js';
import { boxSize, readFullBox, writeBoxHeader, writeFullBox } from '../header.js';

/** Handler reference: what kind of media a track holds ('vide', 'soun', …) or a meta's format. */
export interface HdlrBox extends FullBox {
  /** QuickTime's component type ('mhlr', 'dhlr'); 0 in ISO files. */
  preDefined: number;
  handlerType: string;
  /** 3×u32 reserved: 12 raw bytes (QuickTime's manufacturer and component flags). */
  reserved: Uint8Array;
  /** Best-effort decode of `nameBytes` (C string, Pascal string or neither). */
  name: string;
  /** The rest of the box, written back verbatim. */
  nameBytes: Uint8Array;
}

/**
 * Decodes a handler name: a NUL-terminated UTF-8 string (ISO), a Pascal string with a
 * leading length byte (QuickTime), or bytes with no terminator at all.
 */
export function decodeHandlerName(b: Uint8Array): string {
  let s = b;
  const n = b[0];
  // Pascal string: the length byte counts the rest, perhaps followed by a stray NUL.
  if (n !== undefined && n > 0 && (n === b.length - 1 || (n === b.length - 2 && b[b.length - 1] === 0))) {
    s = b.subarray(1, 1 + n);
  }
  const nul = s.indexOf(0);
  return new TextDecoder().decode(nul >= 0 ? s.subarray(0, nul) : s);
}

/** The ISO form of a handler name: NUL-terminated UTF-8. */
export function encodeHandlerName(name: string): Uint8Array {
  const utf8 = new TextEncoder().encode(name);
  const out = new Uint8Array(utf8.length + 1);
  out.set(utf8);
  return out;
}

function payloadSize(box: HdlrBox): number {
  return 4 + 4 + 4 + 12 + box.nameBytes.length;
}

export const hdlrCodec: BoxCodec<HdlrBox> = {
  parse(c) {
    const full = readFullBox(c);
    const preDefined = c.u32();
    const handlerType = c.fourcc();
    const reserved = c.bytesCopy(12);
    const nameBytes = c.rest();
    return { ...full, preDefined, handlerType, reserved, name: decodeHandlerName(nameBytes), nameBytes };
  },
  size(box) {
    return boxSize(payloadSize(box));
  },
  write(w, box) {
    assert(box.reserved.length === 12, 'hdlr reserved must be 12 bytes');
    writeBoxHeader(w, 'hdlr', boxSize(payloadSize(box)));
    writeFullBox(w, box);
    w.u32(box.preDefined);
    w.fourcc(box.handlerType);
    w.bytesFrom(box.reserved);
    w.bytesFrom(box.nameBytes);
  },
};
