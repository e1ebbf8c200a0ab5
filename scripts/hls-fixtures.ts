// HLS test inputs made with ffmpeg into the fixture cache (<cache>/fixtures/hls/): a multivariant playlist
// of fMP4 renditions, a single file with byte ranges, two clips joined by EXT-X-DISCONTINUITY, MPEG-TS segments.
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ensureFixtureSet, ffmpeg } from './fixtures.js';

/** Bump when what is made changes: the folder is made again. */
const VERSION = 2;
const NAME = 'hls';

/** One rendition of the multivariant playlist and a file ffprobe reads its packets from. */
export interface HlsRenditionFixture {
  /** The rendition's name as vvf gives it (its folder: high/index.m3u8 is "high"). */
  name: string;
  kind: 'video' | 'audio';
  /** Its media playlist. */
  playlist: string;
  /** Init segment and media segments concatenated: one stream. */
  probeFile: string;
}

/** The HLS inputs, absolute paths. */
export interface HlsFixtures {
  dir: string;
  /** master/master.m3u8: renditions "high" (320x240) and "low" (160x120) of H.264 with B-frames, and "audio" (AAC). */
  master: string;
  renditions: HlsRenditionFixture[];
  /** single/single.m3u8: video and audio in one fMP4 file, EXT-X-MAP and every segment a byte range of it. */
  single: string;
  /** single/continued.m3u8: the same with the offset left out of every EXT-X-BYTERANGE but the first. */
  singleContinued: string;
  /** single/single.mp4: the file both point into (ffprobe reads it whole). */
  singleFile: string;
  /**
   * discontinuity/joined.m3u8: clip a (from the master's source) then, after EXT-X-DISCONTINUITY, clip b (another
   * encode: other picture, H.264 Main instead of High, so another sample description), both video + audio
   * muxed, each with its own EXT-X-MAP and timestamps starting again from zero.
   */
  joined: string;
  /** The two clips as single files (init + segments concatenated), for ffprobe. */
  joinedParts: [string, string];
  /** ts/ts.m3u8: MPEG-TS segments. */
  ts: string;
  /** ts/master.m3u8: a multivariant playlist naming ts.m3u8. */
  tsMaster: string;
  /** ts/disguised.m3u8: MPEG-TS segments named .seg, no EXT-X-MAP (told by their bytes). */
  tsDisguised: string;
}

const CLIP_INPUTS = (seconds: number, picture: string, tone: number) => [
  ...['-f', 'lavfi', '-i', `${picture}=size=320x240:rate=25:duration=${seconds}`],
  ...['-f', 'lavfi', '-i', `sine=frequency=${tone}:sample_rate=48000:duration=${seconds}`],
];
const X264 = '-c:v libx264 -preset veryfast -bf 2 -g 25 -keyint_min 25 -sc_threshold 0 -pix_fmt yuv420p'.split(' ');
const AAC = '-c:a aac -b:a 64k -ac 2'.split(' ');
const FMP4 = '-f hls -hls_time 1 -hls_segment_type fmp4 -hls_playlist_type vod'.split(' ');

/** Makes the HLS inputs if the cache does not hold this version of them, and returns their paths. */
export function ensureHlsFixtures(): Promise<HlsFixtures> {
  return ensureFixtureSet(NAME, VERSION, build, describe);
}

function describe(dir: string): HlsFixtures {
  const at = (...p: string[]) => path.join(dir, ...p);
  return {
    dir,
    master: at('master', 'master.m3u8'),
    renditions: (['high', 'low', 'audio'] as const).map((name) => ({
      name,
      kind: name === 'audio' ? 'audio' : 'video',
      playlist: at('master', name, 'index.m3u8'),
      probeFile: at('master', `probe-${name}.mp4`),
    })),
    single: at('single', 'single.m3u8'),
    singleContinued: at('single', 'continued.m3u8'),
    singleFile: at('single', 'single.mp4'),
    joined: at('discontinuity', 'joined.m3u8'),
    joinedParts: [at('discontinuity', 'probe-a.mp4'), at('discontinuity', 'probe-b.mp4')],
    ts: at('ts', 'ts.m3u8'),
    tsMaster: at('ts', 'master.m3u8'),
    tsDisguised: at('ts', 'disguised.m3u8'),
  };
}

async function build(tmp: string): Promise<void> {
  const sub = async (name: string) => {
    const d = path.join(tmp, name);
    await mkdir(d, { recursive: true });
    return d;
  };
  // The source: 4 s of H.264 (B-frames, a keyframe a second) and AAC.
  await ffmpeg([...CLIP_INPUTS(4, 'testsrc2', 440), ...X264, ...AAC, 'clip.mp4'], tmp);
  const clip = path.join(tmp, 'clip.mp4');

  // Two video renditions and one audio rendition, each its own media playlist.
  const master = await sub('master');
  await ffmpeg(
    [
      ...['-i', clip, '-map', '0:v', '-map', '0:v', '-map', '0:a'],
      ...X264,
      ...'-b:v:0 400k -s:v:0 320x240 -b:v:1 150k -s:v:1 160x120 -c:a copy'.split(' '),
      ...FMP4,
      ...[
        '-master_pl_name',
        'master.m3u8',
        '-var_stream_map',
        'v:0,agroup:aud,name:high v:1,agroup:aud,name:low a:0,agroup:aud,name:audio',
      ],
      ...['-hls_fmp4_init_filename', 'init.mp4', '-hls_segment_filename', '%v/seg%d.m4s', '%v/index.m3u8'],
    ],
    master,
  );
  for (const name of ['high', 'low', 'audio'])
    await probeFile(path.join(master, name, 'index.m3u8'), path.join(master, `probe-${name}.mp4`));

  // One file, byte ranges.
  const single = await sub('single');
  await ffmpeg(
    [
      '-i',
      clip,
      '-map',
      '0',
      '-c',
      'copy',
      ...FMP4,
      '-hls_flags',
      'single_file',
      '-hls_segment_filename',
      'single.mp4',
      'single.m3u8',
    ],
    single,
  );
  const text = await readFile(path.join(single, 'single.m3u8'), 'utf8');
  let ranges = 0;
  const continued = text.replace(/^(#EXT-X-BYTERANGE:\d+)@\d+$/gm, (all, head: string) => (ranges++ === 0 ? all : head));
  if (ranges < 2) throw new Error('hls fixtures: single.m3u8 has fewer than two byte ranges');
  await writeFile(path.join(single, 'continued.m3u8'), continued);

  // Two clips joined: a is the source's first two seconds, b another encode.
  const joined = await sub('discontinuity');
  const a = await sub('discontinuity/a');
  const b = await sub('discontinuity/b');
  await ffmpeg(['-i', clip, '-t', '2', '-map', '0', '-c', 'copy', ...FMP4, '-hls_segment_filename', 'seg%d.m4s', 'a.m3u8'], a);
  await ffmpeg(
    [
      ...CLIP_INPUTS(2, 'testsrc', 880),
      ...X264,
      ...['-profile:v', 'main'],
      ...AAC,
      ...FMP4,
      ...['-hls_segment_filename', 'seg%d.m4s', 'b.m3u8'],
    ],
    b,
  );
  const partA = await readFile(path.join(a, 'a.m3u8'), 'utf8');
  const partB = await readFile(path.join(b, 'b.m3u8'), 'utf8');
  await writeFile(
    path.join(joined, 'joined.m3u8'),
    [
      '#EXTM3U',
      '#EXT-X-VERSION:7',
      '#EXT-X-TARGETDURATION:2',
      '#EXT-X-PLAYLIST-TYPE:VOD',
      ...body(partA, 'a/'),
      '#EXT-X-DISCONTINUITY',
      ...body(partB, 'b/'),
      '#EXT-X-ENDLIST',
      '',
    ].join('\n'),
  );
  await probeFile(path.join(a, 'a.m3u8'), path.join(joined, 'probe-a.mp4'));
  await probeFile(path.join(b, 'b.m3u8'), path.join(joined, 'probe-b.mp4'));

  // MPEG-TS segments: named .ts, and named otherwise with no EXT-X-MAP.
  const ts = await sub('ts');
  await ffmpeg(
    ['-i', clip, '-map', '0', '-c', 'copy', '-f', 'hls', '-hls_time', '1', '-hls_playlist_type', 'vod', 'ts.m3u8'],
    ts,
  );
  await writeFile(
    path.join(ts, 'master.m3u8'),
    '#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=500000,CODECS="avc1.64000d,mp4a.40.2"\nts.m3u8\n',
  );
  const tsText = await readFile(path.join(ts, 'ts.m3u8'), 'utf8');
  for (const f of (await readdir(ts)).filter((n) => n.endsWith('.ts'))) {
    await writeFile(path.join(ts, f.replace(/\.ts$/, '.seg')), await readFile(path.join(ts, f)));
  }
  await writeFile(path.join(ts, 'disguised.m3u8'), tsText.replace(/\.ts$/gm, '.seg'));
}

/** A media playlist's lines from its EXT-X-MAP on, URIs prefixed with `folder`, without EXT-X-ENDLIST. */
function body(playlist: string, folder: string): string[] {
  const lines = playlist.split('\n');
  const from = lines.findIndex((l) => l.startsWith('#EXT-X-MAP'));
  if (from < 0) throw new Error('hls fixtures: a part has no EXT-X-MAP');
  return lines
    .slice(from)
    .filter((l) => l !== '' && l !== '#EXT-X-ENDLIST')
    .map((l) => (l.startsWith('#EXT-X-MAP') ? l.replace('URI="', `URI="${folder}`) : l.startsWith('#') ? l : folder + l));
}

/** The init segment and segments of a media playlist (files, no byte ranges) concatenated. */
async function probeFile(playlist: string, out: string): Promise<void> {
  const dir = path.dirname(playlist);
  const lines = (await readFile(playlist, 'utf8')).split('\n');
  const init = /^#EXT-X-MAP:URI="([^"]+)"$/m.exec(lines.join('\n'))?.[1];
  if (!init) throw new Error(`hls fixtures: ${playlist} has no EXT-X-MAP`);
  const segments = lines.filter((l) => l !== '' && !l.startsWith('#'));
  // Small files: read whole.
  const parts = await Promise.all([init, ...segments].map((f) => readFile(path.join(dir, f))));
  await writeFile(out, Buffer.concat(parts));
}
