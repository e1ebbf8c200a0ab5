// VirtualFile: header bytes in memory plus runs of source bytes, read on demand; the public face of the extent table, its read plan and its serialized form.
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { checkReadRange, closedError } from '../sources/read-range.js';
import type { Source } from '../sources/source.js';
import { type CompiledVirtualFile, type ExtentInfo, ExtentTable } from './extent-table.js';
import { borrowSources, OpenedSources, type SourceSet } from './opened-sources.js';
import { joinPieces, type PlannedPiece, planExtents, readExtents, type StreamOptions, streamRange } from './read-plan.js';
import { digestOf, readSerialized, writeSerialized } from './serialized-form.js';
import type { SourceRef, SourceResolver } from './source-ref.js';

export type { CompiledVirtualFile, ExtentInfo, PlannedPiece, StreamOptions };

/** Bytes of the etag's digest prefix: 144 bits, 24 base64url characters. */
const ETAG_DIGEST_BYTES = 18;

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
  private readonly table: ExtentTable;
  private readonly digest: Uint8Array;
  private readonly opened: SourceSet;
  private bytesReadSoFar = 0;
  private readCountSoFar = 0;

  /**
   * Checks the compiled form (extents in order, inside their source or the byte buffer;
   * MEDIA_INCONSISTENT otherwise) and takes ownership of its arrays without copying.
   * Usually reached through {@link VirtualFileBuilder.build} or {@link VirtualFile.deserialize}.
   *
   * @param digest the SHA-256 of the serialized body when already known (loading a
   *   serialized file whose CRC matched), so it is not computed again
   */
  constructor(compiled: CompiledVirtualFile, resolve: SourceResolver | SourceSet, digest?: Uint8Array) {
    // With a digest the buffer was CRC-checked on load: extents are checked as reads reach them.
    this.table = new ExtentTable(compiled, digest === undefined);
    this.format = this.table.format;
    this.contentType = this.table.contentType;
    this.sources = this.table.sources;
    this.size = this.table.size;
    this.digest = digest ?? digestOf(compiled);
    const tag = `vvf-${Buffer.from(this.digest.subarray(0, ETAG_DIGEST_BYTES)).toString('base64url')}`;
    this.etag = `"${tag}"`;
    this.key = `virtual:${tag}`;
    // A slice is given its parent's sources instead of a resolver: it borrows them.
    this.opened =
      typeof resolve === 'function' ? new OpenedSources(this.sources, resolve, this.key) : borrowSources(resolve, this.key);
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
    return this.table.count;
  }

  /**
   * Reads exactly `length` bytes at `offset`. A range outside the file fails with
   * SOURCE_RANGE; a source that changed, fails or answers short fails the whole read.
   */
  async read(offset: number, length: number): Promise<Uint8Array> {
    if (this.opened.closed) throw closedError(this.key);
    checkReadRange(offset, length, this.size, this.key);
    this.readCountSoFar++;
    if (length === 0) return new Uint8Array(0);
    const pieces = await readExtents(this.table, this.opened, offset, offset + length);
    this.bytesReadSoFar += length;
    return joinPieces(pieces, length, this.table.bytes);
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
    if (this.opened.closed) throw closedError(this.key);
    checkReadRange(offset, length, this.size, this.key);
    this.readCountSoFar++;
    if (length === 0) return [];
    const pieces = await readExtents(this.table, this.opened, offset, offset + length, scratch);
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
    if (this.opened.closed) throw closedError(this.key);
    checkReadRange(offset, length, this.size, this.key);
    if (length === 0) return [];
    const pieces = await planExtents(this.table, this.opened, offset, offset + length);
    this.readCountSoFar++;
    this.bytesReadSoFar += length;
    return pieces;
  }

  /**
   * A stream of bytes `[start, end)`. It reads one chunk at a time, only when the
   * consumer asks for more (so a slow consumer holds back the reads); a failed read
   * destroys the stream with its VvfError, so the output is never short without an
   * error. A range outside the file throws SOURCE_RANGE at once.
   */
  stream(start = 0, end: number = this.size, opts: StreamOptions = {}): Readable {
    return streamRange(this, start, end, opts);
  }

  /**
   * Bytes `[start, end)` of this file, after `prefix`, as a file of their own that reads
   * through this file's sources (opened once, for both) and closes none of them: a media
   * segment of a presentation, cut from the package without copying its columns beyond the
   * range. Its etag derives from this file's, the range and the prefix. Reads of the slice
   * after this file closes fail as reads of a closed file.
   */
  slice(start: number, end: number, opts: { prefix?: Uint8Array; contentType?: string; format?: string } = {}): VirtualFile {
    checkReadRange(start, end - start, this.size, this.key);
    const prefix = opts.prefix ?? new Uint8Array(0);
    const format = opts.format ?? this.format;
    const contentType = opts.contentType ?? this.contentType;
    const compiled = this.table.slice(start, end, prefix, format, contentType);
    const range = new Float64Array([start, end]);
    const digest = createHash('sha256')
      .update(this.digest)
      .update(new Uint8Array(range.buffer))
      .update(prefix)
      .update(`${format}\n${contentType}`)
      .digest();
    return new VirtualFile(compiled, this.opened, new Uint8Array(digest));
  }

  /**
   * The compiled form as one buffer, little endian (layout: {@link readSerialized}).
   * Loading it back needs no source.
   */
  serialize(): Uint8Array {
    return writeSerialized(this.table, this.digest);
  }

  /**
   * Loads a buffer made by {@link VirtualFile.serialize}, without touching any source
   * (they open on the first read that needs them, through `resolve`). The buffer is
   * copied, so the caller may reuse it. Another magic or version fails with
   * UNKNOWN_FORMAT; a truncated, padded or inconsistent buffer, or one whose checksum does
   * not match, with MEDIA_INCONSISTENT.
   */
  static deserialize(bytes: Uint8Array, resolve: SourceResolver): VirtualFile {
    const { compiled, digest } = readSerialized(bytes);
    return new VirtualFile(compiled, resolve, digest);
  }

  /** Closes the sources this file opened. Reads after close fail with USAGE. */
  close(): Promise<void> {
    return this.opened.close();
  }

  /** Bytes this file holds: the in-memory bytes and the extent columns. */
  memoryBytes(): number {
    return this.table.memoryBytes();
  }

  /** The extents in order, generated on demand (an object per step, none kept). */
  extents(): IterableIterator<ExtentInfo> {
    return this.table.extents();
  }
}
