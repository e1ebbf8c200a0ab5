// The benchmark's input: a one-hour 1080p H.264 + AAC presentation packaged as DASH by ffmpeg, made once and cached.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** What {@link ensureBenchMedia} made (or found), recorded in `media.json` next to the files. */
export interface BenchMedia {
  /** Folder holding the manifest and the two media files. */
  dir: string;
  manifest: string;
  video: string;
  audio: string;
  /** Seconds the generation took when it ran (not this time if cached). */
  generationSeconds: number;
  /** When the media was made (ISO 8601). */
  generatedAt: string;
  ffmpegVersion: string;
  /** Bytes of the manifest and both media files. */
  totalBytes: number;
  /** Packets per stream as ffprobe counts them in each media file. */
  videoPackets: number;
  audioPackets: number;
}

/** Seconds encoded once, then looped. */
const CLIP_SECONDS = 60;
/** Copies of the clip in the hour. */
const LOOPS = 60;

/** A command line's words (none of them holds a space). */
export const words = (s: string): string[] => s.split(' ');

const log = (s: string) => process.stderr.write(`[bench] ${s}\n`);

/** Runs a command; rejects with its stderr tail on a non-zero exit. Progress lines (`-progress pipe:2`) go to `onProgress`. */
export function run(cmd: string, args: string[], onLine?: (line: string) => void): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let partial = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      const text = d.toString();
      err = (err + text).slice(-8000);
      if (!onLine) return;
      const lines = (partial + text).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) onLine(line);
    });
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolve(out);
      else reject(new Error(`${cmd} ${args.join(' ')} exited with ${code}:\n${err}`));
    });
  });
}

/** `-progress pipe:2` prints `out_time_us=…`; log it as a percentage of `totalSeconds` every few seconds. */
function progress(what: string, totalSeconds: number): (line: string) => void {
  let lastLogged = 0;
  return (line) => {
    const m = /^out_time_us=(\d+)/.exec(line);
    if (!m) return;
    const now = Date.now();
    if (now - lastLogged < 5000) return;
    lastLogged = now;
    const pct = Math.min(100, (Number(m[1]) / 1e6 / totalSeconds) * 100);
    log(`${what}: ${pct.toFixed(0)}%`);
  };
}

async function countPackets(file: string): Promise<number> {
  const out = await run('ffprobe', [
    '-v',
    'error',
    '-count_packets',
    '-show_entries',
    'stream=nb_read_packets',
    '-of',
    'csv=p=0',
    file,
  ]);
  return Number(out.trim().split('\n')[0]);
}

/**
 * Makes the benchmark's DASH presentation under `cacheDir` unless it is there already:
 * 60 s of 1920x1080 25 fps (testsrc2 with temporal noise, so that x264 spends its
 * 5 Mb/s) with 2-second GOPs and B-frames, plus 128 kb/s stereo AAC; looped to one hour
 * with `-c copy` straight into ffmpeg's DASH muxer, one file per stream, 2-second
 * segments (1800 fragments per track). Only the DASH output is kept.
 */
export async function ensureBenchMedia(cacheDir: string): Promise<BenchMedia> {
  const dir = join(cacheDir, 'dash');
  const infoPath = join(dir, 'media.json');
  if (existsSync(infoPath)) {
    const info = JSON.parse(await readFile(infoPath, 'utf8')) as BenchMedia;
    log(`using the cached media in ${dir} (made ${info.generatedAt} in ${info.generationSeconds.toFixed(0)} s)`);
    return { ...info, dir, manifest: join(dir, 'manifest.mpd'), video: join(dir, 'video.m4s'), audio: join(dir, 'audio.m4s') };
  }
  const started = Date.now();
  const tmp = join(cacheDir, 'tmp');
  await rm(tmp, { recursive: true, force: true });
  await mkdir(join(tmp, 'dash'), { recursive: true });
  const clip = join(tmp, 'minute.mp4');
  log(`encoding ${CLIP_SECONDS} s of 1080p25 H.264 (~5 Mb/s) + AAC into ${clip}`);
  const quiet = words('-hide_banner -nostats -loglevel error -progress pipe:2 -y');
  const encode = [
    ...words('-f lavfi -i testsrc2=size=1920x1080:rate=25 -f lavfi -i sine=frequency=440:sample_rate=48000'),
    ...words(`-t ${CLIP_SECONDS} -vf noise=alls=20:allf=t`),
    ...words('-c:v libx264 -preset ultrafast -bf 2 -pix_fmt yuv420p -b:v 5M -maxrate 5M -bufsize 10M'),
    // Fixed 2-second GOPs: every segment starts on a keyframe, 30 per minute.
    ...words('-g 50 -keyint_min 50 -sc_threshold 0'),
    ...words('-c:a aac -b:a 128k -ac 2'),
  ];
  await run('ffmpeg', [...quiet, ...encode, clip], progress('encode', CLIP_SECONDS));
  log(`looping it ${LOOPS} times with -c copy into DASH (single file per stream, 2 s segments)`);
  // Looping straight into the DASH muxer is the same as looping into an hour-long MP4 and
  // packaging that, without writing the 2.3 GB intermediate.
  const loop = [...words(`-stream_loop ${LOOPS - 1} -i`), clip, ...words('-map 0:v -map 0:a -c copy')];
  const dash = [
    ...words('-f dash -single_file 1 -single_file_name stream$RepresentationID$.m4s'),
    ...words('-seg_duration 2 -use_template 1 -use_timeline 1'),
  ];
  await run('ffmpeg', [...quiet, ...loop, ...dash, join(tmp, 'dash', 'manifest.mpd')], progress('package', CLIP_SECONDS * LOOPS));
  // Representation 0 is the video (mapped first), 1 the audio; name the files after what they hold.
  const mpdPath = join(tmp, 'dash', 'manifest.mpd');
  const mpd = await readFile(mpdPath, 'utf8');
  await writeFile(mpdPath, mpd.replaceAll('stream0.m4s', 'video.m4s').replaceAll('stream1.m4s', 'audio.m4s'));
  await rename(join(tmp, 'dash', 'stream0.m4s'), join(tmp, 'dash', 'video.m4s'));
  await rename(join(tmp, 'dash', 'stream1.m4s'), join(tmp, 'dash', 'audio.m4s'));
  await rm(clip);
  const files = ['manifest.mpd', 'video.m4s', 'audio.m4s'].map((f) => join(tmp, 'dash', f));
  let totalBytes = 0;
  for (const f of files) totalBytes += (await stat(f)).size;
  log('counting packets with ffprobe');
  const [videoPackets, audioPackets] = await Promise.all([countPackets(files[1]!), countPackets(files[2]!)]);
  const ffmpegVersion = (await run('ffmpeg', ['-version'])).split('\n')[0] ?? '';
  const info: BenchMedia = {
    dir,
    manifest: join(dir, 'manifest.mpd'),
    video: join(dir, 'video.m4s'),
    audio: join(dir, 'audio.m4s'),
    generationSeconds: (Date.now() - started) / 1000,
    generatedAt: new Date().toISOString(),
    ffmpegVersion,
    totalBytes,
    videoPackets,
    audioPackets,
  };
  await writeFile(join(tmp, 'dash', 'media.json'), `${JSON.stringify(info, null, 2)}\n`);
  await rm(dir, { recursive: true, force: true });
  await rename(join(tmp, 'dash'), dir);
  await rm(tmp, { recursive: true, force: true });
  log(`made ${(totalBytes / 1e9).toFixed(2)} GB of DASH in ${info.generationSeconds.toFixed(0)} s`);
  return info;
}
