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
   * Says how many moofs will follow for these tracks, so that after the first one the
   * sample columns can be sized for all of them at once.
   */
  expectMoofs(context: InitContext, count: number): void {
    context.expectedMoofs = count;
  }

  /** Adds the samples of one moof. */
  addMoof(context: InitContext, moof: MoofBytes, place: MoofPlace): void {
    for (const state of context.tracks.values()) {
      if (state.fragments >= this.limits.maxFragments) {
        throw new VvfError('STRUCTURE_LIMIT', `more than ${this.limits.maxFragments} fragments (limit maxFragments)`, {
          source: place.source,
          offset: place.start,
        });
      }
    }
    readMoofSamples(moof, place, context.tracks, this.limits);
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
