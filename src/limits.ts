import { VvfError } from './errors.js';

/** Caps on what an input may make vvf hold or do. Hostile input is normal input. */
export interface Limits {
  /** Samples per track. */
  maxSamplesPerTrack: number;
  /** Bytes of metadata (moov, moof, sidx, …) read from one source. */
  maxMetadataBytes: number;
  /** Boxes visited in one source's top level or one container. */
  maxBoxes: number;
  /**
   * Boxes in one metadata box's tree (a moov or moof with everything inside it). A real moov
   * holds about 30 per track; a tree box costs a few hundred bytes of memory, so a moov of a
   * million 8-byte boxes would hold half a gigabyte for 8 MB of input.
   */
  maxTreeBoxes: number;
  /** Box nesting depth. */
  maxDepth: number;
  /** Fragments (moof) per track. */
  maxFragments: number;
  /** Tracks per movie: of a source, and of a composed file (checked on the recipe before anything is opened). */
  maxTracks: number;
  /** Segments in a DASH manifest representation. */
  maxSegments: number;
  /** Segments in a whole DASH manifest, every representation together (at most 4 × maxSegments); checked while parsing, before any segment is fetched. */
  maxManifestSegments: number;
  /** Bytes of an MPD manifest. */
  maxManifestBytes: number;
  /** Pieces of a recipe; checked before any source is opened. */
  maxPieces: number;
  /** Bytes of a composed file; checked on the composition, before it is laid out. */
  maxOutputBytes: number;
  /**
   * Bytes one compile may hold in sample tables (the sources' and the output's) and laid-out
   * extents: each is counted as it is built, and the compile stops at the budget.
   */
  maxCompileBytes: number;
}

/** Defaults sized for a multi-hour movie with many tracks. */
export const defaultLimits: Readonly<Limits> = Object.freeze({
  maxSamplesPerTrack: 20_000_000,
  maxMetadataBytes: 512 * 1024 * 1024,
  maxBoxes: 1_000_000,
  // 256 tracks of 30 boxes are under 8 000.
  maxTreeBoxes: 100_000,
  maxDepth: 32,
  maxFragments: 1_000_000,
  maxTracks: 256,
  // 2-second segments: 55 hours per representation; four such representations per manifest.
  maxSegments: 100_000,
  maxManifestSegments: 400_000,
  maxManifestBytes: 16 * 1024 * 1024,
  maxPieces: 5_000,
  maxOutputBytes: 2 ** 44,
  maxCompileBytes: 1024 * 1024 * 1024,
});

export function resolveLimits(partial?: Partial<Limits>): Limits {
  return { ...defaultLimits, ...partial };
}

/**
 * Memory one compile may take, counted as it is allocated (sample tables, extents): `charge`
 * before allocating, and the compile fails with METADATA_LIMIT at the budget instead of
 * growing until the process dies. Approximate by design: it counts the big columns, not
 * every object.
 */
export class MemoryBudget {
  private used = 0;

  constructor(readonly limit: number) {}

  /** Bytes counted so far. */
  get bytes(): number {
    return this.used;
  }

  /** Counts `bytes` more for `what`; throws METADATA_LIMIT when they pass the budget. */
  charge(bytes: number, what: string): void {
    this.used += bytes;
    if (this.used > this.limit) {
      throw new VvfError(
        'METADATA_LIMIT',
        `${what} would take the compile past its memory budget of ${this.limit} bytes (limit maxCompileBytes)`,
      );
    }
  }
}

/** Bytes a sample table holds per sample: source index, offset, size, decode time, composition offset, duration, sync, description, sdtp. */
export const SAMPLE_TABLE_BYTES_PER_SAMPLE = 4 + 8 + 4 + 8 + 4 + 4 + 1 + 4 + 1;
