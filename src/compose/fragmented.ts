// FragmentedPresentation: a composition as fragmented MP4, one track per output — init and media segments, or one file with a sidx — laid out on request.
import { VvfError } from '../errors.js';
import type { Composition, OutputTrack } from './composition.js';
import { type FragmentBoxes, fragmentBoxes, initSegmentBytes, STYP_BYTES, sidxBytes } from './fragmented-boxes.js';
import { DEFAULT_SEGMENT_SECONDS, planSegments, presentationOrigin, type SegmentPlan } from './fragmented-plan.js';
import { type FileLayout, LayoutBuilder } from './layout.js';
import type { TimeValue } from './recipe.js';

/** Identifies the layouts in etags: bump when the bytes vvf writes for the same input change. */
export const FRAGMENTED_FORMAT = 'mp4-fragmented-2';

/** Options of {@link FragmentedPresentation}. */
export interface FragmentedOptions {
  /** Target segment duration in seconds (default 4): segments start at the first keyframe at or after each multiple. */
  segmentSeconds?: TimeValue;
}

/** A half-open byte range `[start, end)` of a file. */
export interface ByteRange {
  start: number;
  end: number;
}

/** Where the parts of a track's single file are (see {@link FragmentedTrack.singleFileRanges}). */
export interface SingleFileRanges {
  init: ByteRange;
  index: ByteRange;
  segments: Float64Array;
}

/** What a face turns a layout into (a VirtualFile over the composition's sources, usually). */
export type FileMaker<F> = (layout: FileLayout) => F;

/**
 * One output track of a fragmented presentation: its segment plan, and its init segment,
 * media segments and single file laid out on request. Each call builds the layout anew
 * from the composition's sample table: nothing but the plan is kept.
 */
export class FragmentedTrack<F = FileLayout> {
  constructor(
    readonly track: OutputTrack,
    readonly plan: SegmentPlan,
    private readonly composition: Composition,
    private readonly makeFile: FileMaker<F>,
  ) {}

  /** Number of media segments. */
  get segmentCount(): number {
    return this.plan.count;
  }

  /** The init segment: ftyp and moov (mvex, no samples). */
  initLayout(): FileLayout {
    const b = new LayoutBuilder(this.composition.sources);
    b.addBytes(initSegmentBytes(this.track, this.composition.timescale));
    return b.finish(FRAGMENTED_FORMAT, this.contentType);
  }

  /**
   * Media segment `i` (0-based): styp, a sidx with one reference, moof (sequence number
   * i + 1), and mdat whose samples are runs of the sources' bytes.
   */
  segmentLayout(i: number): FileLayout {
    checkIndex(i, this.plan.count);
    const first = this.plan.starts[i] as number;
    const end = this.plan.starts[i + 1] as number;
    const frag = fragmentBoxes(this.track, first, end, i + 1);
    const b = new LayoutBuilder(this.composition.sources);
    b.addBytes(STYP_BYTES);
    b.addBytes(sidxBytes(this.track, this.plan, [frag.size], i, i + 1));
    b.addBytes(frag.bytes);
    this.addSamples(b, first, end);
    return b.finish(FRAGMENTED_FORMAT, this.contentType);
  }

  /**
   * The whole track as one file (DASH on-demand profile): the init segment, one sidx
   * indexing every segment, then each segment's moof and mdat (no styp). Laid out at
   * once, like a progressive file: its size is exact before a byte is read.
   */
  singleFileLayout(): FileLayout {
    return this.singleFileWithRanges().layout;
  }

  /**
   * Where the single file's parts are, as half-open byte ranges: the init segment (ftyp +
   * moov: DASH Initialization@range, HLS EXT-X-MAP), the sidx (SegmentBase@indexRange), and
   * each segment's moof + mdat (HLS EXT-X-BYTERANGE): segment i is `[segments[i], segments[i+1])`.
   * Makes every moof, as laying out the single file does.
   */
  singleFileRanges(): SingleFileRanges {
    return this.singleFileWithRanges(false).ranges;
  }

  /** The single file's layout (unless `withLayout` is false) and where its parts are, from one pass over the moofs. */
  singleFileWithRanges(withLayout = true): { layout: FileLayout; ranges: SingleFileRanges } {
    const frags = this.fragments();
    const b = new LayoutBuilder(withLayout ? this.composition.sources : []);
    const init = initSegmentBytes(this.track, this.composition.timescale);
    const sizes = frags.map((f) => f.size);
    const index = sidxBytes(this.track, this.plan, sizes, 0, this.plan.count);
    const segments = new Float64Array(this.plan.count + 1);
    segments[0] = init.length + index.length;
    sizes.forEach((size, i) => {
      segments[i + 1] = (segments[i] as number) + size;
    });
    if (withLayout) {
      b.addBytes(init);
      b.addBytes(index);
      frags.forEach((f, i) => {
        b.addBytes(f.bytes);
        this.addSamples(b, this.plan.starts[i] as number, this.plan.starts[i + 1] as number);
      });
    }
    return {
      layout: b.finish(FRAGMENTED_FORMAT, this.contentType),
      ranges: {
        init: { start: 0, end: init.length },
        index: { start: init.length, end: init.length + index.length },
        segments,
      },
    };
  }

  /** Every segment's moof and mdat header, in order. */
  private fragments(): FragmentBoxes[] {
    const frags: FragmentBoxes[] = [];
    for (let i = 0; i < this.plan.count; i++) {
      frags.push(fragmentBoxes(this.track, this.plan.starts[i] as number, this.plan.starts[i + 1] as number, i + 1));
    }
    return frags;
  }

  initFile(): F {
    return this.makeFile(this.initLayout());
  }

  segmentFile(i: number): F {
    return this.makeFile(this.segmentLayout(i));
  }

  singleFile(): F {
    return this.makeFile(this.singleFileLayout());
  }

  get contentType(): string {
    return this.track.template.kind === 'audio' ? 'audio/mp4' : 'video/mp4';
  }

  private addSamples(b: LayoutBuilder, first: number, end: number): void {
    const s = this.track.samples;
    const prefixes = this.track.prefixes;
    for (let i = first; i < end; i++) {
      const prefix = prefixes.get(i);
      if (prefix) b.addBytes(prefix);
      b.addSourceRange(s.sourceIndex[i] as number, s.offset[i] as number, (s.size[i] as number) - (prefix?.length ?? 0));
    }
  }
}

function checkIndex(i: number, count: number): void {
  if (!Number.isInteger(i) || i < 0 || i >= count) {
    throw new VvfError('USAGE', `segment ${i} out of range (${count} segments)`);
  }
}

/**
 * A track as fragmented output carries it. A video track whose presentation starts after its
 * first decode time (the B-frame delay) gets its composition offsets lowered by that much,
 * negative where need be (trun version 1, as CMAF does), and no edit list: its first frame is
 * presented at its first decode time, so no player needs an offset for it. An edit list in
 * the init and the MPD's @presentationTimeOffset would both be applied by DASH players on
 * Chromium (its MSE applies the init's edit list), shifting every sample twice: dash.js and
 * Shaka then skip the first GOP. Other tracks keep their timing and their edit list (AAC
 * priming), with an offset of 0 in the manifest. Edits inside the presentation (joined
 * clips' hidden lead-ins) are not carried for video: fragmented players do not apply them.
 */
export function fragmentedView(t: OutputTrack): OutputTrack {
  const s = t.samples;
  if (s.count === 0 || t.template.kind !== 'video') return t;
  const shift = presentationOrigin(t) - (s.decodeTime[0] as number);
  if (shift <= 0) return t;
  const compositionOffset = new Int32Array(s.count);
  for (let i = 0; i < s.count; i++) compositionOffset[i] = (s.compositionOffset[i] as number) - shift;
  return {
    ...t,
    samples: { ...s, compositionOffset },
    edits: t.edits?.map((e) => (e.mediaTime === -1 ? e : { ...e, mediaTime: e.mediaTime - shift })) ?? null,
  };
}

/**
 * A composition as a fragmented presentation, one {@link FragmentedTrack} per output
 * track. Compiling plans the segments only (a few numbers per segment); init and media
 * segments are laid out when asked for, and `makeFile` turns each layout into what the
 * caller serves (a VirtualFile over `composition.sources`).
 */
export class FragmentedPresentation<F = FileLayout> {
  readonly tracks: FragmentedTrack<F>[];

  constructor(
    readonly composition: Composition,
    makeFile: FileMaker<F>,
    opts: FragmentedOptions = {},
  ) {
    const seconds = opts.segmentSeconds ?? DEFAULT_SEGMENT_SECONDS;
    this.tracks = composition.tracks.map((track) => {
      const t = fragmentedView(track);
      return new FragmentedTrack(t, planSegments(t, seconds), composition, makeFile);
    });
  }
}

/** A presentation whose files are the layouts themselves. */
export function layoutFragmented(c: Composition, opts: FragmentedOptions = {}): FragmentedPresentation<FileLayout> {
  return new FragmentedPresentation(c, (l) => l, opts);
}
