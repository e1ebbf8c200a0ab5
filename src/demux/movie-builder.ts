import { VvfError } from '../errors.js';
import { mehdCodec } from '../isobmff/boxes/mehd.js';
import { mvhdCodec } from '../isobmff/boxes/mvhd.js';
import { trexCodec } from '../isobmff/boxes/trex.js';
import { type ContainerNode, childrenOf, containerChild, leaf, leaves, requireLeaf } from '../isobmff/tree.js';
import { type Limits, SAMPLE_TABLE_BYTES_PER_SAMPLE } from '../limits.js';
import type { Movie, MovieLayout, Track } from '../model/movie.js';
import { SampleTableBuilder } from '../model/sample-table.js';
import type { Source } from '../sources/source.js';
import { type FragmentTrackState, type MoofBytes, type MoofPlace, readMoofSamples } from './fragment-samples.js';
import { readStblSamples } from './stbl-samples.js';
import { readTrackHeader, type TrackHeader } from './track-header.js';

/** The tracks declared by one moov (a file's, or a DASH representation's init segment). */
export interface InitContext {
  tracks: Map<number, FragmentTrackState>;
  /** Moofs still to come for these tracks, when the reader knows (see expectMoofs). */
  expectedMoofs?: number;
  /** For a later init of the same tracks (see joinInit): what its states stand for. */
  joined?: Map<FragmentTrackState, JoinedTrack>;
}

/** A track of a later init, and the track it continues. */
interface JoinedTrack {
  /** The state of the first init's track: its samples, next decode time and fragment count. */
  base: FragmentTrackState;
  /** The later init's sample description i (1-based) is the track's description descriptions[i - 1]. */
  descriptions: number[];
}

interface PendingTrack {
  header: TrackHeader;
  editTimescale: number;
  state: FragmentTrackState;
  representationId?: string;
}

/**
 * Gathers tracks and samples from moov boxes and moof boxes, from one or many sources,
 * into one Movie. Track ids are renumbered 1..n when several inits are combined.
 */
export class MovieBuilder {
  readonly sources: Source[] = [];
  private readonly sourceIndexByKey = new Map<string, number>();
  private readonly pending: PendingTrack[] = [];
  private timescale = 0;
  private declaredDuration = 0;
  majorBrand = '';
  compatibleBrands: string[] = [];

  constructor(
    private readonly limits: Limits,
    private readonly input: string,
  ) {}

  /** Index of a source in the movie, adding it the first time. */
  addSource(source: Source): number {
    const known = this.sourceIndexByKey.get(source.key);
    if (known !== undefined) return known;
    const i = this.sources.push(source) - 1;
    this.sourceIndexByKey.set(source.key, i);
    return i;
  }

  /**
   * Declares the tracks of a moov, reading any samples its own sample tables hold.
   * `sourceIndex` is the source holding the stbl samples.
   */
  addInit(moov: ContainerNode, sourceIndex: number, representationId?: string): InitContext {
    const source = this.sources[sourceIndex];
    if (!source) throw new VvfError('BUG', `unknown source index ${sourceIndex}`);
    const mvhd = requireLeaf(moov, 'mvhd', mvhdCodec);
    if (mvhd.timescale === 0)
      throw new VvfError('MEDIA_INCONSISTENT', 'movie timescale is 0', { path: `${moov.path}/mvhd`, source: source.key });
    const mvex = containerChild(moov, 'mvex');
    if (this.timescale === 0) {
      this.timescale = mvhd.timescale;
      const mehd = mvex ? leaf(mvex, 'mehd', mehdCodec) : undefined;
      // Unknown durations read as -1; both are only lower bounds when fragments follow.
      this.declaredDuration = Math.max(0, mvhd.duration, mehd?.fragmentDuration ?? 0);
    }
    const trexes = mvex ? leaves(mvex, 'trex', trexCodec) : [];
    const context: InitContext = { tracks: new Map() };
    const traks = childrenOf(moov, 'trak');
    if (this.pending.length + traks.length > this.limits.maxTracks) {
      throw new VvfError('STRUCTURE_LIMIT', `more than ${this.limits.maxTracks} tracks (limit maxTracks)`, {
        path: moov.path,
        source: source.key,
      });
    }
    for (const trak of traks) {
      if (trak.kind !== 'container') continue;
      const header = readTrackHeader(trak, source.key);
      if (context.tracks.has(header.sourceTrackId)) {
        throw new VvfError('MEDIA_INCONSISTENT', `two tracks with id ${header.sourceTrackId}`, {
          path: trak.path,
          source: source.key,
        });
      }
      const samples = new SampleTableBuilder(this.limits.maxSamplesPerTrack, { path: trak.path, source: source.key });
      readStblSamples(header.stbl, samples, sourceIndex, source.size, source.key);
      const last = samples.count - 1;
      const state: FragmentTrackState = {
        trackId: header.sourceTrackId,
        trex: trexes.find((t) => t.trackId === header.sourceTrackId),
        samples,
        nextDecodeTime: last >= 0 ? (samples.decodeTime[last] ?? 0) + (samples.duration[last] ?? 0) : 0,
        fragments: 0,
      };
      context.tracks.set(header.sourceTrackId, state);
      this.checkMemory({ path: trak.path, source: source.key });
      const p: PendingTrack = { header, state, editTimescale: mvhd.timescale };
      if (representationId !== undefined) p.representationId = representationId;
      this.pending.push(p);
    }
    return context;
  }

  /**
   * A later initialization segment of the tracks `base` declared (an HLS EXT-X-MAP that
   * changes): the same tracks, in the same order, with the same handlers and timescales, but
   * maybe other sample descriptions (new parameter sets), track ids and trex defaults. Its
   * sample descriptions are added to the tracks' (an identical one is shared), and moofs read
   * with the returned context append to the same tracks. Edit lists and headers stay the first
   * init's: an edit list describes where presentation starts, which a later init cannot move.
   * Throws UNSUPPORTED when the tracks differ in what one track cannot carry.
   */
  joinInit(base: InitContext, moov: ContainerNode, sourceIndex: number): InitContext {
    const source = this.sources[sourceIndex];
    if (!source) throw new VvfError('BUG', `unknown source index ${sourceIndex}`);
    const traks = childrenOf(moov, 'trak').filter((t): t is ContainerNode => t.kind === 'container');
    const bases = [...base.tracks.values()];
    const where = { path: moov.path, source: source.key };
    if (traks.length !== bases.length) {
      throw new VvfError(
        'UNSUPPORTED',
        `a later initialization segment declares ${traks.length} tracks where the first declared ${bases.length}: a change of tracks within one stream is not supported`,
        where,
      );
    }
    const mvex = containerChild(moov, 'mvex');
    const trexes = mvex ? leaves(mvex, 'trex', trexCodec) : [];
    const context: InitContext = { tracks: new Map(), joined: new Map() };
    traks.forEach((trak, i) => {
      const baseState = bases[i]!;
      const pending = this.pending.find((p) => p.state === baseState);
      if (!pending) throw new VvfError('BUG', 'joinInit: the base context has a track the builder does not know');
      const header = readTrackHeader(trak, source.key);
      const first = pending.header;
      const differs =
        header.handler !== first.handler
          ? `handler ${header.handler} where it was ${first.handler}`
          : header.timescale !== first.timescale
            ? `timescale ${header.timescale} where it was ${first.timescale}`
            : undefined;
      if (differs) {
        throw new VvfError(
          'UNSUPPORTED',
          `a later initialization segment gives track ${i + 1} ${differs}: a change of track type or timescale within one stream is not supported`,
          { path: trak.path, source: source.key },
        );
      }
      const stbl = new SampleTableBuilder(1, { path: trak.path, source: source.key });
      readStblSamples(header.stbl, stbl, sourceIndex, source.size, source.key);
      if (stbl.count > 0) {
        throw new VvfError('UNSUPPORTED', 'a later initialization segment holds samples of its own', {
          path: trak.path,
          source: source.key,
        });
      }
      if (context.tracks.has(header.sourceTrackId)) {
        throw new VvfError('MEDIA_INCONSISTENT', `two tracks with id ${header.sourceTrackId}`, {
          path: trak.path,
          source: source.key,
        });
      }
      const descriptions = header.descriptions.map((d) => {
        const same = first.descriptions.findIndex((e) => Buffer.from(e.bytes).equals(d.bytes));
        return same >= 0 ? same + 1 : first.descriptions.push(d);
      });
      const state: FragmentTrackState = {
        trackId: header.sourceTrackId,
        trex: trexes.find((t) => t.trackId === header.sourceTrackId),
        samples: baseState.samples,
        nextDecodeTime: baseState.nextDecodeTime,
        fragments: baseState.fragments,
      };
      context.tracks.set(header.sourceTrackId, state);
      context.joined!.set(state, { base: baseState, descriptions });
    });
    return context;
  }

  /**
   * Says how many moofs will follow for these tracks, so that after the first one the
   * sample columns can be sized for all of them at once.
   */
  expectMoofs(context: InitContext, count: number): void {
    context.expectedMoofs = count;
  }

  /** Adds the samples of one moof. */
  addMoof(context: InitContext, moof: MoofBytes, place: MoofPlace): void {
    const joined = context.joined;
    const before = new Map<FragmentTrackState, number>();
    if (joined) {
      // A later init's states stand for the first init's tracks: carry the running values over.
      for (const [state, j] of joined) {
        state.nextDecodeTime = j.base.nextDecodeTime;
        state.fragments = j.base.fragments;
        before.set(state, state.samples.count);
      }
    }
    for (const state of context.tracks.values()) {
      if (state.fragments >= this.limits.maxFragments) {
        throw new VvfError('STRUCTURE_LIMIT', `more than ${this.limits.maxFragments} fragments (limit maxFragments)`, {
          source: place.source,
          offset: place.start,
        });
      }
    }
    readMoofSamples(moof, place, context.tracks, this.limits);
    if (joined) {
      for (const [state, j] of joined) {
        j.base.nextDecodeTime = state.nextDecodeTime;
        j.base.fragments = state.fragments;
        const s = state.samples;
        for (let k = before.get(state) ?? s.count; k < s.count; k++) {
          const index = j.descriptions[(s.descriptionIndex[k] ?? 0) - 1];
          if (index === undefined) {
            throw new VvfError('MEDIA_INCONSISTENT', `sample description ${s.descriptionIndex[k]} does not exist`, {
              source: place.source,
              offset: place.start,
            });
          }
          s.descriptionIndex[k] = index;
        }
      }
    }
    this.checkMemory({ source: place.source, offset: place.start });
    const expected = context.expectedMoofs ?? 0;
    for (const state of context.tracks.values()) {
      // Fragments of a track are alike: size for all of them, with slack for a short first one (audio priming).
      if (state.fragments === 1 && expected > 1) state.samples.expect(state.samples.count * expected * 1.1 + 16);
    }
  }

  /**
   * The sample tables built so far against the memory one compile may take (maxCompileBytes),
   * as they grow: a source alone cannot take more, whatever its other limits allow.
   */
  private checkMemory(where: { path?: string; source?: string; offset?: number }): void {
    let samples = 0;
    for (const p of this.pending) samples += p.state.samples.count;
    if (samples * SAMPLE_TABLE_BYTES_PER_SAMPLE > this.limits.maxCompileBytes) {
      throw new VvfError(
        'METADATA_LIMIT',
        `${samples} samples would take more than ${this.limits.maxCompileBytes} bytes of sample tables (limit maxCompileBytes)`,
        where,
      );
    }
  }

  finish(layout: MovieLayout): Movie {
    if (this.pending.length === 0) throw new VvfError('BOX_MISSING', 'the input declares no tracks', { source: this.input });
    const renumber = new Set(this.pending.map((p) => p.header.sourceTrackId)).size !== this.pending.length;
    const tracks: Track[] = this.pending.map((p, i) => {
      const { stbl: _stbl, ...header } = p.header;
      const samples = p.state.samples.finish();
      let duration = 0;
      for (let k = 0; k < samples.count; k++) duration += samples.duration[k] ?? 0;
      const track: Track = {
        ...header,
        id: renumber ? i + 1 : header.sourceTrackId,
        editTimescale: p.editTimescale,
        duration,
        samples,
      };
      if (p.representationId !== undefined) track.representationId = p.representationId;
      return track;
    });
    // The longest track, in the movie timescale, unless the file declares more (an edit
    // list may extend presentation past the samples).
    let duration = this.declaredDuration;
    for (const t of tracks) duration = Math.max(duration, Math.ceil((t.duration * this.timescale) / t.timescale));
    return {
      sources: this.sources,
      input: this.input,
      timescale: this.timescale,
      duration,
      majorBrand: this.majorBrand,
      compatibleBrands: this.compatibleBrands,
      tracks,
      layout,
    };
  }
}
