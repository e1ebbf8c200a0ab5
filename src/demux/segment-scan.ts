// Scanning the segments of a manifest (DASH or HLS): each a file or a byte range of one, read through the policy's opener.
import { basename } from 'node:path';
import { VvfError } from '../errors.js';
import type { ContainerNode } from '../isobmff/tree.js';
import type { Limits } from '../limits.js';
import type { MovieLayout } from '../model/movie.js';
import type { Source } from '../sources/source.js';
import type { InitContext, MovieBuilder } from './movie-builder.js';
import { type Mp4Scan, scanMp4 } from './mp4-scan.js';
import { ReadAheadSource } from './read-ahead.js';
import { SNIFF_BYTES, type Sniffed, sniffInput, unknownFormatError } from './sniff.js';

/** Opens the source behind an absolute URL from a manifest (file: or http(s):). */
export type OpenUrl = (url: string) => Promise<Source>;

/** A segment (or an initialization segment): an absolute URL, maybe an inclusive byte range of it. */
export interface SegmentRef {
  url: string;
  range?: { start: number; end: number };
}

/** A scanned segment: its source, what the scan found, and where its data ends. */
export type Part = [source: Source, scan: Mp4Scan, dataEnd: number];

/** The error for a segment that is not MP4: `name` is how to call it ("segment seg1.ts"). */
export type NameFormat = (found: Sniffed, name: string, source: string) => VvfError;

export interface ScanOptions {
  limits: Limits;
  open: OpenUrl;
  /** Names what a segment is when it is not MP4 (default: {@link unknownFormatError}). */
  nameFormat?: NameFormat;
}

/** Scans one segment's boxes: moov, sidx and moofs, never mdat. */
export async function scanSegment(
  ref: SegmentRef,
  opts: ScanOptions,
  budget: { metadataBytes: number },
  hint?: { bytes: number },
  scanVia?: (source: Source) => Source,
): Promise<Part> {
  const source = await opts.open(ref.url);
  const end = ref.range ? ref.range.end + 1 : source.size;
  if (ref.range && (ref.range.start > ref.range.end || end > source.size)) {
    throw new VvfError(
      'MANIFEST_INVALID',
      `byte range ${ref.range.start}-${ref.range.end} lies outside ${source.size}-byte ${ref.url}`,
      {
        source: source.key,
      },
    );
  }
  const start = ref.range?.start ?? 0;
  const scan = await namingFormat(
    scanMp4(scanVia ? scanVia(source) : source, opts.limits, budget, { start, end }, hint),
    source,
    start,
    ref.url,
    opts.nameFormat ?? unknownFormatError,
  );
  return [source, scan, end];
}

/** A URL's file name, for messages: `seg1.ts` of `https://cdn/x/seg1.ts?token=…`. */
export function urlFileName(url: string): string {
  return basename((url.split(/[?#]/)[0] ?? url).replace(/^[a-z][a-z0-9+.-]*:\/\/[^/]*/i, '')) || url;
}

/**
 * A segment whose very first box is malformed may not be MP4 at all (a manifest of
 * MPEG-TS or WebM segments): then the error names what it is instead of the box.
 * Only on that error path is the head read again.
 */
async function namingFormat<T>(scanning: Promise<T>, source: Source, start: number, url: string, name: NameFormat): Promise<T> {
  try {
    return await scanning;
  } catch (e) {
    if (!(e instanceof VvfError) || !e.code.startsWith('BOX_') || e.offset !== start) throw e;
    const head = await source.read(start, Math.min(source.size - start, SNIFF_BYTES)).catch(() => undefined);
    const found = head ? sniffInput(head, source.size - start) : undefined;
    if (!found || found.kind === 'mp4') throw e;
    throw name(found, `segment ${urlFileName(url)}`, source.key);
  }
}

/** Below this average size, segments that are byte ranges of one file are scanned through a ReadAheadSource. */
const SMALL_SEGMENT = 128 * 1024;

/** Whether the segments are small byte ranges (of one or a few files), worth reading ahead in blocks. */
export function smallSegments(segments: readonly SegmentRef[]): boolean {
  let bytes = 0;
  let ranged = 0;
  for (const s of segments) {
    if (!s.range) continue;
    ranged++;
    bytes += s.range.end + 1 - s.range.start;
  }
  return ranged > 1 && ranged === segments.length && bytes / ranged < SMALL_SEGMENT;
}

/** One ReadAheadSource per underlying source, for the scans of one representation. */
export function readAheadFor(): (source: Source) => Source {
  const views = new Map<Source, ReadAheadSource>();
  return (source) => {
    let v = views.get(source);
    if (!v) {
      v = new ReadAheadSource(source);
      views.set(source, v);
    }
    return v;
  };
}

/** Maps with at most `limit` calls in flight, results in input order. */
export async function mapInOrder<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/**
 * Adds a rendition's init segment (its moov, already found) to the movie being built; the
 * first one also says where the movie's moov lies and gives the movie its brands.
 */
export function addInitSegment(
  builder: MovieBuilder,
  layout: MovieLayout,
  source: Source,
  moov: ContainerNode,
  ftyp: Mp4Scan['ftyp'],
  renditionId: string,
): InitContext {
  if (layout.moovOffset < 0) {
    layout.moovOffset = moov.header.start;
    layout.moovSize = moov.header.size;
    if (ftyp) {
      builder.majorBrand = ftyp.majorBrand;
      builder.compatibleBrands = ftyp.compatibleBrands;
    }
  }
  return builder.addInit(moov, builder.addSource(source), renditionId);
}
