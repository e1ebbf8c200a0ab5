import { VvfError } from '../errors.js';
import { isNonSync } from '../isobmff/boxes/sample-flags.js';
import {
  TFHD_BASE_DATA_OFFSET,
  TFHD_DEFAULT_BASE_IS_MOOF,
  TFHD_DEFAULT_DURATION,
  TFHD_DEFAULT_FLAGS,
  TFHD_DEFAULT_SIZE,
  TFHD_SAMPLE_DESCRIPTION_INDEX,
} from '../isobmff/boxes/tfhd.js';
import type { TrexBox } from '../isobmff/boxes/trex.js';
import {
  TRUN_DATA_OFFSET,
  TRUN_FIRST_SAMPLE_FLAGS,
  TRUN_SAMPLE_COMPOSITION_OFFSET,
  TRUN_SAMPLE_DURATION,
  TRUN_SAMPLE_FLAGS,
  TRUN_SAMPLE_SIZE,
} from '../isobmff/boxes/trun.js';
import { Cursor } from '../isobmff/cursor.js';
import { readBoxHeader, readFullBox } from '../isobmff/header.js';
import type { Limits } from '../limits.js';
import type { SampleTableBuilder } from '../model/sample-table.js';

/** What the fragment reader keeps per track between fragments. */
export interface FragmentTrackState {
  trackId: number;
  trex: TrexBox | undefined;
  samples: SampleTableBuilder;
  /** Decode time where the next fragment starts when it has no tfdt. */
  nextDecodeTime: number;
  fragments: number;
}

/** A moof as read from its source: its bytes (header included) and where they sit. */
export interface MoofBytes {
  /** Absolute offset of the moof's first byte. */
  start: number;
  bytes: Uint8Array;
  /** Box path for messages, such as `moof[12]`. */
  path: string;
}

/** Where the moof sits and which source holds it and its data. */
export interface MoofPlace {
  /** Absolute offset of the moof's first byte. */
  start: number;
  sourceIndex: number;
  /** End of the region sample data may come from (source size or segment end). */
  dataEnd: number;
  source: string;
}

// sample_depends_on == 1: the sample depends on others, so it is not a sync point either.
const DEPENDS_ON_OTHERS = 0x0100_0000;
const DEPENDS_ON_MASK = 0x0300_0000;

/** One child box of a traf: its payload as a cursor. */
interface Child {
  type: string;
  body: Cursor;
}

/**
 * Appends the samples of one moof to the tracks' tables, resolving every way a track
 * fragment can address its data: an explicit base_data_offset, default-base-is-moof,
 * or neither (the moof for the first traf, the end of the previous traf's data after).
 *
 * Works on the moof's bytes directly, with no box tree and no per-run arrays: an hour of
 * DASH is thousands of moofs and hundreds of thousands of samples, and this is the
 * inner loop of compiling it. Only mfhd-level structure it needs is parsed: traf, and in
 * it the first tfhd, the first tfdt and every trun; other boxes are skipped.
 */
export function readMoofSamples(
  moof: MoofBytes,
  place: MoofPlace,
  tracks: ReadonlyMap<number, FragmentTrackState>,
  limits: Pick<Limits, 'maxBoxes'>,
): void {
  const c = new Cursor(moof.bytes, moof.start, moof.path);
  const end = moof.start + moof.bytes.length;
  let boxes = 0;
  const count = (at: Cursor): void => {
    if (++boxes > limits.maxBoxes) {
      throw new VvfError('STRUCTURE_LIMIT', `more than ${limits.maxBoxes} boxes`, { path: at.path, offset: at.offset });
    }
  };
  let moofBody: Cursor;
  try {
    count(c);
    const h = readBoxHeader(c, end);
    moofBody = c.sub(h.size - h.headerSize, moof.path);
  } catch (e) {
    throw located(e, place);
  }
  let previousTrafEnd = place.start;
  let firstTraf = true;
  let trafOrdinal = 0;
  while (moofBody.remaining >= 8) {
    let traf: Child[];
    let trafPath: string;
    let trafStart: number;
    try {
      count(moofBody);
      trafStart = moofBody.offset;
      const from = moofBody.position;
      const h = readBoxHeader(moofBody, moofBody.endOffset);
      const body = moofBody.sub(h.size - (moofBody.position - from), moof.path);
      if (h.type !== 'traf') continue;
      trafPath = `${moof.path}/traf${trafOrdinal > 0 ? `[${trafOrdinal}]` : ''}`;
      trafOrdinal++;
      traf = [];
      while (body.remaining >= 8) {
        count(body);
        const at = body.position;
        const ch = readBoxHeader(body, body.endOffset);
        traf.push({ type: ch.type, body: body.sub(ch.size - (body.position - at), `${trafPath}/${ch.type}`) });
      }
    } catch (e) {
      throw located(e, place);
    }
    const tfhdBox = traf.find((b) => b.type === 'tfhd');
    if (!tfhdBox)
      throw new VvfError('BOX_MISSING', 'traf has no tfhd', { path: trafPath, offset: trafStart, source: place.source });
    const tfhd = parse(() => readTfhd(tfhdBox.body), place);
    const track = tracks.get(tfhd.trackId);
    if (!track) {
      throw new VvfError('MEDIA_INCONSISTENT', `traf refers to track ${tfhd.trackId}, which moov does not declare`, {
        path: trafPath,
        offset: trafStart,
        source: place.source,
      });
    }
    track.fragments++;
    const trex = track.trex;
    const base =
      tfhd.baseDataOffset !== undefined
        ? tfhd.baseDataOffset
        : (tfhd.boxFlags & TFHD_DEFAULT_BASE_IS_MOOF) !== 0 || firstTraf
          ? place.start
          : previousTrafEnd;
    firstTraf = false;
    const tfdtBox = traf.find((b) => b.type === 'tfdt');
    const decodeTime = tfdtBox ? parse(() => readTfdt(tfdtBox.body), place) : undefined;
    const run: RunState = {
      t: decodeTime ?? track.nextDecodeTime,
      next: base,
      base,
      descriptionIndex: tfhd.descriptionIndex ?? trex?.defaultSampleDescriptionIndex ?? 1,
      defaultDuration: tfhd.duration ?? trex?.defaultSampleDuration,
      defaultSize: tfhd.size ?? trex?.defaultSampleSize,
      defaultFlags: tfhd.flags ?? trex?.defaultSampleFlags ?? 0,
    };
    let trunIndex = 0;
    for (const child of traf) {
      if (child.type !== 'trun') continue;
      const where = { path: `${trafPath}/trun${trunIndex > 0 ? `[${trunIndex}]` : ''}`, offset: trafStart, source: place.source };
      trunIndex++;
      readTrun(child.body, run, track.samples, place, where);
    }
    track.nextDecodeTime = run.t;
    previousTrafEnd = run.next;
  }
}

/**
 * The fields of a tfhd the sample reader uses, in one fixed shape (tfhdCodec builds a
 * box for writing back; this runs once per fragment of every track).
 */
interface TfhdFields {
  boxFlags: number;
  trackId: number;
  baseDataOffset: number | undefined;
  descriptionIndex: number | undefined;
  duration: number | undefined;
  size: number | undefined;
  flags: number | undefined;
}

function readTfhd(c: Cursor): TfhdFields {
  const f = readFullBox(c).flags;
  const trackId = c.u32();
  return {
    boxFlags: f,
    trackId,
    baseDataOffset: f & TFHD_BASE_DATA_OFFSET ? c.u64() : undefined,
    descriptionIndex: f & TFHD_SAMPLE_DESCRIPTION_INDEX ? c.u32() : undefined,
    duration: f & TFHD_DEFAULT_DURATION ? c.u32() : undefined,
    size: f & TFHD_DEFAULT_SIZE ? c.u32() : undefined,
    flags: f & TFHD_DEFAULT_FLAGS ? c.u32() : undefined,
  };
}

/** baseMediaDecodeTime of a tfdt. */
function readTfdt(c: Cursor): number {
  const { version } = readFullBox(c);
  // The layout of other versions is unknown: refuse rather than guess.
  if (version > 1) throw c.error('UNSUPPORTED', `tfdt version ${version}`);
  return version === 1 ? c.u64() : c.u32();
}

/** Running position of a traf's samples across its truns. */
interface RunState {
  /** Decode time of the next sample. */
  t: number;
  /** Where the next run's data starts when it has no data_offset. */
  next: number;
  base: number;
  descriptionIndex: number;
  defaultDuration: number | undefined;
  defaultSize: number | undefined;
  defaultFlags: number;
}

type Where = { path: string; offset: number; source: string };

/** Reads one trun straight from its bytes into the track's columns. */
function readTrun(c: Cursor, run: RunState, s: SampleTableBuilder, place: MoofPlace, where: Where): void {
  let n: number;
  let dataOffset: number | undefined;
  let firstFlags: number | undefined;
  let f: number;
  let stride = 0;
  let entries: DataView;
  try {
    f = readFullBox(c).flags;
    n = c.u32();
    if (f & TRUN_DATA_OFFSET) dataOffset = c.i32();
    if (f & TRUN_FIRST_SAMPLE_FLAGS) firstFlags = c.u32();
    if (f & TRUN_SAMPLE_DURATION) stride += 4;
    if (f & TRUN_SAMPLE_SIZE) stride += 4;
    if (f & TRUN_SAMPLE_FLAGS) stride += 4;
    if (f & TRUN_SAMPLE_COMPOSITION_OFFSET) stride += 4;
    // Hostile counts fail here, before any allocation.
    if (stride > 0) c.checkCount(n, stride, 'trun samples');
    const raw = c.bytesView(n * stride);
    entries = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  } catch (e) {
    throw located(e, place);
  }
  if (n === 0) return;
  const hasDuration = (f & TRUN_SAMPLE_DURATION) !== 0;
  const hasSize = (f & TRUN_SAMPLE_SIZE) !== 0;
  const hasFlags = (f & TRUN_SAMPLE_FLAGS) !== 0;
  const hasCts = (f & TRUN_SAMPLE_COMPOSITION_OFFSET) !== 0;
  if (!hasDuration && run.defaultDuration === undefined)
    throw new VvfError('MEDIA_INCONSISTENT', 'no sample duration in trun, tfhd or trex', where);
  if (!hasSize && run.defaultSize === undefined)
    throw new VvfError('MEDIA_INCONSISTENT', 'no sample size in trun, tfhd or trex', where);
  let offset = dataOffset !== undefined ? run.base + dataOffset : run.next;
  const defaultSize = run.defaultSize ?? 0;
  const defaultDuration = run.defaultDuration ?? 0;
  // Without per-sample sizes the count costs no bytes in the trun: bound it by the data
  // the samples must fit in before allocating columns for them.
  if (!hasSize && n * Math.max(1, defaultSize) > place.dataEnd - offset) {
    throw new VvfError('MEDIA_INCONSISTENT', `trun claims ${n} samples of ${defaultSize} bytes past the end of the data`, where);
  }
  const first = s.reserve(n);
  const { sourceIndex, dataEnd } = place;
  const descriptionIndex = run.descriptionIndex;
  let t = run.t;
  let at = 0;
  for (let i = 0; i < n; i++) {
    let duration = defaultDuration;
    let size = defaultSize;
    let flags = run.defaultFlags;
    let cts = 0;
    if (hasDuration) {
      duration = entries.getUint32(at);
      at += 4;
    }
    if (hasSize) {
      size = entries.getUint32(at);
      at += 4;
    }
    if (hasFlags) {
      flags = entries.getUint32(at);
      at += 4;
    }
    // Read signed in every version, as ffmpeg does: some writers put negative values in version 0.
    if (hasCts) {
      cts = entries.getInt32(at);
      at += 4;
    }
    if (i === 0 && firstFlags !== undefined) flags = firstFlags;
    if (offset < 0 || offset + size > dataEnd) {
      throw new VvfError(
        'MEDIA_INCONSISTENT',
        `sample ${i + 1} of trun (${size} bytes at ${offset}) lies outside the data (ends at ${dataEnd})`,
        where,
      );
    }
    const k = first + i;
    s.sourceIndex[k] = sourceIndex;
    s.offset[k] = offset;
    s.size[k] = size;
    s.decodeTime[k] = t;
    s.duration[k] = duration;
    s.compositionOffset[k] = cts;
    s.sync[k] = isNonSync(flags) || (flags & DEPENDS_ON_MASK) === DEPENDS_ON_OTHERS ? 0 : 1;
    s.descriptionIndex[k] = descriptionIndex;
    offset += size;
    t += duration;
  }
  run.t = t;
  run.next = offset;
}

function parse<T>(fn: () => T, place: MoofPlace): T {
  try {
    return fn();
  } catch (e) {
    throw located(e, place);
  }
}

function located(e: unknown, place: MoofPlace): unknown {
  return e instanceof VvfError ? e.locate({ source: place.source }) : e;
}
