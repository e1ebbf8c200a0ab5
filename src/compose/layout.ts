// FileLayout: a laid-out file as extents in three columns; LayoutBuilder appends held bytes and source runs front to back, merging neighbours.
import { VvfError } from '../errors.js';

/** What a layout needs of a source: its key (named by errors) and its size (runs are checked against it). */
export interface LayoutSource {
  readonly key: string;
  readonly size: number;
}

/**
 * A laid-out file, front to back. Extent `i` covers `[ends[i-1] (or 0), ends[i])` of the
 * file; its bytes are `bytes[offsets[i] …]` when `sourceIndex[i]` is {@link HELD}, else
 * those of source `sourceIndex[i]` from `offsets[i]`. It is a virtual file's compiled form
 * less the sources' validators: a VirtualFile takes the columns as they are.
 */
export interface FileLayout {
  /** Identifies the layout and its version (part of the etag). */
  readonly format: string;
  readonly contentType: string;
  /** Every held byte (header boxes, in-band parameter sets), in order, in one buffer. */
  readonly bytes: Uint8Array;
  readonly ends: Float64Array;
  readonly sourceIndex: Int32Array;
  readonly offsets: Float64Array;
}

/** The `sourceIndex` of an extent of bytes held in the layout itself (`FileLayout.bytes`). */
export const HELD = -1;

const INITIAL_EXTENTS = 64;
const INITIAL_BYTES = 4096;

/**
 * Lays out a file front to back: `addBytes` for bytes held in memory (header boxes),
 * `addSourceRange` for a run of a source's bytes. Neighbours merge as they are added:
 * consecutive `addBytes` into one extent, and a source run into the previous one when it
 * continues it in the same source. Storage is typed arrays grown by doubling.
 */
export class LayoutBuilder<S extends LayoutSource = LayoutSource> {
  readonly sources: readonly S[];
  private ends = new Float64Array(INITIAL_EXTENTS);
  private sourceIndex = new Int32Array(INITIAL_EXTENTS);
  private offsets = new Float64Array(INITIAL_EXTENTS);
  private count = 0;
  private bytes = new Uint8Array(INITIAL_BYTES);
  private byteCount = 0;

  /** @param sources what `addSourceRange` indexes into; a size that is not a safe integer fails with USAGE. */
  constructor(sources: readonly S[]) {
    sources.forEach((s, i) => {
      if (!Number.isSafeInteger(s.size) || s.size < 0) {
        throw new VvfError('USAGE', `source ${i} has an invalid size ${s.size}`, { source: s.key });
      }
    });
    this.sources = sources;
  }

  /** Bytes laid out so far: the offset the next addition starts at. */
  get size(): number {
    return this.count === 0 ? 0 : this.ends[this.count - 1]!;
  }

  /** Extents so far, after merging. */
  get extentCount(): number {
    return this.count;
  }

  /** Appends bytes held in memory (copied, so the caller may reuse its buffer). */
  addBytes(bytes: Uint8Array): void {
    const n = bytes.length;
    if (n === 0) return;
    this.checkSize(n);
    if (this.byteCount + n > this.bytes.length) {
      const grown = new Uint8Array(Math.max(this.bytes.length * 2, this.byteCount + n));
      grown.set(this.bytes.subarray(0, this.byteCount));
      this.bytes = grown;
    }
    this.bytes.set(bytes, this.byteCount);
    const last = this.count - 1;
    // Held bytes are appended in order, so a held extent at the end always ends where the new bytes start.
    if (last >= 0 && this.sourceIndex[last] === HELD) this.ends[last]! += n;
    else this.push(HELD, this.byteCount, n);
    this.byteCount += n;
  }

  /**
   * Appends `length` bytes of source `sourceIndex` from `offset`. Merges with the
   * previous extent when that is the same source and ends at `offset` there. A range
   * outside the source fails with SOURCE_RANGE; a bad index with USAGE.
   */
  addSourceRange(sourceIndex: number, offset: number, length: number): void {
    const source = this.sources[sourceIndex];
    if (!Number.isInteger(sourceIndex) || source === undefined) {
      throw new VvfError('USAGE', `no source ${sourceIndex} (${this.sources.length} sources)`);
    }
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0) {
      throw new VvfError('SOURCE_RANGE', `invalid range of ${length} bytes at ${offset}`, { source: source.key });
    }
    if (offset + length > source.size) {
      throw new VvfError('SOURCE_RANGE', `range of ${length} bytes at ${offset} passes the end (${source.size} bytes)`, {
        source: source.key,
        offset,
      });
    }
    if (length === 0) return;
    this.checkSize(length);
    const last = this.count - 1;
    if (last >= 0 && this.sourceIndex[last] === sourceIndex) {
      const lastStart = last === 0 ? 0 : this.ends[last - 1]!;
      if (this.offsets[last]! + (this.ends[last]! - lastStart) === offset) {
        this.ends[last]! += length;
        return;
      }
    }
    this.push(sourceIndex, offset, length);
  }

  /**
   * The file laid out so far. The arrays are copied at their exact length, so the
   * builder may go on (or be dropped) without affecting the layout.
   */
  finish(format: string, contentType: string): FileLayout {
    return {
      format,
      contentType,
      bytes: this.bytes.slice(0, this.byteCount),
      ends: this.ends.slice(0, this.count),
      sourceIndex: this.sourceIndex.slice(0, this.count),
      offsets: this.offsets.slice(0, this.count),
    };
  }

  private checkSize(adding: number): void {
    if (this.size + adding > Number.MAX_SAFE_INTEGER) {
      throw new VvfError('NUMBER_TOO_LARGE', `virtual file size would pass 2^53 bytes`);
    }
  }

  private push(sourceIndex: number, offset: number, length: number): void {
    if (this.count === this.ends.length) {
      const capacity = this.ends.length * 2;
      this.ends = grow(this.ends, new Float64Array(capacity));
      this.sourceIndex = grow(this.sourceIndex, new Int32Array(capacity));
      this.offsets = grow(this.offsets, new Float64Array(capacity));
    }
    this.ends[this.count] = this.size + length;
    this.sourceIndex[this.count] = sourceIndex;
    this.offsets[this.count] = offset;
    this.count++;
  }
}

function grow<T extends Float64Array | Int32Array>(from: T, to: T): T {
  to.set(from);
  return to;
}
