// Bit-level reading for decoder configurations: MSB-first fields, Exp-Golomb codes, and NAL unit payloads.
import { VvfError } from '../../errors.js';
import { Cursor } from '../cursor.js';
import { readBoxHeader } from '../header.js';
import type { SampleEntryChild } from '../sample-entry.js';

/** Reads bits MSB first from bytes; reading past them is BOX_OVERRUN located at `offset`. */
export class Bits {
  private bit = 0;

  constructor(
    private readonly bytes: Uint8Array,
    private readonly path: string,
    private readonly offset: number,
  ) {}

  /** Bits not yet read. */
  get left(): number {
    return this.bytes.length * 8 - this.bit;
  }

  /** An unsigned value of `n` ≤ 32 bits. */
  u(n: number): number {
    if (n > this.left) {
      throw new VvfError('BOX_OVERRUN', `bit field of ${n} bits runs past the end`, {
        path: this.path,
        offset: this.offset + (this.bit >>> 3),
      });
    }
    let v = 0;
    for (let i = 0; i < n; i++, this.bit++) v = v * 2 + (((this.bytes[this.bit >>> 3] ?? 0) >>> (7 - (this.bit & 7))) & 1);
    return v;
  }

  flag(): boolean {
    return this.u(1) === 1;
  }

  skip(n: number): void {
    // Large skips go through u() in pieces so the bounds check still applies.
    while (n > 0) {
      const k = Math.min(n, 32);
      this.u(k);
      n -= k;
    }
  }

  /** ue(v): unsigned Exp-Golomb. More than 31 leading zeros is not a valid code in H.264/HEVC headers. */
  ue(): number {
    let zeros = 0;
    while (!this.flag()) {
      if (++zeros > 31)
        throw new VvfError('BOX_INVALID', 'Exp-Golomb code longer than 32 bits', { path: this.path, offset: this.offset });
    }
    return zeros === 0 ? 0 : 2 ** zeros - 1 + this.u(zeros);
  }

  /** se(v): signed Exp-Golomb. */
  se(): number {
    const k = this.ue();
    return k % 2 === 1 ? (k + 1) / 2 : -(k / 2);
  }
}

/**
 * The RBSP of a NAL unit: its bytes after `headerBytes` with emulation prevention bytes
 * (the 03 of 00 00 03) removed, so that bit fields can be read in order.
 */
export function rbsp(nal: Uint8Array, headerBytes: number): Uint8Array {
  const out = new Uint8Array(Math.max(0, nal.length - headerBytes));
  let n = 0;
  let zeros = 0;
  for (let i = headerBytes; i < nal.length; i++) {
    const b = nal[i] ?? 0;
    if (zeros >= 2 && b === 3) {
      zeros = 0;
      continue;
    }
    zeros = b === 0 ? zeros + 1 : 0;
    out[n++] = b;
  }
  return out.subarray(0, n);
}

/**
 * A fresh cursor over a sample entry child's payload. The cursors readSampleEntry returns
 * have been read already (for the codec string), so each reader starts again from the box.
 */
export function childPayload(child: SampleEntryChild): Cursor {
  const from = child.start - child.body.base;
  const c = new Cursor(child.body.bytes, child.body.base, child.body.path, from, from + child.size);
  readBoxHeader(c, c.endOffset);
  return c;
}

/** `n` bytes as spaced hex, for listings. */
export function hexBytes(b: Uint8Array, max = 64): string {
  const shown = Array.from(b.subarray(0, max), (x) => x.toString(16).padStart(2, '0')).join(' ');
  return b.length > max ? `${shown} …` : shown;
}
