// VirtualFile: header bytes in memory plus runs of source bytes, read on demand; its compact serialized form.
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { crc32 } from 'node:zlib';
import { VvfError } from '../errors.js';
import { checkReadRange, closedError } from '../sources/read-range.js';
import type { Source } from '../sources/source.js';
import { checkSourceMatches, type SourceRef, type SourceResolver } from './source-ref.js';

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
 * {@link VirtualFile.deserialize} loads. Extent `i` covers `[ends[i-1] (or 0), ends[i])`
 * of the virtual file; its bytes are `bytes[offsets[i] …]` when `sourceIndex[i]` is -1,
 * else source `sourceIndex[i]` from `offsets[i]`.
 */
export interface CompiledVirtualFile {
  /** Names the layout that produced the file (e.g. `mp4-progressive-v1`); part of the etag. */
  readonly format: string;
  readonly contentType: string;
  readonly sources: readonly SourceRef[];
  /** Every in-memory byte of the file, in one buffer. */
  readonly bytes: Uint8Array;
  readonly ends: Float64Array;
  readonly sourceIndex: Int32Array;
  readonly offsets: Float64Array;
}

/** Options of {@link VirtualFile.stream}. */
export interface StreamOptions {
  /** Bytes per read (and per chunk pushed). Default 1 MiB. */
  chunkSize?: number;
}

/** The first bytes of the serialized form: `VVF` and the layout version. */
const MAGIC = [0x56, 0x56, 0x46] as const;
const VERSION = 2;
/** Magic + version (4) + SHA-256 of the rest (32). */
const PREAMBLE_BYTES = 40;
/** Bytes of the three extent columns per extent: end f64, offset f64, source index i32. */
const EXTENT_BYTES = 20;
/** Bytes of the etag's digest prefix: 144 bits, 24 base64url characters. */
const ETAG_DIGEST_BYTES = 18;
/** Source reads one `read()` keeps in flight at most, so a read over thousands of extents doesn't flood a source. */
const MAX_PARALLEL_READS = 32;
const DEFAULT_CHUNK_SIZE = 1 << 20;
/**
 * Bytes of a source skipped between two extents that are still read together: a
 * fragment's moof and mdat header sit between its chunks and the next fragment's.
 */
const MAX_SPAN_GAP = 64 << 10;
/** Largest single source read made of several extents. */
const MAX_SPAN = 8 << 20;
const EMPTY = new Uint8Array(0);

/** A piece of a planned range: held bytes, or a range of an opened source. */
export type PlannedPiece = Uint8Array | { index: number; source: Source; offset: number; length: number };

/** Extents of one source read with one source read: members are (piece index, source offset, length) triples. */
interface Span {
  source: number;
  start: number;
  end: number;
  /** Where the span's bytes go in the caller's buffer. */
  place: number;
  members: number[];
}

const littleEndianHost = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * A file made of header bytes held in memory and runs of bytes of other sources, with
 * an exact size and a strong etag, whose any byte range is produced on demand.
 *
 * Extents are three parallel typed arrays (20 bytes per extent, no object per extent);
 * a read binary-searches its first extent and issues one source read per extent it
 * touches, concurrently. Sources are opened lazily, once each, through the resolver,
 * and checked against the validator and size recorded at compile time.
 *
 * A VirtualFile is itself a {@link Source} (key `virtual:<etag without quotes>`,
 * validator = etag), so the demuxer can read it like any file.
 */
export class VirtualFile implements Source {
  readonly size: number;
  /** Strong HTTP entity tag, quoted: changes when the format, content type, header bytes, extents or any source's key, validator or size change. */
  readonly etag: string;
  readonly contentType: string;
  /** Names the layout that produced the file; part of the etag. */
  readonly format: string;
  readonly sources: readonly SourceRef[];
  /** Source key: `virtual:` and the etag without its quotes. */
  readonly key: string;
  private readonly bytes: Uint8Array;
  private readonly ends: Float64Array;
  private readonly sourceIndex: Int32Array;
  private readonly offsets: Float64Array;
  private readonly digest: Uint8Array;
  /**
   * Whether every extent was validated when the file was made. A loaded (deserialized)
   * file validates each extent when a read first uses it instead: loading stays cheap,
   * and no byte is ever served from an extent that was not checked.
   */
  private readonly validated: boolean;
  private readonly resolve: SourceResolver;
  /** Opened (or opening) sources by index; a failed open is forgotten so that a later read retries. */
  private readonly opened: (Promise<Source> | undefined)[];
  private closed = false;
  private bytesReadSoFar = 0;
  private readCountSoFar = 0;

  /**
   * Checks the compiled form (extents in order, inside their source or the byte buffer;
   * MEDIA_INCONSISTENT otherwise) and takes ownership of its arrays without copying.
   * Usually reached through {@link VirtualFileBuilder.build} or {@link VirtualFile.deserialize}.
   */
  /**
   * @param digest the SHA-256 of the serialized body when already known (loading a
   *   serialized file whose CRC matched), so it is not computed again
   */
  constructor(compiled: CompiledVirtualFile, resolve: SourceResolver, digest?: Uint8Array) {
    // With a digest the buffer was CRC-checked on load: validate extents as reads use them.
    if (digest) checkColumns(compiled);
    else checkCompiled(compiled);
    this.validated = digest === undefined;
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
    if (digest) {
      this.digest = digest;
    } else {
      const hash = createHash('sha256');
      for (const part of bodyParts(compiled)) hash.update(part);
      this.digest = new Uint8Array(hash.digest());
    }
    const tag = `vvf-${Buffer.from(this.digest.subarray(0, ETAG_DIGEST_BYTES)).toString('base64url')}`;
    this.etag = `"${tag}"`;
    this.key = `virtual:${tag}`;
    this.resolve = resolve;
    this.opened = new Array<Promise<Source> | undefined>(this.sources.length).fill(undefined);
  }

  /** The etag: the file's content identity, as a Source validator. */
  get validator(): string {
    return this.etag;
  }

  get bytesRead(): number {
    return this.bytesReadSoFar;
  }

  get readCount(): number {
    return this.readCountSoFar;
  }

  /** Number of extents. */
  get extentCount(): number {
    return this.ends.length;
  }

  /**
   * Reads exactly `length` bytes at `offset`. A range outside the file fails with
   * SOURCE_RANGE; a source that changed, fails or answers short fails the whole read.
   */
  async read(offset: number, length: number): Promise<Uint8Array> {
    if (this.closed) throw closedError(this.key);
    checkReadRange(offset, length, this.size, this.key);
    this.readCountSoFar++;
    if (length === 0) return new Uint8Array(0);
    const pieces = await this.readExtents(offset, offset + length);
    this.bytesReadSoFar += length;
    const only = pieces.length === 1 ? pieces[0]! : undefined;
    // A whole source read is the caller's; held bytes and slices of a larger read are copied.
    if (only !== undefined && only.buffer !== this.bytes.buffer && only.byteLength === only.buffer.byteLength) return only;
    const out = new Uint8Array(length);
    let at = 0;
    for (const p of pieces) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  }

  /**
   * Bytes `[offset, offset + length)` as a list of pieces in order, without copying them
   * into one buffer: for writing to a socket. Pieces may be views of the file's own held
   * bytes or of a larger source read, so callers must not modify them. Errors as {@link read}.
   *
   * With `scratch`, source bytes are read into it when they fit (the pieces are then views
   * of it, valid until the caller reuses it): a server recycling such buffers allocates
   * nothing per read, which keeps V8's major GCs (driven by external memory) away.
   */
  async readPieces(offset: number, length: number, scratch?: Uint8Array): Promise<Uint8Array[]> {
    if (this.closed) throw closedError(this.key);
    checkReadRange(offset, length, this.size, this.key);
    this.readCountSoFar++;
    if (length === 0) return [];
    const pieces = await this.readExtents(offset, offset + length, scratch);
    this.bytesReadSoFar += length;
    return pieces;
  }

  /**
   * What bytes `[offset, offset + length)` are made of, in order, without reading any
   * source: views of the held bytes, and ranges of opened sources (neighbouring extents
   * that are contiguous in their source merged into one range). For senders that move
   * source bytes themselves, such as a socket writer using sendfile(2). Sources are opened
   * (and checked against their validators) here, so a source that is gone fails now.
   */
  async planPieces(offset: number, length: number): Promise<PlannedPiece[]> {
    if (this.closed) throw closedError(this.key);
    checkReadRange(offset, length, this.size, this.key);
    if (length === 0) return [];
    const raw: (Uint8Array | { index: number; offset: number; length: number })[] = [];
    const wanted: number[] = [];
    this.forEachExtent(offset, offset + length, (index, at, n) => {
      const last = raw[raw.length - 1];
      if (index < 0) raw.push(this.bytes.subarray(at, at + n));
      else if (last !== undefined && !(last instanceof Uint8Array) && last.index === index && last.offset + last.length === at)
        last.length += n;
      else {
        raw.push({ index, offset: at, length: n });
        if (!wanted.includes(index)) wanted.push(index);
      }
    });
    const opened = await Promise.all(wanted.map((i) => this.sourceAt(i)));
    this.readCountSoFar++;
    this.bytesReadSoFar += length;
    return raw.map((p) => (p instanceof Uint8Array ? p : { ...p, source: opened[wanted.indexOf(p.index)]! }));
  }

  /**
   * A stream of bytes `[start, end)`. It reads one chunk at a time, only when the
   * consumer asks for more (so a slow consumer holds back the reads); a failed read
   * destroys the stream with its VvfError, so the output is never short without an
   * error. A range outside the file throws SOURCE_RANGE at once.
   */
  stream(start = 0, end: number = this.size, opts: StreamOptions = {}): Readable {
    if (!Number.isSafeInteger(end) || end < start) {
      throw new VvfError('SOURCE_RANGE', `invalid range ${start}-${end}`, { source: this.key });
    }
    checkReadRange(start, end - start, this.size, this.key);
    const chunkSize = opts.chunkSize ?? DEFAULT_CHUNK_SIZE;
    if (!Number.isSafeInteger(chunkSize) || chunkSize < 1) {
      throw new VvfError('USAGE', `chunkSize must be a positive integer, got ${chunkSize}`, { source: this.key });
    }
    let position = start;
    const file = this;
    return new Readable({
      read() {
        if (position >= end) {
          this.push(null);
          return;
        }
        const length = Math.min(chunkSize, end - position);
        const at = position;
        position += length;
        file.read(at, length).then(
          (bytes) => {
            if (!this.destroyed) this.push(bytes);
          },
          (e: unknown) => {
            this.destroy(e instanceof Error ? e : new VvfError('BUG', `read failed: ${String(e)}`, { source: file.key }));
          },
        );
      },
    });
  }

  /**
   * The compiled form as one buffer, little endian (see {@link VirtualFile.deserialize}
   * for the layout). Loading it back needs no source.
   */
  serialize(): Uint8Array {
    const parts = bodyParts(this.compiled());
    let total = PREAMBLE_BYTES;
    for (const part of parts) total += part.length;
    const out = new Uint8Array(total);
    out.set(MAGIC, 0);
    out[3] = VERSION;
    out.set(this.digest, 8);
    let at = PREAMBLE_BYTES;
    for (const part of parts) {
      out.set(part, at);
      at += part.length;
    }
    new DataView(out.buffer).setUint32(4, crc32(out.subarray(8)), true);
    return out;
  }

  /**
   * Loads a buffer made by {@link VirtualFile.serialize}, without touching any source
   * (they open on the first read that needs them, through `resolve`). The buffer is
   * copied, so the caller may reuse it.
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
  static deserialize(bytes: Uint8Array, resolve: SourceResolver): VirtualFile {
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
    return new VirtualFile({ format, contentType, sources, bytes: held, ends, sourceIndex, offsets }, resolve, digest);
  }

  /** Closes the sources this file opened. Reads after close fail with USAGE. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const opened = this.opened.filter((p): p is Promise<Source> => p !== undefined);
    this.opened.fill(undefined);
    // A source that failed to open has nothing to close.
    await Promise.allSettled(opened.map(async (p) => (await p).close()));
  }

  /** Bytes this file holds: the in-memory bytes and the extent columns. */
  memoryBytes(): number {
    return this.bytes.byteLength + this.ends.byteLength + this.sourceIndex.byteLength + this.offsets.byteLength;
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

  private compiled(): CompiledVirtualFile {
    return {
      format: this.format,
      contentType: this.contentType,
      sources: this.sources,
      bytes: this.bytes,
      ends: this.ends,
      sourceIndex: this.sourceIndex,
      offsets: this.offsets,
    };
  }

  /** Index of the extent holding byte `offset` (< size): the first whose end is past it. */
  private findExtent(offset: number): number {
    const ends = this.ends;
    let lo = 0;
    let hi = ends.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (ends[mid]! > offset) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  /**
   * Calls `visit` for each extent overlapping `[from, to)` (0 <= from < to <= size), in
   * order, with its source index (-1: held bytes), the offset of the overlap in that
   * source (or in the held bytes) and its length; extents of a loaded file are validated
   * as they are reached.
   */
  private forEachExtent(from: number, to: number, visit: (index: number, at: number, length: number) => void): void {
    const { ends, sourceIndex, offsets } = this;
    const first = this.findExtent(from);
    if (!this.validated) {
      this.checkExtent(first);
      if (from < (first === 0 ? 0 : ends[first - 1]!)) explainBadExtent(this.compiled(), first);
    }
    let start = first === 0 ? 0 : ends[first - 1]!;
    for (let i = first; start < to; i++) {
      if (!this.validated) this.checkExtent(i);
      const end = ends[i]!;
      const a = Math.max(start, from);
      visit(sourceIndex[i]!, offsets[i]! + (a - start), Math.min(end, to) - a);
      start = end;
    }
  }

  /**
   * Bytes `[from, to)` (0 <= from < to <= size) as pieces in order. Extents of one source
   * that lie close together in it (a fragment's chunks, separated only by its moof) are
   * read with one source read and sliced, whatever other sources' extents sit between
   * them in the virtual file: a 1 MiB range of an interleaved file is then two reads, not
   * one per half-second chunk.
   */
  private async readExtents(from: number, to: number, scratch?: Uint8Array): Promise<Uint8Array[]> {
    const pieces: Uint8Array[] = [];
    const spans: Span[] = [];
    // The span each source is growing, by source index.
    const open = new Map<number, Span>();
    this.forEachExtent(from, to, (index, at, length) => {
      if (index < 0) {
        pieces.push(this.bytes.subarray(at, at + length));
        return;
      }
      let span = open.get(index);
      if (span === undefined || at < span.end || at - span.end > MAX_SPAN_GAP || at + length - span.start > MAX_SPAN) {
        span = { source: index, start: at, end: at, place: 0, members: [] };
        spans.push(span);
        open.set(index, span);
      }
      span.end = at + length;
      span.members.push(pieces.length, at, length);
      pieces.push(EMPTY);
    });
    // Spans go into the caller's buffer, one after another, when they all fit in it.
    let total = 0;
    for (const span of spans) total += span.end - span.start;
    const into = scratch !== undefined && total <= scratch.length;
    let place = 0;
    for (const span of spans) {
      span.place = place;
      place += span.end - span.start;
    }
    let next = 0;
    let failed = false;
    const worker = async (): Promise<void> => {
      while (next < spans.length && !failed) {
        const span = spans[next++]!;
        const length = span.end - span.start;
        let bytes: Uint8Array;
        try {
          bytes = await this.readSource(
            span.source,
            span.start,
            length,
            into ? scratch.subarray(span.place, span.place + length) : undefined,
          );
        } catch (e) {
          failed = true;
          throw e;
        }
        const m = span.members;
        for (let k = 0; k < m.length; k += 3) {
          const at = m[k + 1]! - span.start;
          pieces[m[k]!] = bytes.subarray(at, at + m[k + 2]!);
        }
      }
    };
    const workers: Promise<void>[] = [];
    for (let w = Math.min(spans.length, MAX_PARALLEL_READS); w > 0; w--) workers.push(worker());
    await Promise.all(workers);
    return pieces;
  }

  /** Throws MEDIA_INCONSISTENT unless extent `i` exists, follows the previous one, and lies inside its bytes. */
  private checkExtent(i: number): void {
    if (i >= this.ends.length) explainBadExtent(this.compiled(), this.ends.length - 1);
    const start = i === 0 ? 0 : this.ends[i - 1]!;
    const end = this.ends[i]!;
    const index = this.sourceIndex[i]!;
    const offset = this.offsets[i]!;
    const limit = index === -1 ? this.bytes.length : this.sources[index]?.size;
    const bad =
      !(start >= 0) ||
      start !== Math.floor(start) ||
      !(end > start) ||
      end !== Math.floor(end) ||
      !(offset >= 0) ||
      offset !== Math.floor(offset);
    if (bad || limit === undefined || !(offset + end - start <= limit)) {
      explainBadExtent(this.compiled(), i);
    }
  }

  /**
   * One read of source `index`, into `target` when given (its length is the read's);
   * anything but exactly `length` bytes is an error.
   */
  private async readSource(index: number, offset: number, length: number, target?: Uint8Array): Promise<Uint8Array> {
    const source = await this.sourceAt(index);
    if (target !== undefined && source.readInto !== undefined) {
      await source.readInto(target, offset);
      return target;
    }
    const bytes = await source.read(offset, length);
    if (bytes.length !== length) {
      throw new VvfError('SOURCE_BAD_RESPONSE', `read of ${length} bytes returned ${bytes.length}`, {
        source: source.key,
        offset,
      });
    }
    if (target === undefined) return bytes;
    target.set(bytes);
    return target;
  }

  /** Source `index`, opened on first use; concurrent first uses share one open. */
  private sourceAt(index: number): Promise<Source> {
    if (this.closed) return Promise.reject(closedError(this.key));
    const pending = this.opened[index];
    if (pending !== undefined) return pending;
    const ref = this.sources[index]!;
    const opening = this.openSource(ref);
    this.opened[index] = opening;
    opening.catch(() => {
      if (this.opened[index] === opening) this.opened[index] = undefined;
    });
    return opening;
  }

  private async openSource(ref: SourceRef): Promise<Source> {
    let source: Source;
    try {
      source = await this.resolve(ref);
    } catch (e) {
      if (e instanceof VvfError) throw e;
      const why = e instanceof Error ? e.message : String(e);
      throw new VvfError('SOURCE_UNREACHABLE', `cannot open: ${why}`, { source: ref.key }, { cause: e });
    }
    try {
      // Resolvers should check this already; a mismatched source would give misplaced bytes.
      checkSourceMatches(ref, source);
    } catch (e) {
      await source.close().catch(() => undefined);
      throw e;
    }
    return source;
  }
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

/** Throws MEDIA_INCONSISTENT unless the extents are in order and each lies inside what it reads from. */
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
  if (index !== -1 && !(index >= 0 && index < c.sources.length))
    throw inconsistent(`extent ${i} names source ${index} of ${c.sources.length}`);
  const limit = index === -1 ? c.bytes.length : c.sources[index]!.size;
  throw inconsistent(
    `extent ${i} reads ${end - start} bytes at ${c.offsets[i]}, past ${index < 0 ? 'the in-memory bytes' : `source ${index}`} (${limit} bytes)`,
  );
}

function inconsistent(detail: string): VvfError {
  return new VvfError('MEDIA_INCONSISTENT', `serialized virtual file: ${detail}`);
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
