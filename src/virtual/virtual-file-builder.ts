// VirtualFileBuilder: appends header bytes and source runs, merging neighbours, into a VirtualFile.
import { VvfError } from '../errors.js';
import type { SourceRef, SourceResolver } from './source-ref.js';
import { VirtualFile } from './virtual-file.js';

/** Options of {@link VirtualFileBuilder.build}. */
export interface BuildOptions {
  /** Names the layout (e.g. `mp4-progressive-v1`); part of the etag, so a new layout version gives new etags. */
  format: string;
  /** Default `video/mp4`. */
  contentType?: string;
  /** Opens the sources when a read first needs them. */
  resolve: SourceResolver;
}

const INITIAL_EXTENTS = 64;
const INITIAL_BYTES = 4096;

/**
 * Lays out a virtual file front to back: `addBytes` for bytes held in memory (header
 * boxes), `addSourceRange` for a run of a source's bytes. Neighbours merge as they are
 * added: consecutive `addBytes` into one extent, and a source run into the previous one
 * when it continues it in the same source. Storage is typed arrays grown by doubling.
 */
export class VirtualFileBuilder {
  readonly sources: readonly SourceRef[];
  private ends = new Float64Array(INITIAL_EXTENTS);
  private sourceIndex = new Int32Array(INITIAL_EXTENTS);
  private offsets = new Float64Array(INITIAL_EXTENTS);
  private count = 0;
  private bytes = new Uint8Array(INITIAL_BYTES);
  private byteCount = 0;

  /** @param sources what `addSourceRange` indexes into (Sources themselves will do; only key, validator and size are kept). */
  constructor(sources: readonly SourceRef[]) {
    this.sources = Object.freeze(
      sources.map((s, i) => {
        if (!Number.isSafeInteger(s.size) || s.size < 0) {
          throw new VvfError('USAGE', `source ${i} has an invalid size ${s.size}`, { source: s.key });
        }
        return Object.freeze({ key: s.key, validator: s.validator, size: s.size });
      }),
    );
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
    if (last >= 0 && this.sourceIndex[last] === -1) this.ends[last]! += n;
    else this.push(-1, this.byteCount, n);
    this.byteCount += n;
  }

  /**
   * Appends `length` bytes of source `sourceIndex` from `offset`. Merges with the
   * previous extent when that is the same source and ends at `offset` there. A range
   * outside the source fails with SOURCE_RANGE; a bad index with USAGE.
   */
  addSourceRange(sourceIndex: number, offset: number, length: number): void {
    const ref = this.sources[sourceIndex];
    if (!Number.isInteger(sourceIndex) || ref === undefined) {
      throw new VvfError('USAGE', `no source ${sourceIndex} (${this.sources.length} sources)`);
    }
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0) {
      throw new VvfError('SOURCE_RANGE', `invalid range of ${length} bytes at ${offset}`, { source: ref.key });
    }
    if (offset + length > ref.size) {
      throw new VvfError('SOURCE_RANGE', `range of ${length} bytes at ${offset} passes the end (${ref.size} bytes)`, {
        source: ref.key,
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
   * The virtual file laid out so far. The arrays are copied at their exact length, so
   * the builder may go on (or be dropped) without affecting the file.
   */
  build(opts: BuildOptions): VirtualFile {
    return new VirtualFile(
      {
        format: opts.format,
        contentType: opts.contentType ?? 'video/mp4',
        sources: this.sources,
        bytes: this.bytes.slice(0, this.byteCount),
        ends: this.ends.slice(0, this.count),
        sourceIndex: this.sourceIndex.slice(0, this.count),
        offsets: this.offsets.slice(0, this.count),
      },
      opts.resolve,
    );
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
