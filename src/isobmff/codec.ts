import type { Cursor } from './cursor.js';
import type { BoxHeader } from './header.js';
import { Writer } from './writer.js';

/**
 * How one box type is read and written. `parse` gets a cursor over the payload (after
 * the box header) and the header; `size` returns the total size including the header;
 * `write` writes the whole box, header included.
 */
export interface BoxCodec<T> {
  parse(c: Cursor, h: BoxHeader): T;
  size(box: T): number;
  write(w: Writer, box: T): void;
}

/** Encodes one box to bytes, sizing it first. */
export function encodeBox<T>(codec: BoxCodec<T>, box: T): Uint8Array {
  const w = new Writer(codec.size(box));
  codec.write(w, box);
  return w.finish();
}
