import { assert, VvfError } from '../errors.js';
import {
  decoderConfigOf,
  entryKeyWithoutConfig,
  inBandParameterSets,
  inBandSampleEntry,
  parameterSetsOf,
} from '../isobmff/parameter-sets.js';
import { type Limits, type MemoryBudget, resolveLimits, SAMPLE_TABLE_BYTES_PER_SAMPLE } from '../limits.js';
import type { Movie, SampleDescription, Track } from '../model/movie.js';
import { type SampleTable, SampleTableBuilder } from '../model/sample-table.js';
import type { Source } from '../sources/source.js';
import { type Edit, editsDuration, presentationEdits } from './edits.js';
import type { SampleRange } from './slice.js';

/** Part of one source track that goes into an output track. */
export interface TrackPiece {
  movie: Movie;
  track: Track;
  range: SampleRange;
  /** What is presented, media times in the source track's timeline; null: the source has no edit list and nothing was cut. */
  edits: Edit[] | null;
}

/** A track of the file being composed. */
export interface OutputTrack {
  id: number;
  /** The source track whose metadata (handler, language, tkhd fields, …) the output carries. */
  template: Track;
  descriptions: SampleDescription[];
  /** Samples in decode order; `sourceIndex` points into `Composition.sources`. */
  samples: SampleTable;
  /** Edit list (durations in the composition timescale), or null for none. */
  edits: Edit[] | null;
  /**
   * Bytes written before a sample's own (sample index → bytes), counted in its size: the
   * parameter sets of a new sample description, in band, where the description changes.
   */
  prefixes: Map<number, Uint8Array>;
}

/** Tracks, samples and sources of a file to lay out: what a recipe becomes. */
export interface Composition {
  /** Movie timescale of the output (edit durations, mvhd, tkhd). */
  timescale: number;
  sources: Source[];
  tracks: OutputTrack[];
}

/**
 * Plays pieces one after another: `pieces[p][t]` is what piece p gives output track t.
 * Each piece's samples are rebased to follow the previous piece's; its edits are carried
 * (moved the same way), and a track shorter than the piece gets an empty edit so every
 * track of the next piece starts at the same presentation time.
 */
export function buildComposition(
  pieces: readonly (readonly TrackPiece[])[],
  timescale: number,
  maxSamples: number,
  opts: { limits?: Partial<Limits>; budget?: MemoryBudget } = {},
): Composition {
  const limits = resolveLimits({ maxSamplesPerTrack: maxSamples, ...opts.limits });
  const first = pieces[0];
  if (!first || first.length === 0) throw new VvfError('USAGE', 'nothing to compose: no tracks selected');
  checkModelLimits(pieces, limits);
  for (const [p, piece] of pieces.entries()) {
    if (piece.length !== first.length) {
      throw new VvfError(
        'USAGE',
        `piece ${p + 1} has ${piece.length} tracks, piece 1 has ${first.length}: pieces must have the same tracks`,
      );
    }
    piece.forEach((tp, t) => {
      const want = first[t]!.track;
      if (tp.track.kind !== want.kind || tp.track.timescale !== want.timescale) {
        throw new VvfError(
          'UNSUPPORTED',
          `piece ${p + 1} track ${t + 1} (${tp.track.kind}, timescale ${tp.track.timescale}) cannot follow ${want.kind} with timescale ${want.timescale}`,
        );
      }
    });
  }

  const sources: Source[] = [];
  const sourceIndex = new Map<string, number>();
  const indexOf = (s: Source): number => {
    let i = sourceIndex.get(s.key);
    if (i === undefined) {
      i = sources.push(s) - 1;
      sourceIndex.set(s.key, i);
    }
    return i;
  };

  const single = pieces.length === 1;
  // Once per piece, not once per piece and track: with many tracks that was quadratic.
  const lengths = pieces.map((piece) => pieceLength(piece, timescale));
  const tracks: OutputTrack[] = first.map((tp, t) => {
    const builder = new SampleTableBuilder(limits.maxSamplesPerTrack, { path: `track ${t + 1}` });
    const count = pieces.reduce((n, piece) => n + piece[t]!.range.end - piece[t]!.range.first, 0);
    opts.budget?.charge(count * SAMPLE_TABLE_BYTES_PER_SAMPLE, `the sample table of output track ${t + 1} (${count} samples)`);
    builder.expect(count);
    const descriptions: SampleDescription[] = [];
    const descriptionIds = new Map<string, number>();
    const edits: Edit[] = [];
    // Where the next piece's samples may start decoding, and where the media presented so
    // far ends (past the decode end with B-frames): pieces must not overlap in media time,
    // or an edit of one piece would also show samples of the next.
    let decodeEnd = 0;
    let presentEnd = 0;
    for (const [p, piece] of pieces.entries()) {
      const { movie, track, range } = piece[t]!;
      const pieceEdits = piece[t]!.edits ?? presentationEdits(track, timescale);
      const descMap = mapDescriptions(track.descriptions, descriptions, descriptionIds);
      const srcMap = movie.sources.map(indexOf);
      const s = track.samples;
      // Typed arrays held in locals: these loops run once per sample of the output.
      const dts = s.decodeTime;
      const cto = s.compositionOffset;
      const dur = s.duration;
      const firstDts = range.end > range.first ? (dts[range.first] as number) : 0;
      // Where the piece's earliest presented sample lies from its first decode time: before it
      // with negative offsets, after it with a B-frame delay. The piece goes as early as both
      // the decode order and the media presented so far allow, so a piece whose delay fills the
      // previous piece's overhang follows it with no hole in media time (one edit plays both).
      let lead = Number.POSITIVE_INFINITY;
      for (let k = range.first; k < range.end; k++) {
        const v = (dts[k] as number) + (cto[k] as number) - firstDts;
        if (v < lead) lead = v;
      }
      if (lead === Number.POSITIVE_INFINITY) lead = 0;
      const base = Math.max(decodeEnd, presentEnd - lead);
      // A gap in decode time is carried by the previous sample's duration.
      if (base > decodeEnd && builder.count > 0)
        builder.duration[builder.count - 1] = (builder.duration[builder.count - 1] ?? 0) + base - decodeEnd;
      const shift = base - firstDts;
      const n = range.end - range.first;
      const at = builder.reserve(n);
      const inSource = s.sourceIndex;
      const inDescription = s.descriptionIndex;
      const outSource = builder.sourceIndex;
      const outDescription = builder.descriptionIndex;
      for (let i = 0; i < n; i++) {
        const k = range.first + i;
        outSource[at + i] = srcMap[inSource[k] as number] ?? 0;
        outDescription[at + i] = descMap[(inDescription[k] as number) - 1] ?? 1;
      }
      builder.offset.set(s.offset.subarray(range.first, range.end), at);
      builder.size.set(s.size.subarray(range.first, range.end), at);
      builder.compositionOffset.set(s.compositionOffset.subarray(range.first, range.end), at);
      builder.duration.set(s.duration.subarray(range.first, range.end), at);
      builder.sync.set(s.sync.subarray(range.first, range.end), at);
      if (s.dependency) builder.withDependency().set(s.dependency.subarray(range.first, range.end), at);
      const outDts = builder.decodeTime;
      for (let i = 0; i < n; i++) outDts[at + i] = (dts[range.first + i] as number) + shift;
      for (const e of pieceEdits) edits.push({ mediaTime: e.mediaTime === -1 ? -1 : e.mediaTime + shift, duration: e.duration });
      // Pad to the piece's length so the next piece starts together on every track.
      if (p < pieces.length - 1) {
        const length = lengths[p] ?? 0;
        const mine = editsDuration(pieceEdits);
        if (length > mine) edits.push({ mediaTime: -1, duration: length - mine });
      }
      let end = base;
      let shown = presentEnd;
      for (let i = range.first; i < range.end; i++) {
        const d = dur[i] as number;
        const v = end + (cto[i] as number) + d;
        if (v > shown) shown = v;
        end += d;
      }
      decodeEnd = end;
      presentEnd = shown;
    }
    const keepNoEdits = single && tp.edits === null;
    const samples = builder.finish();
    const inBand = parameterSetsInBand(samples, descriptions);
    return {
      id: t + 1,
      template: tp.track,
      descriptions: inBand.descriptions,
      samples,
      edits: keepNoEdits ? null : mergeEdits(edits, tp.track.timescale, timescale),
      prefixes: inBand.prefixes,
    };
  });
  return { timescale, sources, tracks };
}

/**
 * Compositions of one timescale played at the same time, as one: every part's tracks, in
 * order and numbered anew, over the union of their sources (each source once, by key).
 * The parts' sample tables are taken over (their source indexes rewritten in place).
 */
export function mergeCompositions(parts: readonly Composition[]): Composition {
  const first = parts[0];
  if (!first) throw new VvfError('USAGE', 'nothing to compose: no tracks selected');
  const sources: Source[] = [];
  const byKey = new Map<string, number>();
  const tracks: OutputTrack[] = [];
  for (const part of parts) {
    assert(part.timescale === first.timescale, 'merged compositions share one timescale');
    const map = part.sources.map((s) => {
      let i = byKey.get(s.key);
      if (i === undefined) {
        i = sources.push(s) - 1;
        byKey.set(s.key, i);
      }
      return i;
    });
    for (const t of part.tracks) {
      const index = t.samples.sourceIndex;
      for (let k = 0; k < index.length; k++) index[k] = map[index[k] as number] ?? 0;
      tracks.push({ ...t, id: tracks.length + 1 });
    }
  }
  return { timescale: first.timescale, sources, tracks };
}

/**
 * What the composition will hold, counted from the pieces' sample ranges before anything is
 * allocated: samples per output track, and bytes of the output. The cost of checking is
 * one pass over the selected sizes, which composing takes anyway.
 */
function checkModelLimits(pieces: readonly (readonly TrackPiece[])[], limits: Limits): void {
  const tracks = pieces[0]?.length ?? 0;
  if (tracks > limits.maxTracks) {
    throw new VvfError('STRUCTURE_LIMIT', `${tracks} output tracks (limit maxTracks: ${limits.maxTracks})`);
  }
  let bytes = 0;
  for (let t = 0; t < tracks; t++) {
    let samples = 0;
    for (const piece of pieces) {
      const tp = piece[t];
      if (!tp) continue;
      const { first, end } = tp.range;
      samples += end - first;
      const size = tp.track.samples.size;
      for (let i = first; i < end; i++) bytes += size[i] ?? 0;
    }
    if (samples > limits.maxSamplesPerTrack) {
      throw new VvfError(
        'SAMPLE_LIMIT',
        `output track ${t + 1} would have ${samples} samples (limit maxSamplesPerTrack: ${limits.maxSamplesPerTrack})`,
      );
    }
    if (bytes > limits.maxOutputBytes) {
      throw new VvfError(
        'STRUCTURE_LIMIT',
        `the file would pass ${limits.maxOutputBytes} bytes of samples (limit maxOutputBytes)`,
      );
    }
  }
}

/** A piece lasts as long as its longest track. */
function pieceLength(piece: readonly TrackPiece[], timescale: number): number {
  return Math.max(...piece.map((tp) => editsDuration(tp.edits ?? presentationEdits(tp.track, timescale))));
}

/**
 * Maps a source track's description indexes (1-based) to the output's, sharing identical
 * entries; `ids` finds an entry by its bytes, so thousands of pieces with their own entries
 * (chunks encoded apart) cost no scan of the entries so far.
 */
/**
 * An entry's bytes less a last child `btrt` (bitrate hints, 20 bytes): encoders write each
 * piece's own bitrate there, and entries that differ in nothing else describe the same
 * samples (the first one's hints are kept).
 */
function withoutBitrateHints(entry: Uint8Array): Uint8Array {
  const at = entry.length - 20;
  const isBtrt =
    at >= 8 &&
    entry[at] === 0 &&
    entry[at + 1] === 0 &&
    entry[at + 2] === 0 &&
    entry[at + 3] === 20 &&
    String.fromCharCode(entry[at + 4]!, entry[at + 5]!, entry[at + 6]!, entry[at + 7]!) === 'btrt';
  return isBtrt ? entry.subarray(8, at) : entry.subarray(8);
}

function mapDescriptions(from: readonly SampleDescription[], into: SampleDescription[], ids: Map<string, number>): number[] {
  return from.map((d) => {
    // The entry's size field (its first 4 bytes) differs with the hints; the format stays in the key.
    const bare = withoutBitrateHints(d.bytes);
    const key = `${d.format}:${Buffer.from(bare.buffer, bare.byteOffset, bare.byteLength).toString('base64')}`;
    const same = ids.get(key);
    if (same !== undefined) return same;
    const id = into.push(d);
    ids.set(key, id);
    return id;
  });
}

/**
 * Neighbouring edits joined where one continues the other: two empty ones, or two showing
 * media where the second starts exactly where the first ends (pieces cut and joined back
 * to back, as encoded chunks are). The presentation is the same, and players see one edit:
 * ffmpeg 5.1 repeats the first sample of each later edit (once marked discard), which a
 * decoder that does not honour the mark shows twice.
 */
function mergeEdits(edits: Edit[], trackScale: number, movieScale: number): Edit[] {
  const out: Edit[] = [];
  for (const e of edits) {
    const last = out[out.length - 1];
    const bothEmpty = last !== undefined && last.mediaTime === -1 && e.mediaTime === -1;
    const continues =
      last !== undefined &&
      last.mediaTime !== -1 &&
      e.mediaTime !== -1 &&
      BigInt(last.duration) * BigInt(trackScale) === BigInt(e.mediaTime - last.mediaTime) * BigInt(movieScale);
    if (bothEmpty || continues) last!.duration += e.duration;
    else out.push({ ...e });
  }
  return out;
}

/**
 * Joined pieces of AVC or HEVC video whose parameter sets differ (profile, level, GOP,
 * reference count) must decode from any keyframe a player seeks to. Several sample
 * descriptions with their sets out of band (avc1/hvc1 with stsc switching between them)
 * are not enough: ffmpeg (hence Chromium) keeps the first description's sets after a
 * seek, and with an edit list per piece ffmpeg 5.1 even announces the next description's
 * sets some samples early (its stsc position runs ahead of the samples its edit handling
 * repeats), so frames of one piece get decoded with another's SPS ("illegal memory
 * management control operation", "Reference 6 >= 2", PIPELINE_ERROR_DECODE).
 *
 * So when every description of the track is AVC (or every one HEVC) and they differ only
 * in their avcC/hvcC, the track gets one description: the one of highest profile and level,
 * as avc3/hev1 (samples may carry parameter sets in band; its avcC/hvcC still opens the
 * decoder, and its codec string bounds what every piece needs), and every keyframe
 * carries its own piece's sets in band — the first piece's too, since a seek back into it
 * follows frames decoded with another piece's sets. The cost is one copy of the sets per
 * keyframe (about 40 bytes for x264's SPS+PPS, about 100 for x265's VPS+SPS+PPS).
 * Descriptions that differ otherwise (size, codec) stay separate, each keyframe still
 * carrying its description's sets. A track with one description is left as it is.
 * A prefixed sample's size grows by its prefix.
 */
function parameterSetsInBand(
  samples: SampleTable,
  descriptions: SampleDescription[],
): { descriptions: SampleDescription[]; prefixes: Map<number, Uint8Array> } {
  const prefixes = new Map<number, Uint8Array>();
  if (descriptions.length < 2) return { descriptions, prefixes };
  const configs = descriptions.map((d) => decoderConfigOf(d.bytes));
  const first = configs[0];
  const key = entryKeyWithoutConfig(descriptions[0]!.bytes);
  const single = key !== undefined && descriptions.every((d) => entryKeyWithoutConfig(d.bytes) === key);
  const inBand = descriptions.map((d, k) => {
    // An entry already in-band (avc3/hev1) counts on its samples; its configuration's sets are repeated only when it is merged.
    const sets = single ? configs[k]?.sets : parameterSetsOf(d.bytes);
    return sets && sets.nalus.length > 0 ? inBandParameterSets(sets) : undefined;
  });
  const size = samples.size as Uint32Array;
  const sync = samples.sync;
  const desc = samples.descriptionIndex;
  for (let i = 0; i < samples.count; i++) {
    const d = desc[i] ?? 1;
    if (!sync[i] && (i === 0 || d === desc[i - 1])) continue;
    const bytes = inBand[d - 1];
    if (!bytes) continue;
    prefixes.set(i, bytes);
    size[i] = (size[i] ?? 0) + bytes.length;
  }
  if (!single || !first) return { descriptions, prefixes };
  desc.fill(1);
  // The entry that stands for all is the one asking most of a decoder (highest profile, then
  // level), so what the file declares (codec string, avcC/hvcC) bounds every piece.
  let top = 0;
  configs.forEach((c, k) => {
    const best = configs[top]!;
    if (c && (c.profile > best.profile || (c.profile === best.profile && c.level > best.level))) top = k;
  });
  const d0 = descriptions[top]!;
  const format = first.family === 'avc' ? 'avc3' : 'hev1';
  const merged: SampleDescription = {
    bytes: inBandSampleEntry(d0.bytes, first.family),
    format,
    codec: d0.codec.replace(/^[a-z0-9]{4}/, format),
  };
  return { descriptions: [merged], prefixes };
}
