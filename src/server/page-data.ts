// What the index page shows of a registered virtual file: its tracks (read from its own header) and its byte map.

import type { Registered } from '../catalog/registry.js';
import type { PresentationIndex, PresentationLayout } from '../compose/presentation-index.js';
import { VvfError } from '../errors.js';
import { summarizeMovie } from '../model/summary.js';
import { displayName } from '../sources/display-name.js';
import { movieOfFile } from '../virtual/file-movie.js';
import { isPresentationFile, presentationFiles } from '../virtual/presentation-file.js';
import type { ExtentInfo, VirtualFile } from '../virtual/virtual-file.js';
import { playerPageUrl, playersFor, presentationManifests } from './players.js';

/** One track as the page lists it. */
export interface PageTrack {
  id: number;
  kind: string;
  /** RFC 6381 codec string; several, comma-separated, when the track's sample descriptions differ in codec. */
  codec: string;
  width?: number;
  height?: number;
  sampleRate?: number;
  channelCount?: number;
  durationSeconds: number;
}

/**
 * One run of the byte map, `[start, end)` of the virtual file: header bytes vvf made, or
 * bytes of source `source`. Drawing merges runs too small to see into their neighbours:
 * `mergedBytes` counts the bytes of the run that are of another kind or source.
 */
export interface ByteMapSegment {
  start: number;
  end: number;
  kind: 'header' | 'source';
  /** Index into {@link PageFile.sources} when `kind` is `source`. */
  source?: number;
  /** Where the run starts in its source, when it is one run of contiguous source bytes. */
  sourceOffset?: number;
  /** Bytes of the segment that belong to another kind or source (merged in for drawing). */
  mergedBytes?: number;
}

/** Everything the index page shows of one virtual file. */
export interface PageFile {
  id: string;
  /** Where the file is served, relative to the server (`/v/{id}.mp4`). */
  url: string;
  size: number;
  etag: string;
  /** ISO 8601. */
  created: string;
  tracks: PageTrack[];
  /** The file from start to end, coalesced for drawing (at most {@link MAX_MAP_SEGMENTS} segments). */
  byteMap: ByteMapSegment[];
  /** Display names of the sources (no absolute server paths, no URL queries). */
  sources: string[];
  /** Exact bytes of the file read from each source, by index. */
  sourceBytes?: number[];
  /** Exact bytes of the file vvf holds in memory (header boxes). */
  headerBytes?: number;
  /** Why the tracks could not be read, when they could not. */
  error?: string;
  /** A fragmented presentation (its `tracks` are empty: its renditions are here). */
  presentation?: PagePresentation;
}

/** One rendition of a presentation as the pages list it, from the presentation's index. */
export interface PageRendition {
  /** `v1`, `a1`: its name in the manifests and segment URLs. */
  id: string;
  kind: 'video' | 'audio' | 'text';
  codec: string;
  /** ISO 639-2/T (`und` when unknown). */
  language: string;
  /** Peak bits per second over a segment, and over the whole track. */
  bandwidth: number;
  averageBandwidth: number;
  width?: number;
  height?: number;
  /** Frames per second. */
  frameRate?: number;
  sampleRate?: number;
  channels?: number;
  segments: number;
}

/** A link the page shows: what it is, where it goes (relative to the server). */
export interface PageLink {
  label: string;
  url: string;
}

/** What the pages show of a fragmented presentation. */
export interface PagePresentation {
  layout: PresentationLayout;
  durationSeconds: number;
  /** The target segment duration. */
  segmentSeconds: number;
  renditions: PageRendition[];
  /** Its manifests, the main one first. */
  manifests: PageLink[];
  /** Its player pages, one per installed player that plays it, the default first. */
  players: PageLink[];
}

/** The renditions of a presentation as the pages list them. */
export function pageRenditions(index: PresentationIndex): PageRendition[] {
  return index.tracks.map((t) => {
    const r: PageRendition = {
      id: t.id,
      kind: t.kind,
      codec: t.codec,
      language: t.language,
      bandwidth: t.bandwidth,
      averageBandwidth: t.averageBandwidth,
      segments: t.segments.length - 1,
    };
    if (t.width !== undefined) r.width = t.width;
    if (t.height !== undefined) r.height = t.height;
    if (t.frameRate !== undefined && t.frameRate.den > 0) r.frameRate = t.frameRate.num / t.frameRate.den;
    if (t.sampleRate !== undefined) r.sampleRate = t.sampleRate;
    if (t.channels !== undefined) r.channels = t.channels;
    return r;
  });
}

/** A presentation's manifests and player pages, as links relative to the server. */
export function presentationLinks(id: string, layout: PresentationLayout): Pick<PagePresentation, 'manifests' | 'players'> {
  return {
    manifests: presentationManifests(layout).map((name) => ({ label: name, url: `/v/${encodeURIComponent(id)}/${name}` })),
    players: playersFor(layout).map((p, i) => ({ label: p.label, url: playerPageUrl(id, i === 0 ? undefined : p.name) })),
  };
}

/** Segments a byte map is coalesced to at most: about one per pixel of a wide bar. */
export const MAX_MAP_SEGMENTS = 2000;

/** Header runs the byte map keeps on their own however narrow. */
export const KEPT_HEADER_RUNS = 8;

/** The page data of a file, computed once per VirtualFile (a registered file never changes). */
const cache = new WeakMap<VirtualFile, Promise<Omit<PageFile, 'id' | 'url' | 'created'>>>();

/**
 * The page data of a registered file. Tracks come from opening the virtual file itself
 * as a movie, which reads its header (held in memory) and, as the MP4 reader looks 16
 * bytes past moov, 8 bytes of the first sample run: one small read of one source, once
 * per file. A presentation's renditions come from its index, and its link is its player page.
 */
export async function pageDataFor(entry: Omit<Registered, 'name' | 'confirmed'>): Promise<PageFile> {
  let pending = cache.get(entry.file);
  if (!pending) {
    pending = describeFile(entry.file);
    cache.set(entry.file, pending);
  }
  const described = await pending;
  // A failure is not kept: the next page view tries again.
  if (described.error !== undefined) cache.delete(entry.file);
  if (described.presentation !== undefined) {
    const presentation = { ...described.presentation, ...presentationLinks(entry.id, described.presentation.layout) };
    return {
      id: entry.id,
      url: playerPageUrl(entry.id),
      created: entry.created.toISOString(),
      ...described,
      presentation,
    };
  }
  return {
    id: entry.id,
    url: `/v/${encodeURIComponent(entry.id)}.mp4`,
    created: entry.created.toISOString(),
    ...described,
  };
}

async function describeFile(file: VirtualFile): Promise<Omit<PageFile, 'id' | 'url' | 'created'>> {
  const map = byteMapOf(file.extents(), file.size, file.sources.length);
  const base = {
    size: file.size,
    etag: file.etag,
    byteMap: map.segments,
    sources: file.sources.map((s) => displayName(s.key)),
    sourceBytes: map.sourceBytes,
    headerBytes: map.headerBytes,
  };
  try {
    if (isPresentationFile(file)) {
      // A package is no movie: what it holds is listed in its index (held bytes, no source read).
      const index = (await presentationFiles(file)).index;
      const presentation = {
        layout: index.layout,
        durationSeconds: index.duration,
        segmentSeconds: index.segmentSeconds,
        renditions: pageRenditions(index),
        manifests: [],
        players: [],
      };
      return { ...base, tracks: [], presentation };
    }
    // Through a view whose close leaves the registered file open (openMovie closes its source when it fails).
    const movie = await movieOfFile(file);
    const summary = summarizeMovie(movie);
    const tracks = summary.tracks.map((t, i) => {
      // A concatenation may switch a track's codec: a player needs every one of them.
      const codecs = new Set((movie.tracks[i]?.descriptions ?? []).map((d) => d.codec).filter((c) => c !== ''));
      const codec = codecs.size > 1 ? [...codecs].join(', ') : t.codec;
      const track: PageTrack = { id: t.id, kind: t.kind, codec, durationSeconds: t.durationSeconds };
      if (t.width !== undefined) track.width = t.width;
      if (t.height !== undefined) track.height = t.height;
      if (t.sampleRate !== undefined) track.sampleRate = t.sampleRate;
      if (t.channelCount !== undefined) track.channelCount = t.channelCount;
      return track;
    });
    return { ...base, tracks };
  } catch (e) {
    // The page is public: name the source as the map does, never by its server path.
    const error =
      e instanceof VvfError
        ? `${e.code}: ${e.detail}${e.source !== undefined ? ` [${displayName(e.source)}]` : ''}`
        : 'internal error';
    return { ...base, tracks: [], error };
  }
}

/** A byte map and the exact bytes per kind, from one pass over the extents. */
export interface ByteMap {
  segments: ByteMapSegment[];
  sourceBytes: number[];
  headerBytes: number;
}

/**
 * Coalesces a file's extents into at most `maxSegments` segments for drawing. Neighbours
 * of the same kind and source merge; a run narrower than about `size / maxSegments` (under
 * a pixel of the bar) is grouped with its small neighbours and the group drawn as whichever
 * kind or source holds most of its bytes, or absorbed by the wide run that follows it. The
 * first {@link KEPT_HEADER_RUNS} header runs stay on their own however narrow (the file's
 * header is a few KB of a file of GB, and the map is there to show it). Every other
 * segment but the last is at least `minWidth` wide, so the bound holds whatever the
 * extents are; the segments cover `[0, size)` without gaps or overlaps.
 */
export function byteMapOf(
  extents: Iterable<ExtentInfo>,
  size: number,
  sourceCount: number,
  maxSegments = MAX_MAP_SEGMENTS,
): ByteMap {
  const sourceBytes = new Array<number>(sourceCount).fill(0);
  let headerBytes = 0;
  const segments: ByteMapSegment[] = [];
  // Wide segments, plus per kept header run itself and the narrow group it may cut short, plus one.
  const minWidth = size / Math.max(1, maxSegments - 2 * KEPT_HEADER_RUNS - 1);
  let keptHeaders = 0;

  // The run being built from neighbouring extents of one kind and source.
  let run: ByteMapSegment | undefined;
  let runContiguous = true;
  // Small runs waiting to be drawn as one group: their span, and bytes per label.
  let groupStart = -1;
  let groupEnd = -1;
  const groupBytes = new Map<number, number>();

  const label = (s: ByteMapSegment): number => (s.kind === 'header' ? -1 : s.source!);
  const push = (s: ByteMapSegment): void => {
    const last = segments[segments.length - 1];
    // Neighbours drawn the same merge, keeping the count of bytes merged in.
    if (last && last.end === s.start && label(last) === label(s)) {
      last.end = s.end;
      delete last.sourceOffset;
      const merged = (last.mergedBytes ?? 0) + (s.mergedBytes ?? 0);
      if (merged > 0) last.mergedBytes = merged;
      return;
    }
    segments.push(s);
  };
  const groupSegment = (): ByteMapSegment => {
    let best = -2;
    let bestBytes = -1;
    for (const [l, b] of groupBytes) {
      if (b > bestBytes) {
        best = l;
        bestBytes = b;
      }
    }
    const s: ByteMapSegment =
      best === -1
        ? { start: groupStart, end: groupEnd, kind: 'header' }
        : { start: groupStart, end: groupEnd, kind: 'source', source: best };
    const merged = groupEnd - groupStart - bestBytes;
    if (merged > 0) s.mergedBytes = merged;
    return s;
  };
  const flushGroup = (): void => {
    if (groupStart < 0) return;
    push(groupSegment());
    groupStart = -1;
    groupBytes.clear();
  };
  const finishRun = (r: ByteMapSegment, contiguous: boolean): void => {
    if (!contiguous) delete r.sourceOffset;
    const width = r.end - r.start;
    if (r.kind === 'header' && width < minWidth && keptHeaders < KEPT_HEADER_RUNS) {
      keptHeaders++;
      flushGroup();
      push(r);
      return;
    }
    if (width >= minWidth) {
      if (groupStart >= 0) {
        // A group too narrow to stand alone goes into the wide run after it.
        if (groupEnd - groupStart < minWidth) {
          const absorbed = groupEnd - groupStart - (groupBytes.get(label(r)) ?? 0);
          r.start = groupStart;
          delete r.sourceOffset;
          if (absorbed > 0) r.mergedBytes = (r.mergedBytes ?? 0) + absorbed;
          groupStart = -1;
          groupBytes.clear();
        } else {
          flushGroup();
        }
      }
      push(r);
      return;
    }
    if (groupStart < 0) groupStart = r.start;
    groupEnd = r.end;
    groupBytes.set(label(r), (groupBytes.get(label(r)) ?? 0) + width);
    if (groupEnd - groupStart >= minWidth) flushGroup();
  };

  for (const e of extents) {
    const length = e.end - e.start;
    if (e.kind === 'bytes') headerBytes += length;
    else if (e.sourceIndex !== undefined && e.sourceIndex < sourceCount) sourceBytes[e.sourceIndex]! += length;
    const seg: ByteMapSegment =
      e.kind === 'bytes'
        ? { start: e.start, end: e.end, kind: 'header' }
        : { start: e.start, end: e.end, kind: 'source', source: e.sourceIndex ?? 0, sourceOffset: e.sourceOffset ?? 0 };
    if (run && run.end === seg.start && label(run) === label(seg)) {
      // Contiguous in the source too only if this extent starts where the run's bytes end.
      if (
        seg.kind === 'source' &&
        run.sourceOffset !== undefined &&
        run.sourceOffset + (run.end - run.start) !== seg.sourceOffset
      )
        runContiguous = false;
      run.end = seg.end;
      continue;
    }
    if (run) finishRun(run, runContiguous);
    run = seg;
    runContiguous = true;
  }
  if (run) finishRun(run, runContiguous);
  // A group left over at the end joins the segment before it when too narrow to stand alone.
  if (groupStart >= 0) {
    const last = segments[segments.length - 1];
    if (last && last.kind !== 'header' && groupEnd - groupStart < minWidth) {
      const absorbed = groupEnd - groupStart - (groupBytes.get(label(last)) ?? 0);
      last.end = groupEnd;
      delete last.sourceOffset;
      if (absorbed > 0) last.mergedBytes = (last.mergedBytes ?? 0) + absorbed;
      groupStart = -1;
      groupBytes.clear();
    } else {
      flushGroup();
    }
  }
  return { segments, sourceBytes, headerBytes };
}
