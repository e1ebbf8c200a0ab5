// PresentationFiles: the parts of a compiled fragmented presentation (init segments, media segments, single files) as slices of its package file.
import { encodeSidx, STYP_BYTES } from '../compose/fragmented-boxes.js';
import { writeMediaPlaylist, writeMultivariantPlaylist } from '../compose/hls-writer.js';
import { writeMpd } from '../compose/mpd-writer.js';
import { PACKAGE_HEADER_BYTES, PRESENTATION_FORMAT, packageIndexSpan, parsePackageIndex } from '../compose/presentation.js';
import type { PresentationIndex, PresentedTrack } from '../compose/presentation-index.js';
import { resolvePresentationPath } from '../compose/presentation-paths.js';
import { VvfError } from '../errors.js';
import { type SidxBox, type SidxReference, sidxCodec } from '../isobmff/boxes/sidx.js';
import { leaf, parseBoxTree } from '../isobmff/tree.js';
import { VirtualFile } from './virtual-file.js';

/** Whether a virtual file is a compiled presentation (a package), not a file to serve whole. */
export function isPresentationFile(file: VirtualFile): boolean {
  return file.format === PRESENTATION_FORMAT;
}

const opened = new WeakMap<VirtualFile, Promise<PresentationFiles>>();

/**
 * The parts of a compiled presentation, read from its package file. The index is held
 * bytes (no source is read); it is parsed once per package file.
 */
export function presentationFiles(file: VirtualFile): Promise<PresentationFiles> {
  let p = opened.get(file);
  if (p === undefined) {
    p = PresentationFiles.open(file);
    opened.set(file, p);
    p.catch(() => opened.delete(file));
  }
  return p;
}

/**
 * A compiled presentation's parts as virtual files. Each is a slice of the package (see
 * `compose/presentation.ts`): it reads through the package's sources and closes none of
 * them, so a part may be made per request and dropped.
 */
export class PresentationFiles {
  private readonly byId: Map<string, PresentedTrack>;
  private readonly references = new Map<string, SidxReference[]>();
  /** Manifests and playlists made so far, by name: a long presentation's MPD costs milliseconds to write. */
  private readonly texts = new Map<string, VirtualFile>();

  private constructor(
    readonly file: VirtualFile,
    readonly index: PresentationIndex,
  ) {
    this.byId = new Map(index.tracks.map((t) => [t.id, t]));
  }

  static async open(file: VirtualFile): Promise<PresentationFiles> {
    if (!isPresentationFile(file)) throw new VvfError('USAGE', 'not a compiled presentation');
    const span = packageIndexSpan(await file.read(0, PACKAGE_HEADER_BYTES));
    if (!(span.offset >= PACKAGE_HEADER_BYTES && span.offset + span.length <= file.size)) {
      throw new VvfError('MEDIA_INCONSISTENT', 'presentation index lies outside its package');
    }
    const index = parsePackageIndex(await file.read(span.offset, span.length));
    for (const t of index.tracks) {
      if (!(t.offset >= PACKAGE_HEADER_BYTES && t.offset + t.size <= span.offset) || t.segments.length < 2) {
        throw new VvfError('MEDIA_INCONSISTENT', `presentation track ${t.id} lies outside its package`);
      }
    }
    return new PresentationFiles(file, index);
  }

  /**
   * The part `path` names, relative to the presentation's directory as its manifests name
   * parts (`manifest.mpd`, `manifest.m3u8`, `v1.m3u8`, `v1/init.mp4`, `v1/3.m4s`, `v1.mp4`);
   * undefined when it names nothing (or a manifest the layout does not offer).
   */
  async part(path: string): Promise<VirtualFile | undefined> {
    const named = resolvePresentationPath(this.index, path);
    if (named === undefined) return undefined;
    switch (named.kind) {
      case 'init':
        return this.initFile(named.track.id);
      case 'single':
        return this.singleFile(named.track.id);
      case 'segment':
        return this.segmentFile(named.track.id, named.segment + 1);
      case 'mpd':
        return this.text(path, DASH_TYPE, () => writeMpd(this.index, named.form));
      case 'multivariant':
        return this.text(path, HLS_TYPE, () => writeMultivariantPlaylist(this.index, named.form));
      case 'playlist':
        return this.text(path, HLS_TYPE, () => writeMediaPlaylist(this.index, named.track.id, named.form));
    }
  }

  private text(name: string, contentType: string, write: () => string): VirtualFile {
    let file = this.texts.get(name);
    if (file === undefined) {
      file = textFile(write(), contentType, `${this.file.format}/${name}`);
      this.texts.set(name, file);
    }
    return file;
  }

  /** Track `id`; NOT_FOUND names the ones there are. */
  track(id: string): PresentedTrack {
    const t = this.byId.get(id);
    if (!t) {
      throw new VvfError('NOT_FOUND', `no rendition ${id} (renditions: ${[...this.byId.keys()].join(', ')})`);
    }
    return t;
  }

  /** Number of media segments of track `id`. */
  segmentCount(id: string): number {
    return this.track(id).segments.length - 1;
  }

  /** The track's init segment: ftyp and moov. */
  initFile(id: string): VirtualFile {
    const t = this.track(id);
    return this.file.slice(t.offset + t.init[0], t.offset + t.init[1], { contentType: contentTypeOf(t) });
  }

  /** The whole track as one file: init, one sidx, every segment (DASH on-demand, HLS byte ranges). */
  singleFile(id: string): VirtualFile {
    const t = this.track(id);
    return this.file.slice(t.offset, t.offset + t.size, { contentType: contentTypeOf(t) });
  }

  /**
   * Media segment `n` (1-based, as segment URLs number them) of track `id`: a styp, a sidx
   * of its own reference, then its moof and mdat as they are in the single file.
   */
  async segmentFile(id: string, n: number): Promise<VirtualFile> {
    const t = this.track(id);
    const count = t.segments.length - 1;
    if (!Number.isInteger(n) || n < 1 || n > count) {
      throw new VvfError('NOT_FOUND', `rendition ${id} has segments 1 to ${count}, not ${n}`);
    }
    const reference = (await this.sidxReferences(t))[n - 1];
    if (!reference) throw new VvfError('MEDIA_INCONSISTENT', `rendition ${id}: the sidx has no segment ${n}`);
    const sidx = encodeSidx(t.timescale, t.times[n - 1] as number, [reference]);
    const prefix = new Uint8Array(STYP_BYTES.length + sidx.length);
    prefix.set(STYP_BYTES, 0);
    prefix.set(sidx, STYP_BYTES.length);
    const start = t.offset + (t.segments[n - 1] as number);
    const end = t.offset + (t.segments[n] as number);
    return this.file.slice(start, end, { prefix, contentType: contentTypeOf(t) });
  }

  /** The references of the track's sidx (held bytes of the package), parsed once. */
  private async sidxReferences(t: PresentedTrack): Promise<SidxReference[]> {
    let refs = this.references.get(t.id);
    if (refs) return refs;
    const at = t.offset + t.index[0];
    const bytes = await this.file.read(at, t.index[1] - t.index[0]);
    const sidx: SidxBox | undefined = leaf(
      parseBoxTree(bytes, at, '', { limits: { maxBoxes: 2, maxDepth: 1 } }),
      'sidx',
      sidxCodec,
    );
    if (!sidx || sidx.references.length !== t.segments.length - 1) {
      throw new VvfError('MEDIA_INCONSISTENT', `rendition ${t.id}: its sidx does not index its segments`);
    }
    refs = sidx.references;
    this.references.set(t.id, refs);
    return refs;
  }
}

/** RFC 8216 section 4 and ISO/IEC 23009-1 Annex C media types. */
const HLS_TYPE = 'application/vnd.apple.mpegurl';
const DASH_TYPE = 'application/dash+xml';

function contentTypeOf(t: PresentedTrack): string {
  return t.kind === 'audio' ? 'audio/mp4' : t.kind === 'text' ? 'application/mp4' : 'video/mp4';
}

/** A file of text made here (a manifest or playlist): held bytes only, its etag from its content. */
export function textFile(text: string, contentType: string, format: string): VirtualFile {
  const bytes = new TextEncoder().encode(text);
  return new VirtualFile(
    {
      format,
      contentType,
      bytes,
      ends: new Float64Array(bytes.length > 0 ? [bytes.length] : []),
      sourceIndex: new Int32Array(bytes.length > 0 ? [-1] : []),
      offsets: new Float64Array(bytes.length > 0 ? [0] : []),
      sources: [],
    },
    () => Promise.reject(new VvfError('BUG', 'a text file has no sources')),
  );
}
