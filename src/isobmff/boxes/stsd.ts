// stsd: sample description box, in stbl.
import type { BoxCodec } from '../codec.js';
import type { Cursor } from '../cursor.js';
import type { BoxHeader, FullBox } from '../header.js';
import { boxSize, readBoxHeader, readFullBox, writeBoxHeader, writeFullBox } from '../header.js';
import type { Writer } from '../writer.js';

/** Smallest sample entry: a bare box header. */
const MIN_ENTRY_SIZE = 8;

/**
 * The sample description box. Entries are kept as opaque bytes (each sample entry's full
 * box, header included) so they are written back exactly; `describeSampleEntry` reads them.
 */
export interface StsdBox extends FullBox {
  /** Each sample entry's full bytes, header included (copies, not views of the source). */
  entries: Uint8Array[];
  /** Bytes after the last entry, kept for an exact round trip. */
  trailing?: Uint8Array;
}

function parse(c: Cursor, _h: BoxHeader): StsdBox {
  const full = readFullBox(c);
  const count = c.u32();
  // Every entry is at least a box header: a hostile count fails here, before allocating.
  c.checkCount(count, MIN_ENTRY_SIZE, 'stsd entries');
  const entries: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    const at = c.position;
    // Checks the entry's size against the header and against the end of the stsd payload.
    const h = readBoxHeader(c, c.endOffset);
    c.skip(h.size - (c.position - at));
    entries.push(c.bytes.slice(at, at + h.size));
  }
  const box: StsdBox = { version: full.version, flags: full.flags, entries };
  if (c.remaining > 0) box.trailing = c.rest();
  return box;
}

function payloadSize(box: StsdBox): number {
  let n = 8; // version+flags, entry_count
  for (const e of box.entries) n += e.length;
  return n + (box.trailing?.length ?? 0);
}

function size(box: StsdBox): number {
  return boxSize(payloadSize(box));
}

function write(w: Writer, box: StsdBox): void {
  writeBoxHeader(w, 'stsd', size(box));
  writeFullBox(w, box);
  w.u32(box.entries.length);
  for (const e of box.entries) w.bytesFrom(e);
  if (box.trailing) w.bytesFrom(box.trailing);
}

/** Codec for `stsd`: entries as raw bytes, round trip exact. */
export const stsdCodec: BoxCodec<StsdBox> = { parse, size, write };
