import type { Source } from '../sources/source.js';

/**
 * A view of a source for scanning many small segments of it: reads are served from
 * aligned blocks, each read from the source once, so the segments of an audio
 * representation (tens of KB apart) cost a read per block instead of one each. Reads
 * that are large or cross a block boundary go straight to the source. Only the scan
 * uses this; samples are later read from the source itself.
 */
export class ReadAheadSource implements Source {
  private readonly blocks = new Map<number, Promise<Uint8Array>>();

  constructor(
    private readonly inner: Source,
    private readonly blockSize = 1024 * 1024,
    /** Blocks kept; concurrent scans of neighbouring segments share the recent ones. */
    private readonly keep = 8,
  ) {}

  get key(): string {
    return this.inner.key;
  }
  get validator(): string {
    return this.inner.validator;
  }
  get size(): number {
    return this.inner.size;
  }
  get bytesRead(): number {
    return this.inner.bytesRead;
  }
  get readCount(): number {
    return this.inner.readCount;
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    const b = Math.floor(offset / this.blockSize);
    const from = b * this.blockSize;
    if (length > this.blockSize / 2 || offset + length > from + this.blockSize || offset + length > this.size) {
      return this.inner.read(offset, length);
    }
    let block = this.blocks.get(b);
    if (block) {
      // Most recently used last.
      this.blocks.delete(b);
    } else {
      block = this.inner.read(from, Math.min(this.blockSize, this.size - from));
      // A failed read is not kept: the next caller tries again (and sees the error itself).
      block.catch(() => this.blocks.get(b) === block && this.blocks.delete(b));
      while (this.blocks.size >= this.keep) this.blocks.delete(this.blocks.keys().next().value as number);
    }
    this.blocks.set(b, block);
    const bytes = await block;
    // A copy: callers keep what they read (a moof's bytes), the block is let go.
    return bytes.slice(offset - from, offset - from + length);
  }

  close(): Promise<void> {
    this.blocks.clear();
    return Promise.resolve();
  }
}
