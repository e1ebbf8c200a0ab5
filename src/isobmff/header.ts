import { VvfError } from '../errors.js';
import { Cursor } from './cursor.js';
import type { Writer } from './writer.js';

/** A box header as found in a source. Offsets are absolute. */
export interface BoxHeader {
  type: string;
  /** Absolute offset of the box's first byte. */
  start: number;
  /** Bytes before the payload: 8, 16 with a 64-bit largesize, +16 for `uuid`. */
  headerSize: number;
  /** Total size including the header. For size 0 it runs to the end of the container. */
  size: number;
  /** The size field was 1 and a 64-bit largesize followed. */
  large: boolean;
  /** The size field was 0 (box runs to the end of its container / the file). */
  toEnd: boolean;
  /** The 16-byte extended type of a `uuid` box. */
  usertype?: Uint8Array;
}

/** Absolute offset one past the box. */
export function boxEnd(h: BoxHeader): number {
  return h.start + h.size;
}

const TYPE_CHARS = /^[\x20-\x7e\xa9]{4}$/;

/**
 * Reads a box header at the cursor. `containerEnd` is the absolute end of the
 * enclosing container (or source), used for size 0 and to reject boxes that overrun it.
 */
export function readBoxHeader(c: Cursor, containerEnd: number): BoxHeader {
  const start = c.offset;
  const size32 = c.u32();
  const type = c.fourcc();
  if (!TYPE_CHARS.test(type)) {
    throw new VvfError('BOX_INVALID', `box type ${JSON.stringify(type)} is not printable`, { path: c.path, offset: start });
  }
  let headerSize = 8;
  let size = size32;
  let large = false;
  let toEnd = false;
  if (size32 === 1) {
    size = c.u64();
    headerSize = 16;
    large = true;
  } else if (size32 === 0) {
    size = containerEnd - start;
    toEnd = true;
  }
  let usertype: Uint8Array | undefined;
  if (type === 'uuid') {
    usertype = c.bytesCopy(16);
    headerSize += 16;
  }
  if (size < headerSize) {
    throw new VvfError('BOX_INVALID', `${type} box size ${size} is smaller than its ${headerSize}-byte header`, {
      path: c.path,
      offset: start,
    });
  }
  if (start + size > containerEnd) {
    throw new VvfError(
      'BOX_OVERRUN',
      `${type} box of ${size} bytes runs ${start + size - containerEnd} bytes past its container`,
      {
        path: c.path,
        offset: start,
      },
    );
  }
  const h: BoxHeader = { type, start, headerSize, size, large, toEnd };
  if (usertype) h.usertype = usertype;
  return h;
}

/**
 * Type names already made, by their 32-bit code: one string per type, not one per box,
 * so maps keyed by type hash it once. Bounded: a hostile file may use many types.
 */
const typeNames = new Map<number, string>();
const MAX_TYPE_NAMES = 4096;

function typeName(t0 = 0, t1 = 0, t2 = 0, t3 = 0): string {
  const code = t0 * 0x1000000 + (t1 << 16) + (t2 << 8) + t3;
  let name = typeNames.get(code);
  if (name === undefined) {
    name = String.fromCharCode(t0, t1, t2, t3);
    if (typeNames.size < MAX_TYPE_NAMES) typeNames.set(code, name);
  }
  return name;
}

/** Whether a type byte is one TYPE_CHARS accepts. */
function printable(b: number | undefined): boolean {
  return b !== undefined && ((b >= 0x20 && b <= 0x7e) || b === 0xa9);
}

/**
 * A plain box header (32-bit size, printable type, not uuid, inside its container) at
 * `bytes[index]`, decoded straight from the bytes; undefined for anything else, which
 * the careful path then reads and reports. A file may hold a million boxes: a Cursor
 * (with its DataView) and a fresh type string per header were most of their cost.
 */
function plainHeader(bytes: Uint8Array, index: number, base: number, containerEnd: number): BoxHeader | undefined {
  if (index + 8 > bytes.length) return undefined;
  const start = base + index;
  const size =
    (bytes[index] ?? 0) * 0x1000000 + ((bytes[index + 1] ?? 0) << 16) + ((bytes[index + 2] ?? 0) << 8) + (bytes[index + 3] ?? 0);
  const t0 = bytes[index + 4];
  const t1 = bytes[index + 5];
  const t2 = bytes[index + 6];
  const t3 = bytes[index + 7];
  if (
    size < 8 ||
    start + size > containerEnd ||
    !printable(t0) ||
    !printable(t1) ||
    !printable(t2) ||
    !printable(t3) ||
    (t0 === 0x75 && t1 === 0x75 && t2 === 0x69 && t3 === 0x64)
  ) {
    return undefined;
  }
  return { type: typeName(t0, t1, t2, t3), start, headerSize: 8, size, large: false, toEnd: false };
}

/**
 * {@link readBoxHeader} at `bytes[index]` (absolute offset `base + index`), without a Cursor when the header is plain.
 * `path` (the container's, for messages) and `limit` (the index reads stop at) serve the careful path.
 */
export function readBoxHeaderAt(
  bytes: Uint8Array,
  index: number,
  base: number,
  containerEnd: number,
  path = '',
  limit = bytes.length,
): BoxHeader {
  return (
    plainHeader(bytes, index, base, containerEnd) ?? readBoxHeader(new Cursor(bytes, base, path, index, limit), containerEnd)
  );
}

/** Largest total size a box can have with a 32-bit size field. */
const MAX_SIZE32 = 0xffff_ffff;

/** Header bytes for a box of `payloadSize` bytes (8, or 16 when it needs largesize). */
export function headerSizeFor(payloadSize: number, type = ''): number {
  const extra = type === 'uuid' ? 16 : 0;
  return payloadSize + 8 + extra > MAX_SIZE32 ? 16 + extra : 8 + extra;
}

/** Total box size for a payload. */
export function boxSize(payloadSize: number, type = ''): number {
  return payloadSize + headerSizeFor(payloadSize, type);
}

/** Writes a header for a box of total size `size` (from `boxSize`). */
export function writeBoxHeader(w: Writer, type: string, size: number, usertype?: Uint8Array): void {
  if (size > MAX_SIZE32) {
    w.u32(1);
    w.fourcc(type);
    w.u64(size);
  } else {
    w.u32(size);
    w.fourcc(type);
  }
  if (type === 'uuid') {
    w.bytesFrom(usertype ?? new Uint8Array(16));
  }
}

/** Full-box fields: version and flags. */
export interface FullBox {
  version: number;
  flags: number;
}

export function readFullBox(c: Cursor): FullBox {
  const version = c.u8();
  const flags = c.u24();
  return { version, flags };
}

export function writeFullBox(w: Writer, b: FullBox): void {
  w.u8(b.version);
  w.u24(b.flags);
}

/** Bytes of a full box's header: box header + version + flags (no largesize). */
export const FULL_HEADER = 12;
