// What an input is, told from its first bytes: MP4, DASH manifests and HLS playlists are read;
// the rest gets one line saying what it is instead of a box error about its bytes.
import { VvfError } from '../errors.js';

/** Kinds of input told apart by {@link sniffInput}. */
export type InputKind = 'mp4' | 'xml' | 'empty' | 'hls' | 'mpeg-ts' | 'matroska' | 'mpeg-audio' | 'html' | 'text' | 'unknown';

/** What {@link sniffInput} found: the kind, and for some kinds a few words more. */
export interface Sniffed {
  kind: InputKind;
  /** E.g. "media playlist, MPEG-TS segments", "WebM", "ADTS AAC"; an unknown input's first bytes in hex. */
  detail?: string;
}

/** Bytes of the head that {@link sniffInput} wants: a playlist's first segment lines, three TS packets. */
export const SNIFF_BYTES = 4096;

/**
 * Box types that may open an MP4 (or a segment of one). A file starting with one of
 * these is handed to the box parser even when its size is wrong, so that a damaged
 * MP4 gets the parser's precise error rather than "unknown format".
 */
const MP4_FIRST_TYPES: ReadonlySet<string> = new Set([
  'ftyp',
  'styp',
  'moov',
  'moof',
  'mdat',
  'free',
  'skip',
  'wide',
  'uuid',
  'sidx',
  'pdin',
  'meta',
  'mfra',
  'emsg',
  'prft',
  'jP  ',
]);

const TYPE_CHARS = /^[\x20-\x7e\xa9]{4}$/;

/**
 * Tells what an input is from its first bytes (`head`, ideally SNIFF_BYTES of them) and
 * its size. Specific signatures are checked first, then MP4's box structure, then
 * whether it is text at all.
 */
export function sniffInput(head: Uint8Array, size: number): Sniffed {
  if (size === 0) return { kind: 'empty' };
  if (head.length >= 8 && MP4_FIRST_TYPES.has(latin1(head.subarray(4, 8)))) return { kind: 'mp4' };
  const b = (i: number) => head[i] ?? -1;
  // UTF-8 byte order mark and leading whitespace, for the text formats.
  let t = b(0) === 0xef && b(1) === 0xbb && b(2) === 0xbf ? 3 : 0;
  while (t < head.length && isSpace(b(t))) t++;
  const text = latin1(head.subarray(t, Math.min(head.length, t + 64)));

  if (text.startsWith('#EXTM3U')) return { kind: 'hls', detail: describePlaylist(head) };
  if (b(0) === 0x1a && b(1) === 0x45 && b(2) === 0xdf && b(3) === 0xa3) {
    // The EBML header's DocType comes within its first few dozen bytes.
    return { kind: 'matroska', detail: latin1(head.subarray(0, 64)).includes('webm') ? 'WebM' : 'Matroska' };
  }
  if (tsPackets(head, size, 0, 188)) return { kind: 'mpeg-ts' };
  if (tsPackets(head, size, 4, 192)) return { kind: 'mpeg-ts', detail: 'M2TS, 192-byte packets' };
  if (b(0) === 0x49 && b(1) === 0x44 && b(2) === 0x33) {
    // ID3v2: a syncsafe size, then the audio frames.
    const tag = 10 + ((b(6) & 0x7f) << 21) + ((b(7) & 0x7f) << 14) + ((b(8) & 0x7f) << 7) + (b(9) & 0x7f);
    return { kind: 'mpeg-audio', detail: audioFrame(b(tag), b(tag + 1)) ?? 'ID3 tag' };
  }
  // A frame sync at the very start: no MP4 begins with 0xFF (a first box of 4 GiB).
  const frame = audioFrame(b(0), b(1));
  if (frame) return { kind: 'mpeg-audio', detail: frame };
  if (text[0] === '<') {
    return /^<(!doctype\s+html|html[\s>]|head[\s>]|body[\s>])/i.test(text) ? { kind: 'html' } : { kind: 'xml' };
  }
  if (looksLikeMp4(head, size)) return { kind: 'mp4' };
  if (isText(head)) return { kind: 'text' };
  return {
    kind: 'unknown',
    detail: Buffer.from(head.subarray(0, 8))
      .toString('hex')
      .replace(/(..)(?!$)/g, '$1 '),
  };
}

/** The error for an input that is not one vvf reads; `name` is how to call it (a file name). */
export function unknownFormatError(found: Sniffed, name: string, source: string): VvfError {
  const what = found.detail ? ` (${found.detail})` : '';
  const instead = 'give vvf an MP4 file, a DASH manifest (.mpd) or an HLS playlist of fMP4 segments (.m3u8)';
  const say = (text: string) => new VvfError('UNKNOWN_FORMAT', `${name} ${text}`, { source });
  switch (found.kind) {
    case 'empty':
      return say('is empty (0 bytes)');
    case 'hls':
      // Playlists are read where a playlist may be given; here one stands where media should.
      return say(`is an HLS playlist${what}, not MP4 media`);
    case 'mpeg-ts':
      return say(`is an MPEG transport stream${what}; not supported as input yet: ${instead} (ffmpeg -c copy remuxes it)`);
    case 'matroska':
      return say(`is a Matroska file${what}; not supported as input yet: ${instead} (ffmpeg -c copy remuxes it)`);
    case 'mpeg-audio':
      return say(`is raw MPEG audio${what}, not in MP4; not supported as input yet: ${instead}`);
    case 'html':
      return say('is an HTML page, not a video (an error page, or a page that links to the video?)');
    case 'text':
      return say(`is a text file, not a video: ${instead}`);
    default:
      return say(
        `is not an MP4 file, a DASH manifest or an HLS playlist (its first bytes are ${found.detail ?? '?'}): ${instead}`,
      );
  }
}

/** Whether the first box header is one a parser should see: a known type, or a printable one of a size that fits. */
function looksLikeMp4(head: Uint8Array, size: number): boolean {
  if (head.length < 8) return false;
  const type = latin1(head.subarray(4, 8));
  if (MP4_FIRST_TYPES.has(type)) return true;
  if (!TYPE_CHARS.test(type)) return false;
  const size32 = Buffer.from(head).readUInt32BE(0);
  return size32 === 0 || size32 === 1 || (size32 >= 8 && size32 <= size);
}

/** Sync bytes (0x47) at `first` and every `stride` bytes after, as far as the head and the file go (at least two). */
function tsPackets(head: Uint8Array, size: number, first: number, stride: number): boolean {
  let seen = 0;
  for (let at = first; at < head.length && at < size && seen < 4; at += stride) {
    if (head[at] !== 0x47) return false;
    seen++;
  }
  // A lone packet counts only when the file is exactly one packet long.
  return seen >= 2 || (seen === 1 && size === first + stride);
}

/** An MPEG audio frame header's first two bytes: "ADTS AAC", "MP3" (layer III), "MPEG audio layer I/II", or undefined. */
function audioFrame(b0: number, b1: number): string | undefined {
  if (b0 !== 0xff || (b1 & 0xe0) !== 0xe0) return undefined;
  const layer = (b1 >> 1) & 3;
  const version = (b1 >> 3) & 3;
  if ((b1 & 0xf0) === 0xf0 && layer === 0) return 'ADTS AAC';
  if (version === 1 || layer === 0) return undefined; // reserved values
  return layer === 1 ? 'MP3' : `MPEG audio layer ${layer === 3 ? 'I' : 'II'}`;
}

/** A playlist's variety and, when cheap to tell, its segments' format. */
function describePlaylist(head: Uint8Array): string {
  const lines = new TextDecoder().decode(head).split(/\r?\n/);
  if (lines.some((l) => l.startsWith('#EXT-X-STREAM-INF'))) return 'a multivariant playlist';
  if (lines.some((l) => l.startsWith('#EXT-X-MAP'))) return 'media playlist, fMP4 segments';
  const uri = lines.find((l) => l.trim() !== '' && !l.startsWith('#'))?.trim();
  if (uri) {
    const path = uri.split(/[?#]/)[0] ?? '';
    if (/\.ts$/i.test(path)) return 'media playlist, MPEG-TS segments';
    if (/\.(m4s|mp4|m4v|m4a|cmf[va])$/i.test(path)) return 'media playlist, fMP4 segments';
    if (/\.(aac|mp3)$/i.test(path)) return 'media playlist, raw audio segments';
  }
  return 'media playlist';
}

/** Text as far as the head shows: UTF-8 with no control characters but tab, newline and carriage return. */
function isText(head: Uint8Array): boolean {
  for (const c of head) if (c < 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) return false;
  // The head may end inside a multi-byte character: drop up to three bytes before decoding.
  for (let cut = 0; cut < 4 && cut <= head.length; cut++) {
    try {
      new TextDecoder('utf-8', { fatal: true }).decode(head.subarray(0, head.length - cut));
      return true;
    } catch {}
  }
  return false;
}

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

function latin1(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('latin1');
}
