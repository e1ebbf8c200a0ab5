// READs answered on the addon's reader threads, without the event loop: at OPEN the
// session hands native/fuse.c a plan of the whole file (its extents, held bytes and the
// descriptors of its local sources); the threads answer that open file's READs from it
// until RELEASE. Here: making those plans, opening and dropping the handles, and reading
// the threads' counters back.
import { isVvfError } from '../errors.js';
import type { FilePlan, FileRange } from './filesystem.js';
import { type FuseNative, NativeReadStats } from './native.js';

/** Sources a plan may have (native/fuse.c's MAX_PLAN_SOURCES); a file of more is read through JS. */
export const MAX_PLAN_SOURCES = 64;

type PlanSource = FileRange['source'];

/** A plan as the addon has it, with its sources in the order of its source indexes. */
interface CompiledPlan {
  plan: object;
  sources: PlanSource[];
}

/** What a sync of the threads' counters adds to the session's. */
export interface NativeReadDelta {
  reads: number;
  bytes: number;
  errors: number;
  spliced: number;
  /** READs passed to JS: every other thread was busy. */
  passed: number;
  /** Reader threads running now. */
  threads: number;
  /** Latencies to count, in milliseconds: `count` READs of `ms` each (a bucket's mean). */
  latencies: { ms: number; count: number }[];
}

/**
 * The native READ path of one session. Plans are made once per {@link FilePlan} (the
 * filesystem returns the same object for the same bytes) and shared by every open handle
 * of the file; each handle holds its own duplicates of the sources' descriptors.
 */
export class NativeReads {
  private readonly compiled = new WeakMap<FilePlan, CompiledPlan | null>();
  private last: Float64Array | undefined;

  constructor(
    private readonly native: FuseNative,
    private readonly reader: object,
  ) {}

  /**
   * Opens `fh` on the reader threads: leases each source's descriptor, lets the addon
   * duplicate and fstat it, then checks the sources against their validators (after the
   * fstat, so the identity the threads check against is the compiled one). True when the
   * threads answer `fh`'s READs from now on; false (nothing kept) when the plan cannot be
   * used — the READs then go through JS, which reports what is wrong. A source found
   * changed is reported through `onChanged`.
   */
  async open(fh: bigint, filePlan: FilePlan, onChanged: () => void): Promise<boolean> {
    const compiled = this.compile(filePlan);
    if (compiled === null) return false;
    const leases: { fd: number; release(): void; check?(): void }[] = [];
    let opened = false;
    try {
      for (const source of compiled.sources) leases.push(await source.descriptor());
      this.native.fastOpen(
        this.reader,
        fh,
        compiled.plan,
        Int32Array.from(leases, (l) => l.fd),
      );
      opened = true;
      for (const lease of leases) lease.check?.();
      return true;
    } catch (e) {
      if (opened) this.native.fastRelease(this.reader, fh);
      if (isVvfError(e) && e.code === 'SOURCE_CHANGED') onChanged();
      return false;
    } finally {
      // The addon holds its own duplicates: the pool may close or reuse these at once.
      for (const lease of leases) lease.release();
    }
  }

  /** Drops `fh`'s plan (RELEASE): its descriptors close now, or after the READ still using them. */
  release(fh: bigint): void {
    this.native.fastRelease(this.reader, fh);
  }

  /** What the threads did since the last call. */
  delta(): NativeReadDelta {
    const now = this.native.readerStats(this.reader);
    const last = this.last;
    this.last = now;
    const d = (i: number) => (now[i] ?? 0) - (last?.[i] ?? 0);
    const latencies: { ms: number; count: number }[] = [];
    for (let at = NativeReadStats.BUCKETS_AT; at + 1 < now.length; at += 2) {
      const count = d(at);
      if (count > 0) latencies.push({ ms: d(at + 1) / count / 1e6, count });
    }
    return {
      reads: d(NativeReadStats.reads),
      bytes: d(NativeReadStats.bytes),
      errors: d(NativeReadStats.errors),
      spliced: d(NativeReadStats.spliced),
      passed: d(NativeReadStats.passed),
      threads: now[NativeReadStats.threads] ?? 0,
      latencies,
    };
  }

  /** The addon's plan of a file, made on its first open; null when it cannot be (too many sources). */
  private compile(filePlan: FilePlan): CompiledPlan | null {
    const known = this.compiled.get(filePlan);
    if (known !== undefined) return known;
    const made = compilePlan(this.native, filePlan);
    this.compiled.set(filePlan, made);
    return made;
  }
}

/** {@link FilePlan} → the addon's columns: extent ends, source indexes (-1: held), offsets, the held bytes joined. */
function compilePlan(native: FuseNative, filePlan: FilePlan): CompiledPlan | null {
  const pieces = filePlan.pieces.filter((p) => p.length > 0);
  const sources: PlanSource[] = [];
  const indexOf = new Map<PlanSource, number>();
  let heldBytes = 0;
  for (const p of pieces) {
    if (p instanceof Uint8Array) {
      heldBytes += p.length;
    } else if (!indexOf.has(p.source)) {
      if (sources.length === MAX_PLAN_SOURCES) return null;
      indexOf.set(p.source, sources.length);
      sources.push(p.source);
    }
  }
  const ends = new Float64Array(pieces.length);
  const sourceOf = new Int32Array(pieces.length);
  const offsets = new Float64Array(pieces.length);
  const held = new Uint8Array(heldBytes);
  let end = 0;
  let heldAt = 0;
  pieces.forEach((p, i) => {
    end += p.length;
    ends[i] = end;
    if (p instanceof Uint8Array) {
      held.set(p, heldAt);
      sourceOf[i] = -1;
      offsets[i] = heldAt;
      heldAt += p.length;
    } else {
      sourceOf[i] = indexOf.get(p.source)!;
      offsets[i] = p.offset;
    }
  });
  // A plan that does not add up to the file is not used: its READs go through JS.
  if (end !== filePlan.size) return null;
  try {
    return { plan: native.fastPlan(filePlan.size, ends, sourceOf, offsets, held, sources.length), sources };
  } catch {
    return null;
  }
}
