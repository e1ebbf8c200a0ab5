// The encoding ladder: rungs by height with default bitrates per codec, parsed from `--ladder 1080p,720p@3000k`.
import { VvfError } from '../errors.js';

/** Codecs `vvf encode` drives, each with Debian's ffmpeg encoder for it. */
export type EncodeCodec = 'h264' | 'av1' | 'vp9';

/** One rendition to make: a height, a width kept to the source's aspect, a target bitrate. */
export interface Rung {
  /** `720p`: the name of its files and its rendition. */
  name: string;
  height: number;
  /** Set once the source's aspect is known ({@link sizeRungs}). */
  width: number;
  /** Bits per second the rung may not pass (the encoder's maxrate; its buffer is 2×); hardware encoders aim at it. */
  bitrate: number;
}

/** H.264 kilobits per second by height: what streaming ladders commonly use for 30 fps content. */
const H264_KBPS: Record<number, number> = {
  2160: 16000,
  1440: 9000,
  1080: 5000,
  720: 3000,
  540: 2000,
  480: 1500,
  360: 800,
  270: 500,
  240: 400,
  180: 300,
  144: 200,
};

/** Bits AV1 and VP9 need for about H.264's quality at the same size (rule of thumb). */
const CODEC_FACTOR: Record<EncodeCodec, number> = { h264: 1, vp9: 0.7, av1: 0.6 };

/** The ffmpeg encoder of each codec in Debian's build. */
export const ENCODERS: Record<EncodeCodec, string> = { h264: 'libx264', av1: 'libsvtav1', vp9: 'libvpx-vp9' };

/** The default ladder when `--ladder` is not given. */
export const DEFAULT_LADDER = '1080p,720p,480p,360p';

/** A default bitrate for any height: the table's, or scaled by pixel count from the nearest below. */
function defaultKbps(height: number, codec: EncodeCodec): number {
  let kbps = H264_KBPS[height];
  if (kbps === undefined) {
    const known = Object.keys(H264_KBPS)
      .map(Number)
      .sort((a, b) => a - b);
    const below = known.filter((h) => h <= height).pop() ?? known[0]!;
    kbps = H264_KBPS[below]! * (height / below) ** 2;
  }
  return Math.round(kbps * CODEC_FACTOR[codec]);
}

/**
 * Parses `1080p,720p@3000k,480p@1.2M`: rungs tallest first, each with the codec's default
 * bitrate unless given (`k` = 1000, `M` = 1 000 000 bits per second). USAGE errors say what
 * is wrong.
 */
export function parseLadder(spec: string, codec: EncodeCodec): Rung[] {
  const rungs: Rung[] = [];
  for (const part of spec.split(',').map((p) => p.trim())) {
    const m = /^(\d{2,4})p(?:@(\d+(?:\.\d+)?)([kM]))?$/.exec(part);
    if (!m) throw new VvfError('USAGE', `--ladder: "${part}" is not a rung (like 720p or 720p@3000k)`);
    const height = Number(m[1]);
    if (height < 16 || height > 4320 || height % 2 !== 0)
      throw new VvfError('USAGE', `--ladder: ${height}p is not an even height between 16 and 4320`);
    const bitrate =
      m[2] === undefined ? defaultKbps(height, codec) * 1000 : Math.round(Number(m[2]) * (m[3] === 'M' ? 1_000_000 : 1000));
    if (!(bitrate >= 10_000)) throw new VvfError('USAGE', `--ladder: ${part} asks for less than 10 kbit/s`);
    if (rungs.some((r) => r.height === height)) throw new VvfError('USAGE', `--ladder: ${height}p is given twice`);
    rungs.push({ name: `${height}p`, height, width: 0, bitrate });
  }
  if (rungs.length === 0) throw new VvfError('USAGE', '--ladder lists no rungs');
  return rungs.sort((a, b) => b.height - a.height);
}

/**
 * Gives each rung its width (the source's display aspect, rounded to even) and drops the
 * rungs taller than the source: upscaling spends bits on nothing. At least the tallest
 * rung not above the source is kept; a source shorter than every rung keeps the shortest, at
 * the source's own size.
 */
export function sizeRungs(rungs: readonly Rung[], source: { width: number; height: number }): { kept: Rung[]; dropped: Rung[] } {
  const even = (n: number) => Math.max(2, Math.round(n / 2) * 2);
  const kept: Rung[] = [];
  const dropped: Rung[] = [];
  for (const r of rungs) {
    if (r.height > source.height) dropped.push(r);
    else kept.push({ ...r, width: even((r.height * source.width) / source.height) });
  }
  if (kept.length === 0) {
    const last = dropped.pop()!;
    const height = even(source.height);
    kept.push({ ...last, name: `${height}p`, height, width: even(source.width) });
  }
  return { kept, dropped };
}
