// ExtentTable: a virtual file's extents as three typed-array columns, their checks, and the search for the extent holding an offset.
import { type FileLayout, HELD, LayoutBuilder } from '../compose/layout.js';
import { VvfError } from '../errors.js';
import type { SourceRef } from './source-ref.js';

/** One extent as {@link VirtualFile.extents} describes it: `[start, end)` of the virtual file. */
export interface ExtentInfo {
  start: number;
  end: number;
  /** `bytes`: held in memory (header boxes); `source`: read from `sourceIndex` at `sourceOffset`. */
  kind: 'bytes' | 'source';
  sourceIndex?: number;
  sourceOffset?: number;
}

/**
 * The compiled form of a virtual file: what {@link VirtualFileBuilder} produces and
 * {@link VirtualFile.deserialize} loads. A layout (extent `i` covers `[ends[i-1] (or 0),
 * ends[i])`; its bytes are `bytes[offsets[i] …]` when `sourceIndex[i]` is {@link HELD},
 * else source `sourceIndex[i]` from `offsets[i]`) plus the refs of the sources it indexes.
 */
export interface CompiledVirtualFile extends FileLayout {
  readonly sources: readonly SourceRef[];
}

/**
 * A compiled form, checked, with the lookup every read starts from. Three parallel typed
 * arrays, 20 bytes per extent and no object per extent; the extent holding an offset is
 * found by binary search over the virtual end offsets.
 */
export class ExtentTable implements CompiledVirtualFile {
  readonly format: string;
  readonly contentType: string;
  readonly sources: readonly SourceRef[];
  readonly bytes: Uint8Array;
  readonly ends: Float64Array;
  readonly sourceIndex: Int32Array;
  readonly offsets: Float64Array;
  readonly size: number;
  /**
   * Whether every extent was checked when the table was made. A loaded (deserialized)
   * file checks each extent when a read first reaches it instead: loading stays cheap,
   * and no byte is ever served from an extent that was not checked.
   */
  readonly validated: boolean;

  /**
   * Checks the compiled form (extents in order, inside their source or the byte buffer;
   * MEDIA_INCONSISTENT otherwise) and takes ownership of its arrays without copying.
   * @param checkEvery false for a buffer whose CRC matched on load: only the columns are
   *   checked now, each extent as reads reach it ({@link checkExtent})
   */
  constructor(compiled: CompiledVirtualFile, checkEvery: boolean) {
    if (checkEvery) checkCompiled(compiled);
    else checkColumns(compiled);
    this.validated = checkEvery;
    this.format = compiled.format;
    this.contentType = compiled.contentType;
    this.sources = Object.freeze(
      compiled.sources.map((s) => Object.freeze({ key: s.key, validator: s.validator, size: s.size })),
    );
    this.bytes = compiled.bytes;
    this.ends = compiled.ends;
    this.sourceIndex = compiled.sourceIndex;
    this.offsets = compiled.offsets;
    this.size = this.ends.length === 0 ? 0 : this.ends[this.ends.length - 1]!;
  }

  /** Number of extents. */
  get count(): number {
    return this.ends.length;
  }

  /** Bytes the table holds: the in-memory bytes and the extent columns. */
  memoryBytes(): number {
    return this.bytes.byteLength + this.ends.byteLength + this.sourceIndex.byteLength + this.offsets.byteLength;
  }

  /**
   * Index of the extent holding byte `offset` (< size). In a table not checked up front,
   * that extent is checked here, and so is that it really holds `offset`: a search over
   * unchecked ends may land anywhere.
   */
  extentAt(offset: number): number {
    const ends = this.ends;
    let lo = 0;
    let hi = ends.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (ends[mid]! > offset) hi = mid;
      else lo = mid + 1;
    }
    if (!this.validated) {
      this.checkExtent(lo);
      if (offset < (lo === 0 ? 0 : ends[lo - 1]!)) explainBadExtent(this, lo);
    }
    return lo;
  }

  /** Throws MEDIA_INCONSISTENT unless extent `i` exists, follows the previous one, and lies inside its bytes. */
  checkExtent(i: number): void {
    if (i >= this.ends.length) explainBadExtent(this, this.ends.length - 1);
    const start = i === 0 ? 0 : this.ends[i - 1]!;
    const end = this.ends[i]!;
    const index = this.sourceIndex[i]!;
    const offset = this.offsets[i]!;
    const limit = index === HELD ? this.bytes.length : this.sources[index]?.size;
    const bad =
      !(start >= 0) ||
      start !== Math.floor(start) ||
      !(end > start) ||
      end !== Math.floor(end) ||
      !(offset >= 0) ||
      offset !== Math.floor(offset);
    if (bad || limit === undefined || !(offset + end - start <= limit)) {
      explainBadExtent(this, i);
    }
  }

  /**
   * Bytes `[start, end)` of this table as a compiled form of their own, after `prefix` (held
   * bytes put in front), indexing the same sources. Extents of a table not checked up front
   * are checked as they are copied.
   */
  slice(start: number, end: number, prefix: Uint8Array, format: string, contentType: string): CompiledVirtualFile {
    const b = new LayoutBuilder(this.sources);
    b.addBytes(prefix);
    if (end > start) {
      const first = this.extentAt(start);
      for (let i = first; i < this.ends.length; i++) {
        if (!this.validated) this.checkExtent(i);
        const extentStart = i === 0 ? 0 : this.ends[i - 1]!;
        if (extentStart >= end) break;
        const from = Math.max(start, extentStart);
        const to = Math.min(end, this.ends[i]!);
        const at = this.offsets[i]! + (from - extentStart);
        const index = this.sourceIndex[i]!;
        if (index === HELD) b.addBytes(this.bytes.subarray(at, at + to - from));
        else b.addSourceRange(index, at, to - from);
      }
    }
    return { ...b.finish(format, contentType), sources: this.sources };
  }

  /** The extents in order, generated on demand (an object per step, none kept). */
  *extents(): IterableIterator<ExtentInfo> {
    let start = 0;
    for (let i = 0; i < this.ends.length; i++) {
      const end = this.ends[i]!;
      const sourceIndex = this.sourceIndex[i]!;
      if (sourceIndex < 0) yield { start, end, kind: 'bytes' };
      else yield { start, end, kind: 'source', sourceIndex, sourceOffset: this.offsets[i]! };
      start = end;
    }
  }
}

/** What every file must satisfy before use: equal column lengths, valid source sizes, a safe total size. */
function checkColumns(c: CompiledVirtualFile): void {
  const n = c.ends.length;
  if (c.sourceIndex.length !== n || c.offsets.length !== n) {
    throw inconsistent(`extent columns differ in length (${n}, ${c.sourceIndex.length}, ${c.offsets.length})`);
  }
  c.sources.forEach((s, i) => {
    if (!Number.isSafeInteger(s.size) || s.size < 0) throw inconsistent(`source ${i} has an invalid size ${s.size}`);
  });
  const size = n === 0 ? 0 : c.ends[n - 1]!;
  if (!Number.isSafeInteger(size) || size < 0) throw inconsistent(`the file would end at ${size}`);
}

/** Every extent: each after the previous, inside its source or the held bytes. */
function checkCompiled(c: CompiledVirtualFile): void {
  checkColumns(c);
  const { ends, sourceIndex, offsets, sources } = c;
  const n = ends.length;
  const limits = new Float64Array(sources.length + 1);
  limits[0] = c.bytes.length;
  sources.forEach((s, i) => {
    limits[i + 1] = s.size;
  });
  // One tight pass with plain comparisons: this runs on every load of a serialized file,
  // mostly before the JIT has warmed up. Integers are checked as x === Math.floor(x).
  let start = 0;
  let bad = -1;
  for (let i = 0; i < n; i++) {
    const end = ends[i]!;
    const index = sourceIndex[i]!;
    const offset = offsets[i]!;
    const limit = limits[index + 1];
    // `!(a > b)` also rejects NaN; an undefined limit (index out of range) fails the last test.
    if (
      !(end > start) ||
      end !== Math.floor(end) ||
      !(offset >= 0) ||
      offset !== Math.floor(offset) ||
      !(offset + end - start <= limit!)
    ) {
      bad = i;
      break;
    }
    start = end;
  }
  if (bad >= 0 || start > Number.MAX_SAFE_INTEGER) explainBadExtent(c, bad < 0 ? n - 1 : bad);
}

/** Throws the error describing why extent `i` is not valid (only called once a check failed). */
function explainBadExtent(c: CompiledVirtualFile, i: number): never {
  const start = i === 0 ? 0 : c.ends[i - 1]!;
  const end = c.ends[i]!;
  if (!Number.isSafeInteger(start) || start < 0) throw inconsistent(`extent ${i - 1} ends at ${start}`);
  if (!Number.isSafeInteger(end) || !(end > start)) throw inconsistent(`extent ${i} ends at ${end}, not after ${start}`);
  const index = c.sourceIndex[i]!;
  if (index !== HELD && !(index >= 0 && index < c.sources.length))
    throw inconsistent(`extent ${i} names source ${index} of ${c.sources.length}`);
  const limit = index === HELD ? c.bytes.length : c.sources[index]!.size;
  throw inconsistent(
    `extent ${i} reads ${end - start} bytes at ${c.offsets[i]}, past ${index === HELD ? 'the in-memory bytes' : `source ${index}`} (${limit} bytes)`,
  );
}

/** MEDIA_INCONSISTENT about a compiled form (worded for the serialized one, where bad extents come from). */
export function inconsistent(detail: string): VvfError {
  return new VvfError('MEDIA_INCONSISTENT', `serialized virtual file: ${detail}`);
}
