import { VvfError } from '../errors.js';
import type { EditEntry } from '../isobmff/boxes/elst.js';
import { elstCodec } from '../isobmff/boxes/elst.js';
import { hdlrCodec } from '../isobmff/boxes/hdlr.js';
import { mdhdCodec } from '../isobmff/boxes/mdhd.js';
import { type StsdBox, stsdCodec } from '../isobmff/boxes/stsd.js';
import { tkhdCodec } from '../isobmff/boxes/tkhd.js';
import { describeSampleEntry, type SampleEntryInfo } from '../isobmff/sample-entry.js';
import { type ContainerNode, containerChild, leaf, requireContainer, requireLeaf } from '../isobmff/tree.js';
import type { SampleDescription, Track, TrackKind } from '../model/movie.js';

/** A track's metadata, everything but its samples. */
export type TrackHeader = Omit<Track, 'samples' | 'duration' | 'editTimescale'> & { stbl: ContainerNode };

const KINDS: Record<string, TrackKind> = { vide: 'video', soun: 'audio', subt: 'text', text: 'text', sbtl: 'text', clcp: 'text' };

/** Reads tkhd, mdhd, hdlr, elst and stsd of a trak; refuses what vvf cannot carry. */
export function readTrackHeader(trak: ContainerNode, source: string): TrackHeader {
  const tkhd = requireLeaf(trak, 'tkhd', tkhdCodec);
  const mdia = requireContainer(trak, 'mdia');
  const mdhd = requireLeaf(mdia, 'mdhd', mdhdCodec);
  const hdlr = requireLeaf(mdia, 'hdlr', hdlrCodec);
  const minf = requireContainer(mdia, 'minf');
  const stbl = requireContainer(minf, 'stbl');
  if (mdhd.timescale === 0) {
    throw new VvfError('MEDIA_INCONSISTENT', 'track timescale is 0', { path: mdia.path, source });
  }
  const stsd = requireLeaf(stbl, 'stsd', stsdCodec);
  const stsdStart = stbl.children.find((n) => n.type === 'stsd')?.header.start ?? stbl.header.start;
  const infos = describeEntries(stsd, stsdStart, `${stbl.path}/stsd`, source);
  const first = infos[0];
  if (first === undefined) {
    throw new VvfError('BOX_MISSING', 'stsd has no sample entry', { path: `${stbl.path}/stsd`, source });
  }
  const edts = containerChild(trak, 'edts');
  const elst = edts ? leaf(edts, 'elst', elstCodec) : undefined;
  const editList: EditEntry[] | null = elst ? elst.entries.map((e) => ({ ...e })) : null;
  const descriptions: SampleDescription[] = infos.map((info, i) => ({
    bytes: stsd.entries[i] as Uint8Array,
    format: info.format,
    codec: info.codec,
  }));
  const header: TrackHeader = {
    id: tkhd.trackId,
    sourceTrackId: tkhd.trackId,
    kind: KINDS[hdlr.handlerType] ?? 'other',
    handler: hdlr.handlerType,
    timescale: mdhd.timescale,
    language: mdhd.language,
    codec: first.codec,
    descriptions,
    editList,
    tkhd,
    mdhd,
    hdlr,
    stbl,
  };
  const info = first;
  if (info.width !== undefined) header.width = info.width;
  if (info.height !== undefined) header.height = info.height;
  if (info.sampleRate !== undefined) header.sampleRate = info.sampleRate;
  if (info.channelCount !== undefined) header.channelCount = info.channelCount;
  return header;
}

function describeEntries(stsd: StsdBox, stsdStart: number, path: string, source: string): SampleEntryInfo[] {
  // Entries follow the 16-byte stsd header (box header, version/flags, entry_count).
  let at = stsdStart + 16;
  const out: SampleEntryInfo[] = [];
  stsd.entries.forEach((entry, i) => {
    const entryPath = `${path}/${i}`;
    let info: SampleEntryInfo;
    try {
      info = describeSampleEntry(entry, at, entryPath);
    } catch (e) {
      throw e instanceof VvfError ? e.locate({ source }) : e;
    }
    if (info.encrypted) {
      throw new VvfError(
        'UNSUPPORTED',
        `encrypted samples (${info.format}${info.originalFormat ? ` of ${info.originalFormat}` : ''}) are not supported`,
        { path: entryPath, offset: at, source },
      );
    }
    out.push(info);
    at += entry.length;
  });
  return out;
}
