import { VvfError } from '../errors.js';

const MAX_EXACT = Number.MAX_SAFE_INTEGER;

/**
 * A bounds-checked reader over bytes that sit at a known absolute offset in a source,
 * so every error can say where it happened. Reads never go past `end`.
 */
export class Cursor {
  private readonly view: DataView;
  /** Index into `bytes` of the next read. */
  private index: number;
  /** Index into `bytes` one past the last readable byte. */
  private readonly limit: number;

  /**
   * @param bytes buffer holding the data
   * @param base absolute source offset of `bytes[0]`
   * @param path box path used in error messages
   * @param start first readable index in `bytes` (default 0)
   * @param end one past the last readable index (default `bytes.length`)
   */
  constructor(
    readonly bytes: Uint8Array,
    readonly base: number,
    readonly path: string,
    start = 0,
    end = bytes.length,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.index = start;
    this.limit = end;
  }

  /** Absolute source offset of the next read. */
  get offset(): number {
    return this.base + this.index;
  }

  /** Absolute source offset one past the last readable byte. */
  get endOffset(): number {
    return this.base + this.limit;
  }

  /** Bytes left before the end. */
  get remaining(): number {
    return this.limit - this.index;
  }

  /** Index into `bytes` of the next read (for slicing raw bytes). */
  get position(): number {
    return this.index;
  }

  private need(n: number, what: string): number {
    if (n < 0 || this.index + n > this.limit) {
      throw new VvfError('BOX_OVERRUN', `${what} needs ${n} bytes, ${this.remaining} left`, {
        path: this.path,
        offset: this.offset,
      });
    }
    const at = this.index;
    this.index += n;
    return at;
  }

  u8(): number {
    return this.view.getUint8(this.need(1, 'u8'));
  }
  i8(): number {
    return this.view.getInt8(this.need(1, 'i8'));
  }
  u16(): number {
    return this.view.getUint16(this.need(2, 'u16'));
  }
  i16(): number {
    return this.view.getInt16(this.need(2, 'i16'));
  }
  u24(): number {
    const at = this.need(3, 'u24');
    return (this.view.getUint8(at) << 16) | this.view.getUint16(at + 1);
  }
  u32(): number {
    return this.view.getUint32(this.need(4, 'u32'));
  }
  i32(): number {
    return this.view.getInt32(this.need(4, 'i32'));
  }
  /** Unsigned 64-bit; throws NUMBER_TOO_LARGE past 2^53. */
  u64(): number {
    const start = this.offset;
    const at = this.need(8, 'u64');
    const hi = this.view.getUint32(at);
    const lo = this.view.getUint32(at + 4);
    const v = hi * 0x1_0000_0000 + lo;
    if (v > MAX_EXACT) {
      throw new VvfError('NUMBER_TOO_LARGE', `64-bit value ${hi}:${lo} exceeds 2^53`, { path: this.path, offset: start });
    }
    return v;
  }
  /** Signed 64-bit; throws NUMBER_TOO_LARGE outside ±2^53. */
  i64(): number {
    const start = this.offset;
    const at = this.need(8, 'i64');
    const v = this.view.getBigInt64(at);
    if (v > BigInt(MAX_EXACT) || v < -BigInt(MAX_EXACT)) {
      throw new VvfError('NUMBER_TOO_LARGE', `64-bit value ${v} exceeds 2^53`, { path: this.path, offset: start });
    }
    return Number(v);
  }
  /** Four-character code. */
  fourcc(): string {
    const at = this.need(4, 'fourcc');
    return String.fromCharCode(this.bytes[at] ?? 0, this.bytes[at + 1] ?? 0, this.bytes[at + 2] ?? 0, this.bytes[at + 3] ?? 0);
  }
  /** A view (not a copy) of the next `n` bytes. */
  bytesView(n: number): Uint8Array {
    const at = this.need(n, 'bytes');
    return this.bytes.subarray(at, at + n);
  }
  /** A copy of the next `n` bytes. */
  bytesCopy(n: number): Uint8Array {
    return this.bytesView(n).slice();
  }
  /** A copy of the rest. */
  rest(): Uint8Array {
    return this.bytesCopy(this.remaining);
  }
  skip(n: number): void {
    this.need(n, 'skip');
  }
  /** A NUL-terminated UTF-8 string (or the rest of the box when there is no NUL). */
  cstring(): string {
    const from = this.index;
    let to = from;
    while (to < this.limit && this.bytes[to] !== 0) to++;
    const s = new TextDecoder().decode(this.bytes.subarray(from, to));
    this.index = to < this.limit ? to + 1 : to;
    return s;
  }
  /**
   * Check that `count` entries of `entrySize` bytes fit in what is left, before
   * allocating anything for them. Hostile counts fail here.
   */
  checkCount(count: number, entrySize: number, what: string): void {
    if (count * entrySize > this.remaining) {
      throw new VvfError('BOX_OVERRUN', `${what}: ${count} entries of ${entrySize} bytes claimed, ${this.remaining} bytes left`, {
        path: this.path,
        offset: this.offset,
      });
    }
  }
  /** A cursor over the next `n` bytes, with another path; this cursor moves past them. */
  sub(n: number, path: string): Cursor {
    const at = this.need(n, 'child');
    return new Cursor(this.bytes, this.base, path, at, at + n);
  }
  /** An error located at the current position. */
  error(code: 'BOX_INVALID' | 'MEDIA_INCONSISTENT' | 'UNSUPPORTED' | 'BOX_OVERRUN', detail: string): VvfError {
    return new VvfError(code, detail, { path: this.path, offset: this.offset });
  }
}
