// PresentationIndex: what manifests and segment requests need to know of a compiled fragmented presentation, as plain JSON.

/** Which manifests a presentation offers: DASH (MPD), HLS (playlists), or both over the same segments (CMAF). */
export type PresentationLayout = 'dash' | 'hls' | 'cmaf';

/** A half-open byte range `[start, end)`, as a pair (JSON-friendly). */
export type Span = readonly [start: number, end: number];

/**
 * One rendition (one output track) of a presentation. All byte positions are relative to
 * the track's single file (init segment, one sidx, then each segment's moof + mdat); all
 * times are ticks of `timescale`.
 */
export interface PresentedTrack {
  /** Representation id / playlist name: `v1`, `v2`, `a1`, `t1` (kind letter + 1-based rank among its kind). */
  id: string;
  kind: 'video' | 'audio' | 'text';
  /** Adaptation set (DASH) / rendition group (HLS) it belongs to, 0-based index into {@link PresentationIndex.sets}. */
  set: number;
  /** RFC 6381 codec string (`avc1.64001f`, `mp4a.40.2`). */
  codec: string;
  /** Track timescale: the unit of every time below. */
  timescale: number;
  /** ISO 639-2/T language of the track (`und` when unknown). */
  language: string;
  /** Peak bits per second over any one segment (DASH `@bandwidth`, HLS `BANDWIDTH`). */
  bandwidth: number;
  /** Bits per second over the whole track (HLS `AVERAGE-BANDWIDTH`). */
  averageBandwidth: number;
  width?: number;
  height?: number;
  /** Frames per second as an exact fraction (`num/den`), video only. */
  frameRate?: { num: number; den: number };
  sampleRate?: number;
  channels?: number;
  /**
   * DASH `@presentationTimeOffset`: for video, its first decode time (its B-frame delay is in
   * its composition offsets, see `fragmentedView`); for other tracks 0, since their init's
   * edit list says where they start and players on MSE apply it. Times below are media times.
   */
  presentationTimeOffset: number;
  /** Where the track's single file lies in the compiled presentation's package file. */
  offset: number;
  /** Bytes of the track's single file. */
  size: number;
  /** The init segment (ftyp + moov) in the single file: DASH `Initialization@range`, HLS `EXT-X-MAP`. */
  init: Span;
  /** The sidx indexing every segment: DASH `SegmentBase@indexRange`. */
  index: Span;
  /**
   * Segment `i` is `[segments[i], segments[i + 1])` of the single file (moof + mdat; as a
   * separate file it is preceded by styp and a sidx of its own). `count + 1` entries.
   */
  segments: number[];
  /**
   * Earliest presentation time of each segment and, last, the end of the last presented
   * sample (`count + 1` entries): segment `i` presents `[times[i], times[i + 1])` — DASH
   * SegmentTimeline `S@t`/`@d`, HLS `EXTINF` (as seconds).
   */
  times: number[];
}

/** A group of interchangeable renditions: a DASH AdaptationSet, an HLS variant ladder or audio group. */
export interface PresentationSet {
  kind: 'video' | 'audio' | 'text';
  /** ISO 639-2/T language shared by the set's tracks (audio and text sets are split by language). */
  language: string;
  /** Ids of its tracks, best first (highest bandwidth). */
  tracks: string[];
  /** Whether every track of the set has the same segment boundaries (same count, same start times): DASH `segmentAlignment`. */
  aligned: boolean;
}

/** Everything the manifests and the segment routes of a presentation need, kept with its compiled form. */
export interface PresentationIndex {
  version: 1;
  layout: PresentationLayout;
  /** Target segment duration in seconds (what segments aim at; a long GOP makes a longer one). */
  segmentSeconds: number;
  /** Presentation duration in seconds (the longest track's presented time). */
  duration: number;
  sets: PresentationSet[];
  tracks: PresentedTrack[];
}
