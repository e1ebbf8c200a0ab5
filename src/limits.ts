/** Caps on what an input may make vvf hold or do. Hostile input is normal input. */
export interface Limits {
  /** Samples per track. */
  maxSamplesPerTrack: number;
  /** Bytes of metadata (moov, moof, sidx, …) read from one source. */
  maxMetadataBytes: number;
  /** Boxes visited in one source's top level or one container. */
  maxBoxes: number;
  /** Box nesting depth. */
  maxDepth: number;
  /** Fragments (moof) per track. */
  maxFragments: number;
  /** Tracks per movie. */
  maxTracks: number;
  /** Segments in a DASH manifest representation. */
  maxSegments: number;
  /** Bytes of an MPD manifest. */
  maxManifestBytes: number;
}

/** Defaults sized for a multi-hour movie with many tracks. */
export const defaultLimits: Readonly<Limits> = Object.freeze({
  maxSamplesPerTrack: 20_000_000,
  maxMetadataBytes: 512 * 1024 * 1024,
  maxBoxes: 1_000_000,
  maxDepth: 32,
  maxFragments: 1_000_000,
  maxTracks: 256,
  maxSegments: 1_000_000,
  maxManifestBytes: 16 * 1024 * 1024,
});

export function resolveLimits(partial?: Partial<Limits>): Limits {
  return { ...defaultLimits, ...partial };
}
