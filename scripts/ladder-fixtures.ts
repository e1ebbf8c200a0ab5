// A small encoding ladder made with ffmpeg into the fixture cache (<cache>/fixtures/ladder/): two H.264 encodes of
// one test pattern whose keyframes line up (so a presentation of both switches cleanly between them), one with AAC.
import path from 'node:path';
import { ensureFixtureSet, ffmpeg } from './fixtures.js';

/** Bump when what is made changes: the folder is made again. */
const VERSION = 1;
const NAME = 'ladder';

/** Seconds of the clip: long enough to seek to its middle and switch renditions with segments left to play. */
export const LADDER_SECONDS = 20;
/** Frames per second, and frames per GOP: a keyframe every 2 s in both encodes, at the same frames. */
export const LADDER_FPS = 24;
export const LADDER_GOP_FRAMES = 48;

/** The ladder's files, absolute paths. */
export interface LadderFixture {
  dir: string;
  /** 640x360 H.264 (about 1 Mb/s) and AAC stereo. */
  high: string;
  /** 320x180 H.264 (about 300 kb/s), no audio. */
  low: string;
}

// A fixed GOP and no scene-cut keyframes: both encodes cut GOPs at the same frames whatever the picture.
const GOP = `-g ${LADDER_GOP_FRAMES} -keyint_min ${LADDER_GOP_FRAMES} -sc_threshold 0`.split(' ');
const X264 = ['-c:v', 'libx264', '-preset', 'veryfast', '-pix_fmt', 'yuv420p', ...GOP];

/** Makes the ladder if the cache does not hold this version of it, and returns its paths. */
export function ensureLadderFixture(): Promise<LadderFixture> {
  return ensureFixtureSet(NAME, VERSION, build, describe);
}

function describe(dir: string): LadderFixture {
  return { dir, high: path.join(dir, 'high.mp4'), low: path.join(dir, 'low.mp4') };
}

async function build(tmp: string): Promise<void> {
  // One run, one decode of the pattern, two encodes.
  await ffmpeg(
    [
      ...['-f', 'lavfi', '-i', `testsrc2=size=640x360:rate=${LADDER_FPS}:duration=${LADDER_SECONDS}`],
      ...['-f', 'lavfi', '-i', `sine=frequency=440:sample_rate=48000:duration=${LADDER_SECONDS}`],
      ...['-map', '0:v', '-map', '1:a', ...X264, '-b:v', '1000k', '-maxrate', '1000k', '-bufsize', '1000k'],
      ...['-c:a', 'aac', '-b:a', '96k', '-ac', '2', 'high.mp4'],
      ...['-map', '0:v', '-vf', 'scale=320:180', ...X264, '-b:v', '300k', '-maxrate', '300k', '-bufsize', '300k', '-an'],
      'low.mp4',
    ],
    tmp,
  );
}
