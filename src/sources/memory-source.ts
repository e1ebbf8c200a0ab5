// In-memory Source: bytes held by the caller (tests, generated data, fetched manifests).
import { createHash } from 'node:crypto';
import { checkReadRange, closedError } from './read-range.js';
import type { Source } from './source.js';

/**
 * A Source over bytes in memory. The bytes are not copied: the caller must not change
 * them afterwards, since the validator is computed once from the content.
 */
export class MemorySource implements Source {
  readonly key: string;
  /** `<size>-<sha1>` of the content, so equal content gives an equal validator. */
  readonly validator: string;
  readonly size: number;
  private readonly bytes: Uint8Array;
  private closed = false;
  private bytesReadSoFar = 0;
  private readCountSoFar = 0;

  /**
   * @param bytes the content
   * @param key identity; defaults to `memory:<sha1 prefix>` of the content
   */
  constructor(bytes: Uint8Array, key?: string) {
    const sha1 = createHash('sha1').update(bytes).digest('hex');
    this.bytes = bytes;
    this.size = bytes.length;
    this.validator = `${bytes.length}-${sha1}`;
    this.key = key ?? `memory:${sha1.slice(0, 16)}`;
  }

  get bytesRead(): number {
    return this.bytesReadSoFar;
  }

  get readCount(): number {
    return this.readCountSoFar;
  }

  /** Returns a copy, so callers can never alter the source's content through it. */
  async read(offset: number, length: number): Promise<Uint8Array> {
    if (this.closed) throw closedError(this.key);
    checkReadRange(offset, length, this.size, this.key);
    this.readCountSoFar++;
    this.bytesReadSoFar += length;
    return this.bytes.slice(offset, offset + length);
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}
