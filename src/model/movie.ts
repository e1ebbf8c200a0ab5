import type { EditEntry } from '../isobmff/boxes/elst.js';
import type { HdlrBox } from '../isobmff/boxes/hdlr.js';
import type { MdhdBox } from '../isobmff/boxes/mdhd.js';
import type { TkhdBox } from '../isobmff/boxes/tkhd.js';
import type { Source } from '../sources/source.js';
import type { SampleTable } from './sample-table.js';

export type TrackKind = 'video' | 'audio' | 'text' | 'other';

/** One sample description (stsd entry) of a track. */
export interface SampleDescription {
  /** The entry's bytes, header included, exactly as in the source. */
  bytes: Uint8Array;
  format: string;
  /** RFC 6381 codec string. */
  codec: string;
}

/** A track of the model, whatever the input layout. Times are in `timescale` units. */
export interface Track {
  /** Track id in the movie (unique; for DASH inputs assigned in representation order). */
  id: number;
  /** Track id inside the source that held it. */
  sourceTrackId: number;
  kind: TrackKind;
  /** hdlr handler type: vide, soun, subt, text, … */
  handler: string;
  timescale: number;
  /** Media duration: the sum of sample durations, in `timescale`. */
  duration: number;
  /** ISO-639-2/T language code. */
  language: string;
  width?: number;
  height?: number;
  sampleRate?: number;
  channelCount?: number;
  /** Codec string of the first sample description. */
  codec: string;
  descriptions: SampleDescription[];
  /**
   * Edit list, null when the track has none: segment durations in `editTimescale` (the
   * source's movie timescale), media times in `timescale`.
   */
  editList: EditEntry[] | null;
  /** The timescale of the edit list's segment durations (the source's mvhd timescale). */
  editTimescale: number;
  /** The source's own header boxes, kept so output can carry their fields exactly. */
  tkhd: TkhdBox;
  mdhd: MdhdBox;
  hdlr: HdlrBox;
  /** For DASH inputs: the representation the track came from; for HLS inputs: the rendition's name. */
  representationId?: string;
  /** Average bitrate, bits per second, from sample sizes and duration. */
  samples: SampleTable;
}

/** How the input was laid out. */
export interface MovieLayout {
  kind: 'progressive' | 'fragmented' | 'segmented';
  /** Absolute offset of the moov box in the first source (init segment for DASH). */
  moovOffset: number;
  moovSize: number;
  /** Where moov sits relative to the first mdat: 'first' (fast start), 'last', or 'no-mdat'. */
  moovPosition: 'before-mdat' | 'after-mdat' | 'no-mdat';
  /** moof boxes seen (all tracks). */
  fragmentCount: number;
  sidxCount: number;
  hasMfra: boolean;
  /** For DASH inputs: segments across all representations. */
  segmentCount: number;
  /** Bytes of metadata (boxes other than mdat) read to build the model. */
  metadataBytes: number;
}

/** A layout before any box is read: the readers of fragmented and segmented inputs count into it. */
export function emptyLayout(kind: MovieLayout['kind']): MovieLayout {
  return {
    kind,
    moovOffset: -1,
    moovSize: 0,
    moovPosition: 'before-mdat',
    fragmentCount: 0,
    sidxCount: 0,
    hasMfra: false,
    segmentCount: 0,
    metadataBytes: 0,
  };
}

/** The one in-memory form of a movie. */
export interface Movie {
  /** Sources referenced by `SampleTable.sourceIndex`. */
  sources: Source[];
  /** What was opened: a path, URL or manifest. */
  input: string;
  /** Movie timescale (mvhd), the unit of edit-list segment durations. */
  timescale: number;
  /** Movie duration in `timescale`, from mvhd/mehd or the longest track. */
  duration: number;
  majorBrand: string;
  compatibleBrands: string[];
  tracks: Track[];
  layout: MovieLayout;
}
