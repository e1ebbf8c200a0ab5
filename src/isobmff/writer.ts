import { assert } from '../errors.js';

/**
 * Writes big-endian fields into a buffer whose size was computed beforehand.
 * `finish()` checks that exactly the computed number of bytes was written.
 */
export class Writer {
  readonly bytes: Uint8Array;
  private readonly view: DataView;
  private index = 0;

  constructor(size: number) {
    this.bytes = new Uint8Array(size);
    this.view = new DataView(this.bytes.buffer);
  }

  get position(): number {
    return this.index;
  }

  private take(n: number): number {
    assert(this.index + n <= this.bytes.length, `writer overflow: ${this.index}+${n} > ${this.bytes.length}`);
    const at = this.index;
    this.index += n;
    return at;
  }

  u8(v: number): void {
    this.view.setUint8(this.take(1), v);
  }
  i8(v: number): void {
    this.view.setInt8(this.take(1), v);
  }
  u16(v: number): void {
    this.view.setUint16(this.take(2), v);
  }
  i16(v: number): void {
    this.view.setInt16(this.take(2), v);
  }
  u24(v: number): void {
    const at = this.take(3);
    this.view.setUint8(at, (v >>> 16) & 0xff);
    this.view.setUint16(at + 1, v & 0xffff);
  }
  u32(v: number): void {
    this.view.setUint32(this.take(4), v >>> 0);
  }
  i32(v: number): void {
    this.view.setInt32(this.take(4), v | 0);
  }
  u64(v: number): void {
    assert(Number.isSafeInteger(v) && v >= 0, `u64 out of range: ${v}`);
    const at = this.take(8);
    this.view.setUint32(at, Math.floor(v / 0x1_0000_0000));
    this.view.setUint32(at + 4, v % 0x1_0000_0000);
  }
  i64(v: number): void {
    assert(Number.isSafeInteger(v), `i64 out of range: ${v}`);
    this.view.setBigInt64(this.take(8), BigInt(v));
  }
  fourcc(s: string): void {
    assert(s.length === 4, `fourcc must have 4 characters: ${s}`);
    const at = this.take(4);
    for (let i = 0; i < 4; i++) this.bytes[at + i] = s.charCodeAt(i) & 0xff;
  }
  bytesFrom(b: Uint8Array): void {
    this.bytes.set(b, this.take(b.length));
  }
  zeros(n: number): void {
    this.take(n);
  }
  /** NUL-terminated UTF-8. */
  cstring(s: string): void {
    this.bytesFrom(new TextEncoder().encode(s));
    this.u8(0);
  }

  /** The written bytes; asserts the size computed beforehand was exact. */
  finish(): Uint8Array {
    assert(this.index === this.bytes.length, `writer wrote ${this.index} of ${this.bytes.length} bytes`);
    return this.bytes;
  }
}
