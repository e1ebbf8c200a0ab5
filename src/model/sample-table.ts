import { VvfError } from '../errors.js';

/**
 * A track's samples in decode order, one typed array per column: no object per sample,
 * since a one-hour 1080p DASH pair holds about half a million samples.
 */
export interface SampleTable {
  readonly count: number;
  /** Index into `Movie.sources` of the source holding the sample's bytes. */
  readonly sourceIndex: Uint32Array;
  /** Absolute byte offset of the sample in its source. */
  readonly offset: Float64Array;
  readonly size: Uint32Array;
  /** Decode time in the track timescale (exact integers up to 2^53). */
  readonly decodeTime: Float64Array;
  /** Presentation time minus decode time, signed, in the track timescale. */
  readonly compositionOffset: Int32Array;
  readonly duration: Uint32Array;
  /** 1 for a sync sample (keyframe). */
  readonly sync: Uint8Array;
  /** 1-based index of the sample's entry in the track's sample descriptions. */
  readonly descriptionIndex: Uint32Array;
  /** The sdtp byte per sample when the source had one. */
  readonly dependency: Uint8Array | null;
}

/** Appends samples to growable columns; `finish()` trims them to the count. */
export class SampleTableBuilder {
  count = 0;
  sourceIndex: Uint32Array;
  offset: Float64Array;
  size: Uint32Array;
  decodeTime: Float64Array;
  compositionOffset: Int32Array;
  duration: Uint32Array;
  sync: Uint8Array;
  descriptionIndex: Uint32Array;
  dependency: Uint8Array | null = null;
  private capacity: number;

  constructor(
    private readonly maxSamples: number,
    private readonly where: { path?: string; source?: string } = {},
    capacity = 1024,
  ) {
    this.capacity = Math.max(16, capacity);
    this.sourceIndex = new Uint32Array(this.capacity);
    this.offset = new Float64Array(this.capacity);
    this.size = new Uint32Array(this.capacity);
    this.decodeTime = new Float64Array(this.capacity);
    this.compositionOffset = new Int32Array(this.capacity);
    this.duration = new Uint32Array(this.capacity);
    this.sync = new Uint8Array(this.capacity);
    this.descriptionIndex = new Uint32Array(this.capacity);
  }

  /**
   * Makes room for `n` more samples and returns the index of the first; the caller
   * fills the columns from there and the count moves on by `n`.
   */
  reserve(n: number): number {
    const need = this.count + n;
    if (need > this.maxSamples) {
      throw new VvfError('SAMPLE_LIMIT', `track has more than ${this.maxSamples} samples (limit maxSamplesPerTrack)`, this.where);
    }
    if (need > this.capacity) this.grow(Math.max(need, Math.min(this.capacity * 2, this.maxSamples)));
    const first = this.count;
    this.count = need;
    return first;
  }

  /**
   * Grows the columns to hold `total` samples in all, at once: a reader that can estimate
   * the final count saves the repeated doubling (and the fresh pages each doubling touches).
   */
  expect(total: number): void {
    const want = Math.min(Math.ceil(total), this.maxSamples);
    if (want > this.capacity) this.grow(want);
  }

  /** Starts the sdtp column (zeros for samples already added). */
  withDependency(): Uint8Array {
    if (!this.dependency) this.dependency = new Uint8Array(this.capacity);
    return this.dependency;
  }

  private grow(capacity: number): void {
    const grow = <T extends Float64Array | Uint32Array | Int32Array | Uint8Array>(a: T, make: (n: number) => T): T => {
      const b = make(capacity);
      b.set(a.subarray(0, this.count));
      return b;
    };
    this.sourceIndex = grow(this.sourceIndex, (n) => new Uint32Array(n));
    this.offset = grow(this.offset, (n) => new Float64Array(n));
    this.size = grow(this.size, (n) => new Uint32Array(n));
    this.decodeTime = grow(this.decodeTime, (n) => new Float64Array(n));
    this.compositionOffset = grow(this.compositionOffset, (n) => new Int32Array(n));
    this.duration = grow(this.duration, (n) => new Uint32Array(n));
    this.sync = grow(this.sync, (n) => new Uint8Array(n));
    this.descriptionIndex = grow(this.descriptionIndex, (n) => new Uint32Array(n));
    if (this.dependency) this.dependency = grow(this.dependency, (n) => new Uint8Array(n));
    this.capacity = capacity;
  }

  finish(): SampleTable {
    const n = this.count;
    // Views when little capacity is spare (a good estimate); otherwise copies into
    // right-sized buffers so the spare capacity is freed.
    const cut = <T extends Float64Array | Uint32Array | Int32Array | Uint8Array>(a: T): T =>
      (this.capacity - n <= n / 8 ? a.subarray(0, n) : a.slice(0, n)) as T;
    return {
      count: n,
      sourceIndex: cut(this.sourceIndex),
      offset: cut(this.offset),
      size: cut(this.size),
      decodeTime: cut(this.decodeTime),
      compositionOffset: cut(this.compositionOffset),
      duration: cut(this.duration),
      sync: cut(this.sync),
      descriptionIndex: cut(this.descriptionIndex),
      dependency: this.dependency ? cut(this.dependency) : null,
    };
  }
}

/** Presentation time of sample `i`. */
export function presentationTime(t: SampleTable, i: number): number {
  return (t.decodeTime[i] ?? 0) + (t.compositionOffset[i] ?? 0);
}
