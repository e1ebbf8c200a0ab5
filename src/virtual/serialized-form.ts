// The serialized form of a compiled virtual file: one little-endian buffer, CRC-checked on load, whose SHA-256 is the etag's basis.
import { createHash } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { VvfError } from '../errors.js';
import { type CompiledVirtualFile, inconsistent } from './extent-table.js';
import type { SourceRef } from './source-ref.js';

/** The first bytes of the serialized form: `VVF` and the layout version. */
const MAGIC = [0x56, 0x56, 0x46] as const;
const VERSION = 2;
/** Magic + version (4) + CRC-32 (4) + SHA-256 of the rest (32). */
const PREAMBLE_BYTES = 40;
/** Bytes of the three extent columns per extent: end f64, offset f64, source index i32. */
const EXTENT_BYTES = 20;

const littleEndianHost = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** The SHA-256 of the serialized body (everything after the preamble): what the etag is made from. */
export function digestOf(c: CompiledVirtualFile): Uint8Array {
  const hash = createHash('sha256');
  for (const part of bodyParts(c)) hash.update(part);
  return new Uint8Array(hash.digest());
}

/** The compiled form as one buffer, with its body's `digest` (see {@link readSerialized} for the layout). */
export function writeSerialized(c: CompiledVirtualFile, digest: Uint8Array): Uint8Array {
  const parts = bodyParts(c);
  let total = PREAMBLE_BYTES;
  for (const part of parts) total += part.length;
  const out = new Uint8Array(total);
  out.set(MAGIC, 0);
  out[3] = VERSION;
  out.set(digest, 8);
  let at = PREAMBLE_BYTES;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  new DataView(out.buffer).setUint32(4, crc32(out.subarray(8)), true);
  return out;
}

/**
 * The compiled form and body digest a buffer made by {@link writeSerialized} holds. The
 * columns and held bytes are copied, so the caller may reuse the buffer. Only the CRC and
 * the columns' shape are checked here: the extents are checked as reads reach them.
 *
 * Layout, little endian throughout:
 * ```
 * 'V' 'V' 'F' 0x02            magic and version
 * u32                         CRC-32 of everything after it, checked on load (far cheaper than a SHA-256)
 * 32 bytes                    SHA-256 of everything after it: the etag's basis
 * u32 n, n bytes              format (UTF-8)
 * u32 n, n bytes              content type (UTF-8)
 * u32 sourceCount
 *   per source: u32 n, key; u32 n, validator; f64 size
 * u32 byteCount               in-memory (header) bytes
 * u32 extentCount
 * 0-7 zero bytes              so that the columns start 8-byte aligned in the buffer
 * f64 × extentCount           ends: virtual end offset of each extent
 * f64 × extentCount           offsets: in the source, or in the in-memory bytes
 * i32 × extentCount           source index, -1 for in-memory bytes
 * byteCount bytes             the in-memory bytes
 * ```
 * Another magic or version fails with UNKNOWN_FORMAT; a truncated, padded or
 * inconsistent buffer, or one whose checksum does not match, with MEDIA_INCONSISTENT.
 */
export function readSerialized(bytes: Uint8Array): { compiled: CompiledVirtualFile; digest: Uint8Array } {
  if (bytes.length < 4 || bytes[0] !== MAGIC[0] || bytes[1] !== MAGIC[1] || bytes[2] !== MAGIC[2]) {
    throw new VvfError('UNKNOWN_FORMAT', 'not a serialized virtual file (bad magic)');
  }
  if (bytes[3] !== VERSION) {
    throw new VvfError('UNKNOWN_FORMAT', `serialized virtual file version ${bytes[3]} is not supported (expected ${VERSION})`);
  }
  const r = new BufferReader(bytes, 4);
  const crc = r.u32('checksum');
  if (crc32(bytes.subarray(8)) !== crc) throw inconsistent('checksum does not match the content');
  const digest = r.bytes(32, 'digest').slice();
  const format = r.string('format');
  const contentType = r.string('content type');
  const sourceCount = r.u32('source count');
  // Each source takes at least 16 bytes; check before allocating for the count.
  r.checkCount(sourceCount, 16, 'sources');
  const sources: SourceRef[] = [];
  for (let i = 0; i < sourceCount; i++) {
    const key = r.string(`source ${i} key`);
    const validator = r.string(`source ${i} validator`);
    const size = r.f64(`source ${i} size`);
    sources.push({ key, validator, size });
  }
  const byteCount = r.u32('byte count');
  const extentCount = r.u32('extent count');
  while (r.position % 8 !== 0) {
    if (r.u8('padding') !== 0) throw inconsistent(`non-zero padding at ${r.position - 1}`);
  }
  const expected = extentCount * EXTENT_BYTES + byteCount;
  if (r.remaining !== expected) {
    throw inconsistent(
      `${r.remaining} bytes after the header, expected ${expected} (${extentCount} extents, ${byteCount} in-memory bytes)`,
    );
  }
  const ends = r.f64Column(extentCount);
  const offsets = r.f64Column(extentCount);
  const sourceIndex = r.i32Column(extentCount);
  const held = r.bytes(byteCount, 'in-memory bytes').slice();
  return { compiled: { format, contentType, sources, bytes: held, ends, sourceIndex, offsets }, digest };
}

/** Everything the checksum covers and the serialized form holds after it, in order. */
function bodyParts(c: CompiledVirtualFile): Uint8Array[] {
  const encoder = new TextEncoder();
  const strings: Uint8Array[] = [encoder.encode(c.format), encoder.encode(c.contentType)];
  for (const s of c.sources) strings.push(encoder.encode(s.key), encoder.encode(s.validator));
  // Lengths of format and content type, source count, byte count, extent count; per source two lengths and a size.
  let metaBytes = 5 * 4 + c.sources.length * 16;
  for (const s of strings) metaBytes += s.length;
  const padding = (8 - ((PREAMBLE_BYTES + metaBytes) % 8)) % 8;
  if (c.bytes.length > 0xffffffff || c.ends.length > 0xffffffff) {
    throw new VvfError('NUMBER_TOO_LARGE', 'virtual file too large to serialize (in-memory bytes or extents past 2^32)');
  }
  const meta = new Uint8Array(metaBytes + padding);
  const view = new DataView(meta.buffer);
  let at = 0;
  const putString = (s: Uint8Array): void => {
    view.setUint32(at, s.length, true);
    meta.set(s, at + 4);
    at += 4 + s.length;
  };
  putString(strings[0]!);
  putString(strings[1]!);
  view.setUint32(at, c.sources.length, true);
  at += 4;
  c.sources.forEach((s, i) => {
    putString(strings[2 + 2 * i]!);
    putString(strings[3 + 2 * i]!);
    view.setFloat64(at, s.size, true);
    at += 8;
  });
  view.setUint32(at, c.bytes.length, true);
  view.setUint32(at + 4, c.ends.length, true);
  return [meta, columnBytes(c.ends), columnBytes(c.offsets), columnBytes(c.sourceIndex), c.bytes];
}

/** A column's bytes in little-endian order: a view on little-endian hosts, a swapped copy elsewhere. */
function columnBytes(column: Float64Array | Int32Array): Uint8Array {
  if (littleEndianHost) return new Uint8Array(column.buffer, column.byteOffset, column.byteLength);
  const out = new Uint8Array(column.byteLength);
  const view = new DataView(out.buffer);
  if (column instanceof Float64Array) {
    for (let i = 0; i < column.length; i++) view.setFloat64(i * 8, column[i]!, true);
  } else {
    for (let i = 0; i < column.length; i++) view.setInt32(i * 4, column[i]!, true);
  }
  return out;
}

/** Bounds-checked little-endian reads over a serialized virtual file. */
class BufferReader {
  private readonly view: DataView;
  private readonly decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

  constructor(
    private readonly buf: Uint8Array,
    public position: number,
  ) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  get remaining(): number {
    return this.buf.length - this.position;
  }

  checkCount(count: number, entryBytes: number, what: string): void {
    if (count * entryBytes > this.remaining) {
      throw inconsistent(`${count} ${what} cannot fit in the ${this.remaining} bytes left (truncated?)`);
    }
  }

  private take(n: number, what: string): number {
    if (n > this.remaining) throw inconsistent(`${what} runs past the end at ${this.position} (truncated?)`);
    const at = this.position;
    this.position += n;
    return at;
  }

  u8(what: string): number {
    return this.view.getUint8(this.take(1, what));
  }

  u32(what: string): number {
    return this.view.getUint32(this.take(4, what), true);
  }

  f64(what: string): number {
    return this.view.getFloat64(this.take(8, what), true);
  }

  bytes(n: number, what: string): Uint8Array {
    const at = this.take(n, what);
    return this.buf.subarray(at, at + n);
  }

  string(what: string): string {
    const n = this.u32(`${what} length`);
    const raw = this.bytes(n, what);
    try {
      return this.decoder.decode(raw);
    } catch (e) {
      throw new VvfError('MEDIA_INCONSISTENT', `serialized virtual file: ${what} is not valid UTF-8`, {}, { cause: e });
    }
  }

  /** A copy (aligned, owned) of `n` little-endian f64 values. */
  f64Column(n: number): Float64Array {
    const raw = this.bytes(n * 8, 'extent column');
    const out = new Float64Array(n);
    if (littleEndianHost) new Uint8Array(out.buffer).set(raw);
    else {
      const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
      for (let i = 0; i < n; i++) out[i] = view.getFloat64(i * 8, true);
    }
    return out;
  }

  i32Column(n: number): Int32Array {
    const raw = this.bytes(n * 4, 'extent column');
    const out = new Int32Array(n);
    if (littleEndianHost) new Uint8Array(out.buffer).set(raw);
    else {
      const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
      for (let i = 0; i < n; i++) out[i] = view.getInt32(i * 4, true);
    }
    return out;
  }
}
