// mdhd: media header, in mdia.
import type { BoxCodec } from '../codec.js';
import type { FullBox } from '../header.js';
import { boxSize, readFullBox, writeBoxHeader, writeFullBox } from '../header.js';
import { checkTimeVersion, readDuration, readTime, timeBytes, writeDuration, writeTime } from './time-fields.js';

/**
 * Media header: the track's own timescale and duration, and its language. Version 0
 * holds the times in 32 bits, version 1 in 64 bits.
 */
export interface MdhdBox extends FullBox {
  creationTime: number;
  modificationTime: number;
  /** Ticks per second of the track's media time (sample tables, edit media times). */
  timescale: number;
  /** In `timescale` units; -1 (`UNKNOWN_DURATION`) when the field is all 1s. */
  duration: number;
  /** ISO-639-2/T code decoded from the packed 15 bits; 'und' when they are not 3 letters. */
  language: string;
  /** The raw 16-bit field (pad bit + packed language), written back verbatim. */
  languageCode: number;
  preDefined: number;
  /** Bytes after the known fields, kept so writing is exact. */
  trailing?: Uint8Array;
}

/**
 * Decodes a packed ISO-639-2/T language (three 5-bit letters, each + 0x60). Values that
 * do not hold three lowercase letters (such as QuickTime's Macintosh language codes
 * below 0x400) give 'und'.
 */
export function decodeLanguage(code: number): string {
  let s = '';
  for (const shift of [10, 5, 0]) {
    const v = (code >> shift) & 0x1f;
    if (v < 1 || v > 26) return 'und';
    s += String.fromCharCode(v + 0x60);
  }
  return s;
}

/** Packs a 3-letter lowercase ISO-639-2/T code into the 16-bit mdhd field (pad bit 0). */
export function encodeLanguage(language: string): number {
  if (!/^[a-z]{3}$/.test(language)) return encodeLanguage('und');
  return ((language.charCodeAt(0) - 0x60) << 10) | ((language.charCodeAt(1) - 0x60) << 5) | (language.charCodeAt(2) - 0x60);
}

function payloadSize(box: MdhdBox): number {
  return 4 + 3 * timeBytes(box.version) + 4 + 2 + 2 + (box.trailing?.length ?? 0);
}

export const mdhdCodec: BoxCodec<MdhdBox> = {
  parse(c) {
    const full = readFullBox(c);
    checkTimeVersion(c, 'mdhd', full.version);
    const creationTime = readTime(c, full.version);
    const modificationTime = readTime(c, full.version);
    const timescale = c.u32();
    const duration = readDuration(c, full.version);
    const languageCode = c.u16();
    const box: MdhdBox = {
      ...full,
      creationTime,
      modificationTime,
      timescale,
      duration,
      language: decodeLanguage(languageCode),
      languageCode,
      preDefined: c.u16(),
    };
    if (c.remaining > 0) box.trailing = c.rest();
    return box;
  },
  size(box) {
    return boxSize(payloadSize(box));
  },
  write(w, box) {
    writeBoxHeader(w, 'mdhd', boxSize(payloadSize(box)));
    writeFullBox(w, box);
    writeTime(w, box.version, box.creationTime);
    writeTime(w, box.version, box.modificationTime);
    w.u32(box.timescale);
    writeDuration(w, box.version, box.duration);
    w.u16(box.languageCode);
    w.u16(box.preDefined);
    if (box.trailing) w.bytesFrom(box.trailing);
  },
};
