/**
 * A laid-out file: header bytes held in memory, then runs of source bytes in order.
 * Neighbouring runs that are contiguous in one source are merged as they are added.
 */
export interface FileLayout {
  /** Identifies the layout and its version (part of the etag). */
  format: string;
  contentType: string;
  header: Uint8Array;
  /** Bytes of runs whose source is INLINE: `runOffset` indexes this buffer. */
  inline: Uint8Array;
  runCount: number;
  runSource: Uint32Array;
  runOffset: Float64Array;
  runLength: Float64Array;
}

/** The `runSource` of a run of bytes held in the layout itself (`FileLayout.inline`). */
export const INLINE = 0xffff_ffff;

export class LayoutBuilder {
  private inline: Uint8Array[] = [];
  private inlineLength = 0;
  private count = 0;
  private source = new Uint32Array(1024);
  private offset = new Float64Array(1024);
  private length = new Float64Array(1024);

  constructor(private readonly header: Uint8Array) {}

  /** Appends `length` bytes at `offset` of source `sourceIndex`. */
  addRun(sourceIndex: number, offset: number, length: number): void {
    if (length === 0) return;
    const last = this.count - 1;
    if (last >= 0 && this.source[last] === sourceIndex && (this.offset[last] ?? 0) + (this.length[last] ?? 0) === offset) {
      this.length[last] = (this.length[last] ?? 0) + length;
      return;
    }
    if (this.count === this.source.length) {
      const grow = <T extends Uint32Array | Float64Array>(a: T, make: (n: number) => T): T => {
        const b = make(a.length * 2);
        b.set(a);
        return b;
      };
      this.source = grow(this.source, (n) => new Uint32Array(n));
      this.offset = grow(this.offset, (n) => new Float64Array(n));
      this.length = grow(this.length, (n) => new Float64Array(n));
    }
    this.source[this.count] = sourceIndex;
    this.offset[this.count] = offset;
    this.length[this.count] = length;
    this.count++;
  }

  /** Appends bytes held in memory. */
  addInline(bytes: Uint8Array): void {
    this.addRun(INLINE, this.inlineLength, bytes.length);
    this.inline.push(bytes);
    this.inlineLength += bytes.length;
  }

  finish(format: string, contentType: string): FileLayout {
    const n = this.count;
    const inline = new Uint8Array(this.inlineLength);
    let at = 0;
    for (const b of this.inline) {
      inline.set(b, at);
      at += b.length;
    }
    return {
      format,
      contentType,
      header: this.header,
      inline,
      runCount: n,
      runSource: this.source.slice(0, n),
      runOffset: this.offset.slice(0, n),
      runLength: this.length.slice(0, n),
    };
  }
}
