import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** One packet line of ffmpeg's framemd5: dts, pts, duration, size, hash. */
export interface FramePacket {
  dts: number;
  pts: number;
  duration: number;
  size: number;
  hash: string;
}

/**
 * `ffmpeg -i file -map 0:<stream> -c copy -f framemd5 -`: the packets of one stream as
 * ffmpeg's demuxer gives them, with a hash of each payload. `stream` is an index or a
 * specifier (`v:0`, `a:0`: manifests list streams in their own order).
 */
export async function framemd5(
  file: string,
  stream: number | `${'v' | 'a'}:${number}`,
  opts: { ignoreEditlist?: boolean } = {},
): Promise<FramePacket[]> {
  const args = [
    '-v',
    'error',
    ...(opts.ignoreEditlist ? ['-ignore_editlist', '1'] : []),
    '-i',
    file,
    '-map',
    `0:${stream}`,
    '-c',
    'copy',
    '-f',
    'framemd5',
    '-',
  ];
  const { stdout } = await run('ffmpeg', args, { maxBuffer: 256 << 20 });
  return stdout
    .split('\n')
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => {
      const f = l.split(',').map((x) => x.trim());
      return { dts: Number(f[1]), pts: Number(f[2]), duration: Number(f[3]), size: Number(f[4]), hash: f[5] ?? '' };
    });
}

/** stderr of decoding every stream: empty when the file decodes cleanly. */
export async function decodeErrors(file: string): Promise<string> {
  const { stderr } = await run('ffmpeg', ['-v', 'error', '-i', file, '-map', '0', '-f', 'null', '-'], { maxBuffer: 64 << 20 });
  return stderr.trim();
}

/** A decoded frame as ffmpeg's framecrc gives it: pts and duration (stream time base), bytes, checksum. */
export interface DecodedFrame {
  pts: number;
  duration: number;
  size: number;
  crc: string;
}

/** Decoded frames of one stream (`v` or `a`), edit lists applied as any player would. */
export async function decodedFrames(file: string, stream: 'v' | 'a'): Promise<DecodedFrame[]> {
  const { stdout } = await run('ffmpeg', ['-v', 'error', '-i', file, '-map', `0:${stream}`, '-f', 'framecrc', '-'], {
    maxBuffer: 256 << 20,
  });
  return stdout
    .split('\n')
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => {
      const f = l.split(',').map((x) => x.trim());
      return { pts: Number(f[2]), duration: Number(f[3]), size: Number(f[4]), crc: f[5] ?? '' };
    });
}

/** The time base of a stream, from ffprobe. */
export async function timeBase(file: string, stream: 'v' | 'a'): Promise<number> {
  const { stdout } = await run('ffprobe', [
    '-v',
    'error',
    '-select_streams',
    stream,
    '-show_entries',
    'stream=time_base',
    '-of',
    'csv=p=0',
    file,
  ]);
  const [num, den] = stdout.trim().split('\n')[0]!.split('/').map(Number);
  return den! / num!;
}

/** The order of top-level boxes as ffprobe's trace log reports them. */
export async function ffprobeTopLevelBoxes(file: string): Promise<string[]> {
  const { stderr } = await run('ffprobe', ['-v', 'trace', file], { maxBuffer: 256 << 20 });
  const types: string[] = [];
  for (const m of stderr.matchAll(/type:'(\w{4})' parent:'root'/g)) types.push(m[1]!);
  return types;
}

/**
 * Whether two packet lists are the same media: equal sizes and payload hashes, and equal
 * timing relative to each list's first dts (ffmpeg shifts a whole stream's timestamps
 * differently for fragmented and progressive files: by the edit's media time, or by the
 * most negative composition offset). With `durations`, durations too: one ffmpeg made up
 * (that disagrees with its own next dts, or a fragmented source's last) is checked against
 * the next dts, and a last packet's only when `lastKnown`. Undefined when equal, else what differs.
 */
export function samePackets(ours: FramePacket[], theirs: FramePacket[], durations?: { lastKnown: boolean }): string | undefined {
  if (ours.length !== theirs.length) return `${ours.length} packets, source has ${theirs.length}`;
  const a0 = ours[0]?.dts ?? 0;
  const b0 = theirs[0]?.dts ?? 0;
  for (let i = 0; i < ours.length; i++) {
    const a = ours[i]!;
    const b = theirs[i]!;
    if (a.size !== b.size || a.hash !== b.hash) return `packet ${i}: size/hash ${a.size}/${a.hash} != ${b.size}/${b.hash}`;
    if (a.dts - a0 !== b.dts - b0) return `packet ${i}: dts ${a.dts - a0} != ${b.dts - b0} (from the first)`;
    if (a.pts - a0 !== b.pts - b0) return `packet ${i}: pts ${a.pts - a0} != ${b.pts - b0} (from the first dts)`;
    if (!durations) continue;
    const next = theirs[i + 1];
    const theirDuration = next && next.dts - b.dts !== b.duration ? next.dts - b.dts : b.duration;
    if (a.duration !== theirDuration && (next || durations.lastKnown))
      return `packet ${i}: duration ${a.duration} != ${theirDuration}`;
  }
  return undefined;
}
