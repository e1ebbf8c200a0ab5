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
 * Returns pairs (track, chunk) flattened: [t0, c0, t1, c1, …].
 */
export function interleave(tracks: readonly { samples: SampleTable; timescale: number; chunks: TrackChunks }[]): Uint32Array {
  const total = tracks.reduce((a, t) => a + t.chunks.count, 0);
  const order = new Uint32Array(total * 2);
  const next = tracks.map(() => 0);
  for (let k = 0; k < total; k++) {
    let best = -1;
    let bestTime = 0;
    let bestScale = 1;
    tracks.forEach((t, i) => {
      const c = next[i] ?? 0;
      if (c >= t.chunks.count) return;
      const time = t.samples.decodeTime[t.chunks.first[c] ?? 0] ?? 0;
      if (best < 0 || before(time, t.timescale, bestTime, bestScale)) {
        best = i;
        bestTime = time;
        bestScale = t.timescale;
      }
    });
    order[2 * k] = best;
    order[2 * k + 1] = next[best] ?? 0;
    next[best] = (next[best] ?? 0) + 1;
  }
  return order;
}
