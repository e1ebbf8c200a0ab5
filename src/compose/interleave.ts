import type { SampleTable } from '../model/sample-table.js';

/** A track's samples grouped into chunks: chunk c holds samples [first[c], first[c+1]). */
export interface TrackChunks {
  /** First sample of each chunk, plus one entry past the end (the sample count). */
  first: Uint32Array;
  count: number;
}

/**
 * Groups a track's samples into chunks of about `seconds` of decode time; a new chunk
 * also starts where the sample description changes (stsc gives one per chunk).
 */
export function chunkTrack(s: SampleTable, timescale: number, seconds: number): TrackChunks {
  const span = Math.max(1, Math.round(timescale * seconds));
  const starts: number[] = [];
  let chunkStart = 0;
  for (let i = 0; i < s.count; i++) {
    const t = s.decodeTime[i] ?? 0;
    if (i === 0 || t - chunkStart >= span || s.descriptionIndex[i] !== s.descriptionIndex[i - 1]) {
      starts.push(i);
      chunkStart = t;
    }
  }
  const first = new Uint32Array(starts.length + 1);
  first.set(starts);
  first[starts.length] = s.count;
  return { first, count: starts.length };
}

/** a/ta < b/tb, exactly (BigInt when the products could pass 2^53). */
function before(a: number, ta: number, b: number, tb: number): boolean {
  const x = a * tb;
  const y = b * ta;
  if (Math.abs(x) < Number.MAX_SAFE_INTEGER && Math.abs(y) < Number.MAX_SAFE_INTEGER) return x < y;
  return BigInt(a) * BigInt(tb) < BigInt(b) * BigInt(ta);
}

/**
 * The order in which chunks of all tracks go into mdat: ascending decode time of their
 * first sample, compared exactly across timescales; ties go to the earlier track.
 * Returns pairs (track, chunk) flattened: [t0, c0, t1, c1, …]. A binary heap of the
 * tracks' next chunks keeps this O(chunks × log tracks): a scan of every track per chunk
 * made 60 000 tracks cost minutes.
 */
export function interleave(tracks: readonly { samples: SampleTable; timescale: number; chunks: TrackChunks }[]): Uint32Array {
  const total = tracks.reduce((a, t) => a + t.chunks.count, 0);
  const order = new Uint32Array(total * 2);
  const next = new Uint32Array(tracks.length);
  const timeOf = (i: number): number => {
    const t = tracks[i]!;
    return t.samples.decodeTime[t.chunks.first[next[i] ?? 0] ?? 0] ?? 0;
  };
  // a goes before b: earlier time, or the same time and an earlier track.
  const less = (a: number, b: number): boolean => {
    const ta = timeOf(a);
    const tb = timeOf(b);
    const sa = tracks[a]!.timescale;
    const sb = tracks[b]!.timescale;
    if (before(ta, sa, tb, sb)) return true;
    if (before(tb, sb, ta, sa)) return false;
    return a < b;
  };
  const heap: number[] = [];
  const down = (at: number): void => {
    for (;;) {
      const l = 2 * at + 1;
      const r = l + 1;
      let m = at;
      if (l < heap.length && less(heap[l]!, heap[m]!)) m = l;
      if (r < heap.length && less(heap[r]!, heap[m]!)) m = r;
      if (m === at) return;
      [heap[at], heap[m]] = [heap[m]!, heap[at]!];
      at = m;
    }
  };
  tracks.forEach((t, i) => {
    if (t.chunks.count > 0) heap.push(i);
  });
  for (let k = (heap.length >> 1) - 1; k >= 0; k--) down(k);
  for (let k = 0; k < total; k++) {
    const best = heap[0]!;
    order[2 * k] = best;
    order[2 * k + 1] = next[best] ?? 0;
    next[best] = (next[best] ?? 0) + 1;
    if ((next[best] ?? 0) >= tracks[best]!.chunks.count) {
      const last = heap.pop()!;
      if (heap.length > 0 && last !== best) heap[0] = last;
    }
    down(0);
  }
  return order;
}
