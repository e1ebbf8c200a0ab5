// A composition as a fragmented presentation in one package file: each track's single fMP4 file back to back, then the index manifests and segment routes read.
import { VvfError } from '../errors.js';
import type { Composition, OutputTrack } from './composition.js';
import { editsDuration } from './edits.js';
import { FRAGMENTED_FORMAT, FragmentedPresentation, type FragmentedTrack } from './fragmented.js';
import { type FileLayout, HELD, LayoutBuilder } from './layout.js';
import type { PresentationIndex, PresentationLayout, PresentationSet, PresentedTrack } from './presentation-index.js';
import { type TimeValue, timeFraction } from './recipe.js';

/** Identifies the package layout in etags: bump when the bytes vvf writes for the same input change. */
export const PRESENTATION_FORMAT = `vvf-presentation-1+${FRAGMENTED_FORMAT}`;
/** The package file is vvf's own: faces serve its parts, never the whole. */
export const PRESENTATION_CONTENT_TYPE = 'application/vnd.vvf.presentation';

/** `VVFP`, then the version, then where the index is: the package's first bytes. */
const MAGIC = [0x56, 0x56, 0x46, 0x50] as const;
const VERSION = 1;
/** Magic (4) + version (u32) + index offset (f64) + index length (u32) + reserved (u32). */
export const PACKAGE_HEADER_BYTES = 24;

/** Options of {@link layoutPresentation}. */
export interface PresentationOptions {
  layout: PresentationLayout;
  /** Target segment duration in seconds (default 4). */
  segmentSeconds?: TimeValue;
}

/**
 * Lays a composition out as a fragmented presentation, one rendition per track, in one
 * package file: a small header, each track's single file (init segment, one sidx, then
 * every segment's moof and mdat — sample bytes as runs of the sources'), then the
 * {@link PresentationIndex} as JSON. Every part a player asks for is a byte range of the
 * package: an init segment, a segment (with a styp and a sidx of its own in front), a
 * track's single file. So a presentation is compiled, stored and checked like any
 * virtual file, and no segment is ever stored on its own.
 */
export function layoutPresentation(c: Composition, opts: PresentationOptions): { layout: FileLayout; index: PresentationIndex } {
  const segmentSeconds = opts.segmentSeconds ?? 4;
  for (const t of c.tracks) {
    if (t.template.kind === 'other') {
      throw new VvfError(
        'UNSUPPORTED',
        `track ${t.id} (handler ${t.template.handler}) cannot be a rendition: only video, audio and text tracks can`,
      );
    }
  }
  const presentation = new FragmentedPresentation(c, (l) => l, { segmentSeconds });
  const b = new LayoutBuilder(c.sources);
  b.addBytes(new Uint8Array(PACKAGE_HEADER_BYTES));
  const ids = trackIds(c.tracks);
  const tracks: PresentedTrack[] = [];
  presentation.tracks.forEach((ft, k) => {
    const { layout, ranges } = ft.singleFileWithRanges();
    const offset = b.size;
    appendLayout(b, layout);
    tracks.push(describeTrack(ft, ids[k] as string, offset, b.size - offset, ranges));
  });
  const sets = groupSets(tracks);
  for (const t of tracks) t.set = sets.findIndex((s) => s.tracks.includes(t.id));
  const index: PresentationIndex = {
    version: 1,
    layout: opts.layout,
    segmentSeconds: seconds(segmentSeconds),
    duration: presentationSeconds(c),
    sets,
    tracks,
  };
  const json = new TextEncoder().encode(JSON.stringify(index));
  const indexOffset = b.size;
  b.addBytes(json);
  const layout = b.finish(PRESENTATION_FORMAT, PRESENTATION_CONTENT_TYPE);
  // The header is the first held bytes: fill it in now that the index's place is known.
  const header = new DataView(layout.bytes.buffer, layout.bytes.byteOffset, PACKAGE_HEADER_BYTES);
  layout.bytes.set(MAGIC, 0);
  header.setUint32(4, VERSION, true);
  header.setFloat64(8, indexOffset, true);
  header.setUint32(16, json.length, true);
  return { layout, index };
}

/** Where a package's index is, from its first {@link PACKAGE_HEADER_BYTES} bytes; UNKNOWN_FORMAT for anything else. */
export function packageIndexSpan(header: Uint8Array): { offset: number; length: number } {
  if (header.length < PACKAGE_HEADER_BYTES || MAGIC.some((m, i) => header[i] !== m)) {
    throw new VvfError('UNKNOWN_FORMAT', 'not a vvf presentation package');
  }
  const view = new DataView(header.buffer, header.byteOffset, PACKAGE_HEADER_BYTES);
  const version = view.getUint32(4, true);
  if (version !== VERSION) throw new VvfError('UNKNOWN_FORMAT', `presentation package version ${version} is not supported`);
  return { offset: view.getFloat64(8, true), length: view.getUint32(16, true) };
}

/** The index JSON of a package, checked for the fields faces rely on. */
export function parsePackageIndex(bytes: Uint8Array): PresentationIndex {
  let index: PresentationIndex;
  try {
    index = JSON.parse(new TextDecoder().decode(bytes)) as PresentationIndex;
  } catch {
    throw new VvfError('MEDIA_INCONSISTENT', 'presentation index is not JSON');
  }
  if (index?.version !== 1 || !Array.isArray(index.tracks) || !Array.isArray(index.sets)) {
    throw new VvfError('MEDIA_INCONSISTENT', 'presentation index has an unknown shape');
  }
  return index;
}

/** A time value as a number of seconds. */
function seconds(v: TimeValue): number {
  const { num, den } = timeFraction(v);
  return Number(num) / Number(den);
}

/** Appends every extent of `layout` (indexing the same sources as `b`) to `b`. */
function appendLayout(b: LayoutBuilder, layout: FileLayout): void {
  let start = 0;
  for (let i = 0; i < layout.ends.length; i++) {
    const end = layout.ends[i] as number;
    const from = layout.offsets[i] as number;
    const source = layout.sourceIndex[i] as number;
    if (source === HELD) b.addBytes(layout.bytes.subarray(from, from + end - start));
    else b.addSourceRange(source, from, end - start);
    start = end;
  }
}

/** `v1`, `v2`, `a1`, `t1`: kind letter and rank among the tracks of that kind, in output order. */
function trackIds(tracks: readonly OutputTrack[]): string[] {
  const seen = new Map<string, number>();
  return tracks.map((t) => {
    const letter = t.template.kind.charAt(0);
    const n = (seen.get(letter) ?? 0) + 1;
    seen.set(letter, n);
    return `${letter}${n}`;
  });
}

function describeTrack(
  ft: FragmentedTrack<FileLayout>,
  id: string,
  offset: number,
  size: number,
  ranges: ReturnType<FragmentedTrack['singleFileRanges']>,
): PresentedTrack {
  const t = ft.track;
  const tpl = t.template;
  const plan = ft.plan;
  const times = Array.from(plan.presentationTimes);
  const segments = Array.from(ranges.segments);
  let peak = 0;
  for (let i = 0; i < plan.count; i++) {
    const seconds = ((times[i + 1] as number) - (times[i] as number)) / tpl.timescale;
    const bits = ((segments[i + 1] as number) - (segments[i] as number)) * 8;
    // A segment presenting nothing (a lone sample of zero duration) says nothing of the rate.
    if (seconds > 0) peak = Math.max(peak, bits / seconds);
  }
  const totalSeconds = ((times[plan.count] as number) - (times[0] as number)) / tpl.timescale;
  const totalBits = ((segments[plan.count] as number) - (segments[0] as number)) * 8;
  const average = totalSeconds > 0 ? totalBits / totalSeconds : 0;
  const described: PresentedTrack = {
    id,
    kind: tpl.kind as PresentedTrack['kind'],
    set: 0,
    codec: t.descriptions[0]?.codec ?? tpl.codec,
    timescale: tpl.timescale,
    language: tpl.language || 'und',
    bandwidth: Math.ceil(Math.max(peak, average)),
    averageBandwidth: Math.ceil(average),
    // Video starts presenting at its first decode time (fragmentedView); other tracks' start is in their init's edit list.
    presentationTimeOffset: tpl.kind === 'video' ? plan.origin : 0,
    offset,
    size,
    init: [ranges.init.start, ranges.init.end],
    index: [ranges.index.start, ranges.index.end],
    segments,
    times,
  };
  if (tpl.kind === 'video') {
    if (tpl.width !== undefined) described.width = tpl.width;
    if (tpl.height !== undefined) described.height = tpl.height;
    const rate = frameRate(t);
    if (rate) described.frameRate = rate;
  }
  if (tpl.kind === 'audio') {
    if (tpl.sampleRate !== undefined) described.sampleRate = tpl.sampleRate;
    if (tpl.channelCount !== undefined) described.channels = tpl.channelCount;
  }
  return described;
}

function gcd(a: bigint, b: bigint): bigint {
  while (b !== 0n) [a, b] = [b, a % b];
  return a;
}

/**
 * Frames per second as an exact fraction: the timescale over the sample duration when
 * every sample but the last lasts the same, else samples × timescale / total duration.
 */
function frameRate(t: OutputTrack): { num: number; den: number } | undefined {
  const s = t.samples;
  if (s.count === 0) return undefined;
  const first = s.duration[0] ?? 0;
  let total = 0;
  let constant = true;
  for (let i = 0; i < s.count; i++) {
    const d = s.duration[i] as number;
    total += d;
    if (i < s.count - 1 && d !== first) constant = false;
  }
  let num = constant && first > 0 ? BigInt(t.template.timescale) : BigInt(s.count) * BigInt(t.template.timescale);
  let den = BigInt(constant && first > 0 ? first : total);
  if (den <= 0n) return undefined;
  const g = gcd(num, den);
  num /= g;
  den /= g;
  return { num: Number(num), den: Number(den) };
}

/** Codec family for grouping: avc1/avc3 are one, hvc1/hev1 are one. */
function codecFamily(codec: string): string {
  const fourcc = codec.split('.')[0] ?? codec;
  if (fourcc === 'avc3') return 'avc1';
  if (fourcc === 'hev1') return 'hvc1';
  return fourcc;
}

/**
 * Adaptation sets: video by codec family, audio by language and codec family, text by
 * language; tracks best first. A set is aligned when every track's segments start at the
 * same presentation times (exactly, across timescales).
 */
function groupSets(tracks: readonly PresentedTrack[]): PresentationSet[] {
  const sets = new Map<string, { set: PresentationSet; members: PresentedTrack[] }>();
  for (const t of tracks) {
    const key = t.kind === 'video' ? `video:${codecFamily(t.codec)}` : `${t.kind}:${t.language}:${codecFamily(t.codec)}`;
    let entry = sets.get(key);
    if (!entry) {
      entry = { set: { kind: t.kind, language: t.language, tracks: [], aligned: true }, members: [] };
      sets.set(key, entry);
    }
    entry.members.push(t);
  }
  const out: PresentationSet[] = [];
  for (const { set, members } of sets.values()) {
    members.sort((a, b) => b.bandwidth - a.bandwidth);
    set.tracks = members.map((m) => m.id);
    set.aligned = members.every((m) => sameBoundaries(members[0] as PresentedTrack, m));
    out.push(set);
  }
  const rank = { video: 0, audio: 1, text: 2 } as const;
  return out.sort((a, b) => rank[a.kind] - rank[b.kind]);
}

/** Whether two tracks' segments start at the same presentation times (relative to their offsets). */
function sameBoundaries(a: PresentedTrack, b: PresentedTrack): boolean {
  if (a.times.length !== b.times.length) return false;
  const sa = BigInt(a.timescale);
  const sb = BigInt(b.timescale);
  // The last entry is where media ends, not a boundary: tracks may end a frame apart.
  for (let i = 0; i < a.times.length - 1; i++) {
    const ta = BigInt((a.times[i] as number) - a.presentationTimeOffset);
    const tb = BigInt((b.times[i] as number) - b.presentationTimeOffset);
    if (ta * sb !== tb * sa) return false;
  }
  return true;
}

/** Seconds the presentation lasts: the longest track's edit list, or its presented samples. */
function presentationSeconds(c: Composition): number {
  let longest = 0;
  for (const t of c.tracks) {
    if (t.edits) {
      longest = Math.max(longest, editsDuration(t.edits) / c.timescale);
      continue;
    }
    const s = t.samples;
    let lo = Number.POSITIVE_INFINITY;
    let hi = Number.NEGATIVE_INFINITY;
    for (let i = 0; i < s.count; i++) {
      const pts = (s.decodeTime[i] as number) + (s.compositionOffset[i] as number);
      lo = Math.min(lo, pts);
      hi = Math.max(hi, pts + (s.duration[i] as number));
    }
    if (s.count > 0) longest = Math.max(longest, (hi - lo) / t.template.timescale);
  }
  return longest;
}
