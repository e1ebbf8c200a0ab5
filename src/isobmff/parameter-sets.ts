import { Cursor } from './cursor.js';
import { readBoxHeader } from './header.js';

/** Parameter sets carried out of band in a sample entry (avcC / hvcC). */
export interface ParameterSets {
  /** Bytes of each NAL unit's length field in samples (1, 2 or 4). */
  lengthSize: number;
  /** VPS/SPS/PPS NAL units, in the order the configuration lists them. */
  nalus: Uint8Array[];
}

// Visual sample entries: 8-byte box header, then 78 bytes of fields before the child boxes.
const VISUAL_FIELDS = 78;

/**
 * The parameter sets of an avc1/avc2 or hvc1 sample entry, whose samples carry none in
 * band; undefined for any other entry (avc3/hev1 carry theirs in band already).
 */
export function parameterSetsOf(entry: Uint8Array): ParameterSets | undefined {
  const c = new Cursor(entry, 0, 'stsd/entry');
  const h = readBoxHeader(c, entry.length);
  if (h.type !== 'avc1' && h.type !== 'avc2' && h.type !== 'hvc1') return undefined;
  if (c.remaining < VISUAL_FIELDS) return undefined;
  c.skip(VISUAL_FIELDS);
  while (c.remaining >= 8) {
    const child = readBoxHeader(c, c.endOffset);
    const body = c.sub(child.size - child.headerSize, child.type);
    if (child.type === 'avcC') return avcSets(body);
    if (child.type === 'hvcC') return hevcSets(body);
  }
  return undefined;
}

function avcSets(c: Cursor): ParameterSets {
  c.skip(4); // version, profile, compatibility, level
  const lengthSize = (c.u8() & 3) + 1;
  const nalus: Uint8Array[] = [];
  const sps = c.u8() & 0x1f;
  for (let i = 0; i < sps; i++) nalus.push(c.bytesCopy(c.u16()));
  const pps = c.u8();
  for (let i = 0; i < pps; i++) nalus.push(c.bytesCopy(c.u16()));
  return { lengthSize, nalus };
}

function hevcSets(c: Cursor): ParameterSets {
  c.skip(21);
  const lengthSize = (c.u8() & 3) + 1;
  const arrays = c.u8();
  const nalus: Uint8Array[] = [];
  for (let a = 0; a < arrays; a++) {
    c.skip(1); // array_completeness, NAL unit type
    const n = c.u16();
    for (let i = 0; i < n; i++) nalus.push(c.bytesCopy(c.u16()));
  }
  return { lengthSize, nalus };
}

/** Parameter sets as they would appear in a sample: each NAL unit after its length. */
export function inBandParameterSets(sets: ParameterSets): Uint8Array {
  const total = sets.nalus.reduce((a, n) => a + sets.lengthSize + n.length, 0);
  const out = new Uint8Array(total);
  let at = 0;
  for (const n of sets.nalus) {
    for (let b = sets.lengthSize - 1; b >= 0; b--) out[at++] = (n.length >>> (8 * b)) & 0xff;
    out.set(n, at);
    at += n.length;
  }
  return out;
}
