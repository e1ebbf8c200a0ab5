// The test fixture matrix: small clips made with ffmpeg and shaka-packager into a git-ignored cache.
//
// Every fixture lives in <cache>/fixtures/<name>/ with a done.json stamp holding its recipe version;
// a fixture whose stamp matches is not made again. Run directly (`npm run fixtures`) to make them all
// and print a table; `--force` remakes everything.
import { type ExecFileException, execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { constants, createReadStream, createWriteStream } from 'node:fs';
import { access, copyFile, mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { XMLParser } from 'fast-xml-parser';

/** One elementary stream of a fixture, and where ffprobe can read its packets. */
export interface FixtureStream {
  kind: 'video' | 'audio';
  /** Track id in `input` (for MPD inputs: the track id inside that representation's init segment). */
  trackId: number;
  /**
   * A file ffprobe can read to get this stream's packets: the input itself for single-file inputs,
   * the representation's file for single-file DASH, or init + all media segments concatenated
   * (`probe-<repId>.mp4`) for segmented DASH.
   */
  probeFile: string;
  /** Index of this stream inside probeFile (ffprobe's stream index). */
  probeStreamIndex: number;
  /** For MPD inputs: the Representation@id. */
  representationId?: string;
}

/** One generated test input. */
export interface Fixture {
  name: string;
  /** What vvf opens: a .mp4 file or a .mpd manifest (absolute path). */
  input: string;
  /** Folder holding the fixture's files (absolute path). */
  dir: string;
  layout: 'progressive' | 'fragmented' | 'segmented';
  /** What the fixture exercises: codecs, box layouts, MPD addressing, the tool that made it. */
  tags: string[];
  streams: FixtureStream[];
  /** Total bytes of the media files of `input` (not the manifest, not the probe files). */
  sizeBytes: number;
}

type Layout = Fixture['layout'];

/** The clip every fixture is cut from: small enough that the whole matrix takes seconds. */
const CLIP = { seconds: 5, size: '320x240', fps: 25, gop: 25, segmentSeconds: 2 } as const;

/** Bump when the shared H.264 + AAC source changes: every fixture made from it is remade. */
const SOURCE_VERSION = 1;
const SOURCE_DIR = '_source';
const SOURCE_FILE = 'h264-aac.mp4';

/** At most this many tools run at once (the encoders are multi-threaded already). */
const PARALLEL = 2;

const PROJECT_ROOT = fileURLToPath(new URL('..', import.meta.url));
const execFileP = promisify(execFile);

/** Root of the cache: $VVF_CACHE_DIR, else <project>/.cache. */
export function cacheRoot(): string {
  const env = process.env.VVF_CACHE_DIR;
  return env ? path.resolve(env) : path.join(PROJECT_ROOT, '.cache');
}

/** Folder holding one folder per fixture. */
export function fixturesRoot(): string {
  return path.join(cacheRoot(), 'fixtures');
}

function packagerPath(): string {
  const os = process.platform === 'darwin' ? 'osx' : process.platform === 'win32' ? 'win' : 'linux';
  const exe = process.platform === 'win32' ? '.exe' : '';
  return path.join(PROJECT_ROOT, 'node_modules', 'shaka-packager', 'bin', `packager-${os}-${process.arch}${exe}`);
}

/** Runs a tool; a failure carries the tool's stderr so the cause is visible in the test output. */
async function run(cmd: string, args: string[], cwd?: string): Promise<string> {
  try {
    const { stdout } = await execFileP(cmd, args, { cwd, maxBuffer: 256 * 1024 * 1024 });
    return stdout;
  } catch (e) {
    const err = e as ExecFileException & { stderr?: string };
    const stderr = (err.stderr ?? '').trim();
    throw new Error(`${path.basename(cmd)} ${args.join(' ')} failed (${err.code ?? err.signal}):\n${stderr || err.message}`);
  }
}

/** Splits constant option text into arguments (paths that may hold spaces are passed apart). */
function words(text: string): string[] {
  return text.trim().split(/\s+/);
}

export function ffmpeg(args: string[], cwd: string): Promise<string> {
  return run('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', ...args], cwd);
}

function packager(args: string[], cwd: string): Promise<string> {
  return run(packagerPath(), [...args, '--quiet'], cwd);
}

let av1EncoderPromise: Promise<string | undefined> | undefined;

/** The first AV1 encoder this ffmpeg has (libaom-av1, libsvtav1, librav1e), or undefined. */
export function av1Encoder(): Promise<string | undefined> {
  av1EncoderPromise ??= run('ffmpeg', ['-hide_banner', '-encoders']).then((out) => {
    const names = new Set(out.split('\n').map((line) => line.trim().split(/\s+/)[1]));
    return ['libaom-av1', 'libsvtav1', 'librav1e'].find((n) => names.has(n));
  });
  // A failed look-up is not remembered: the next call asks again.
  av1EncoderPromise.catch(() => {
    av1EncoderPromise = undefined;
  });
  return av1EncoderPromise;
}

function av1Args(encoder: string): string[] {
  // Fastest settings of each encoder; quality does not matter here.
  switch (encoder) {
    case 'libaom-av1':
      return words('-c:v libaom-av1 -cpu-used 8 -usage realtime -b:v 300k');
    case 'libsvtav1':
      return words('-c:v libsvtav1 -preset 12');
    default:
      return words(`-c:v ${encoder} -speed 10 -b:v 300k`);
  }
}

/** lavfi test pattern and tone, CLIP.seconds long. */
function lavfiInputs(): string[] {
  const { seconds, size, fps } = CLIP;
  return words(
    `-f lavfi -i testsrc2=size=${size}:rate=${fps}:duration=${seconds}` +
      ` -f lavfi -i sine=frequency=440:beep_factor=4:sample_rate=48000:duration=${seconds}`,
  );
}

/** Fixed GOP so that segments of CLIP.segmentSeconds start on keyframes. */
const GOP_ARGS = words(`-g ${CLIP.gop} -keyint_min ${CLIP.gop} -pix_fmt yuv420p`);
const AAC_ARGS = words('-c:a aac -b:a 64k -ac 2');

// ---------------------------------------------------------------------------------------------
// Recipes

interface BuildContext {
  /** Empty folder to write into (renamed into place on success). */
  dir: string;
  /** The shared H.264 (B-frames) + AAC progressive source. */
  source: string;
}

/** What a recipe made, relative to its folder; streams are filled in by probing. */
interface Built {
  input: string;
}

interface Recipe {
  name: string;
  /** Bump when the recipe changes: the fixture is made again. */
  version: number;
  layout: Layout;
  tags: string[];
  /** Cut from the shared source (so remade when SOURCE_VERSION changes). */
  fromSource: boolean;
  /** Why this machine cannot make the fixture, if it cannot. */
  unavailable?: () => Promise<string | undefined>;
  build(ctx: BuildContext): Promise<Built>;
}

const H264_TAGS = ['h264', 'bframes', 'aac', 'edit-list'];
/** ffmpeg's fragmented files carry no edit list (the B-frame delay and AAC priming show in the times). */
const H264_FRAG_TAGS = ['h264', 'bframes', 'aac'];

/** Remux the shared source with these muxer options into <name>.mp4. */
function remux(name: string, args: string[]): (ctx: BuildContext) => Promise<Built> {
  return async ({ dir, source }) => {
    const out = `${name}.mp4`;
    await ffmpeg(['-i', source, ...words('-map 0 -c copy'), ...args, out], dir);
    return { input: out };
  };
}

/** ffmpeg's DASH muxer on the shared source, writing manifest.mpd. */
function ffmpegDash(args: string[]): (ctx: BuildContext) => Promise<Built> {
  return async ({ dir, source }) => {
    const dash = words(`-map 0:v -map 0:a -c copy -f dash -seg_duration ${CLIP.segmentSeconds}`);
    await ffmpeg(['-i', source, ...dash, ...args, 'manifest.mpd'], dir);
    return { input: 'manifest.mpd' };
  };
}

/** shaka-packager's live profile: v/init.mp4 + v/$Number$.m4s, a/… */
async function shakaLive(dir: string, source: string): Promise<void> {
  await packager(
    [
      `in=${source},stream=video,init_segment=v/init.mp4,segment_template=v/$Number$.m4s`,
      `in=${source},stream=audio,init_segment=a/init.mp4,segment_template=a/$Number$.m4s`,
      ...words(`--segment_duration ${CLIP.segmentSeconds} --generate_static_live_mpd --mpd_output manifest.mpd`),
    ],
    dir,
  );
}

const RECIPES: Recipe[] = [
  {
    name: 'h264-aac-faststart',
    version: 1,
    layout: 'progressive',
    tags: [...H264_TAGS, 'moov-first'],
    fromSource: true,
    build: remux('h264-aac-faststart', words('-movflags +faststart')),
  },
  {
    name: 'h264-aac-moov-last',
    version: 1,
    layout: 'progressive',
    tags: [...H264_TAGS, 'moov-last'],
    fromSource: true,
    // The source itself, as the encoder wrote it (ffmpeg's default is moov last).
    build: async ({ dir, source }) => {
      await copyFile(source, path.join(dir, 'h264-aac-moov-last.mp4'));
      return { input: 'h264-aac-moov-last.mp4' };
    },
  },
  {
    name: 'hevc-aac',
    version: 2,
    layout: 'progressive',
    // Open GOPs: CRA keyframes with RASL leading pictures (x265 makes them only when a keyframe
    // closes a run of B-frames, hence the fixed 4-B-frame pattern with a 25-frame GOP).
    tags: ['hevc', 'bframes', 'open-gop', 'aac', 'edit-list', 'moov-last'],
    fromSource: false,
    build: async ({ dir }) => {
      const params = `keyint=${CLIP.gop}:min-keyint=${CLIP.gop}:bframes=4:b-adapt=0:open-gop=1:log-level=error`;
      const video = words(`-c:v libx265 -preset ultrafast -x265-params ${params} -tag:v hvc1 -pix_fmt yuv420p`);
      await ffmpeg([...lavfiInputs(), ...video, ...AAC_ARGS, 'hevc-aac.mp4'], dir);
      return { input: 'hevc-aac.mp4' };
    },
  },
  {
    name: 'vp9-opus',
    version: 1,
    layout: 'progressive',
    tags: ['vp9', 'opus', 'edit-list', 'moov-last'],
    fromSource: false,
    build: async ({ dir }) => {
      const video = words('-c:v libvpx-vp9 -deadline realtime -cpu-used 8 -b:v 300k');
      const audio = words('-c:a libopus -b:a 64k -ac 2');
      await ffmpeg([...lavfiInputs(), ...video, ...GOP_ARGS, ...audio, 'vp9-opus.mp4'], dir);
      return { input: 'vp9-opus.mp4' };
    },
  },
  {
    name: 'av1-aac',
    version: 1,
    layout: 'progressive',
    tags: ['av1', 'aac', 'edit-list', 'moov-last'],
    fromSource: false,
    unavailable: async () => ((await av1Encoder()) ? undefined : 'ffmpeg has no AV1 encoder (libaom-av1, libsvtav1, librav1e)'),
    build: async ({ dir }) => {
      const encoder = await av1Encoder();
      if (!encoder) throw new Error('no AV1 encoder');
      await ffmpeg([...lavfiInputs(), ...av1Args(encoder), ...GOP_ARGS, ...AAC_ARGS, 'av1-aac.mp4'], dir);
      return { input: 'av1-aac.mp4' };
    },
  },
  {
    name: 'frag-plain',
    version: 1,
    layout: 'fragmented',
    // Without default_base_moof ffmpeg writes an explicit base_data_offset in tfhd; it also writes mfra.
    tags: [...H264_FRAG_TAGS, 'empty-moov', 'base-data-offset', 'mfra', 'multi-traf'],
    fromSource: true,
    build: remux('frag-plain', words('-movflags +frag_keyframe+empty_moov')),
  },
  {
    name: 'frag-multi-moof',
    version: 1,
    layout: 'fragmented',
    // Fragments cut by size, so most moofs start on a non-sync sample; no mfra.
    tags: [...H264_FRAG_TAGS, 'empty-moov', 'default-base-moof', 'multi-moof', 'non-sync-fragment-start', 'multi-traf'],
    fromSource: true,
    build: remux('frag-multi-moof', words('-movflags +empty_moov+default_base_moof+skip_trailer -frag_size 15000')),
  },
  {
    name: 'frag-negative-cts',
    version: 1,
    layout: 'fragmented',
    tags: [...H264_FRAG_TAGS, 'empty-moov', 'default-base-moof', 'negative-cts', 'trun-v1', 'mfra', 'multi-traf'],
    fromSource: true,
    build: remux('frag-negative-cts', words('-movflags +frag_keyframe+empty_moov+default_base_moof+negative_cts_offsets')),
  },
  {
    name: 'frag-mfra',
    version: 1,
    layout: 'fragmented',
    // Without empty_moov the first fragment's samples sit in moov's sample table, the rest in moofs.
    tags: [...H264_FRAG_TAGS, 'moov-samples', 'base-data-offset', 'mfra', 'multi-traf'],
    fromSource: true,
    build: remux('frag-mfra', words('-movflags +frag_keyframe')),
  },
  {
    name: 'dash-template-time',
    version: 1,
    layout: 'segmented',
    tags: [...H264_TAGS, 'ffmpeg-dash', 'segment-template', 'segment-timeline', 'time-template', 'sidx', 'styp'],
    fromSource: true,
    build: async (ctx) => {
      const names = '-init_seg_name init-$RepresentationID$.m4s -media_seg_name seg-$RepresentationID$-$Time$.m4s';
      const built = await ffmpegDash(words(`-use_template 1 -use_timeline 1 ${names}`))(ctx);
      // ffmpeg 5.1 names the first AAC segment by its pre-roll time (seg-1--1024.m4s) while the
      // MPD (and the segment's tfdt) say 0; rename it so the manifest is consistent.
      for (const file of await readdir(ctx.dir)) {
        const m = /^seg-(\w+)--\d+\.m4s$/.exec(file);
        if (m) await rename(path.join(ctx.dir, file), path.join(ctx.dir, `seg-${m[1]}-0.m4s`));
      }
      return built;
    },
  },
  {
    name: 'dash-high-bitrate',
    version: 2,
    layout: 'segmented',
    // A realistic bitrate (several Mb/s at 720p), for checking that reading the metadata of
    // a DASH presentation costs a tiny fraction of its bytes.
    tags: ['h264', 'aac', 'edit-list', 'ffmpeg-dash', 'segment-template', 'segment-timeline', 'high-bitrate', 'sidx', 'styp'],
    fromSource: false,
    build: async ({ dir }) => {
      const inputs = words(
        '-f lavfi -i testsrc2=size=1280x720:rate=25:duration=4 -f lavfi -i sine=frequency=440:sample_rate=48000:duration=4',
      );
      const video = words('-c:v libx264 -preset ultrafast -crf 23 -g 50 -keyint_min 50 -pix_fmt yuv420p');
      await ffmpeg([...inputs, ...video, ...AAC_ARGS, 'clip.mp4'], dir);
      const dash = words(
        `-map 0:v -map 0:a -c copy -f dash -seg_duration ${CLIP.segmentSeconds} -use_template 1 -use_timeline 1`,
      );
      await ffmpeg(['-i', 'clip.mp4', ...dash, 'manifest.mpd'], dir);
      await rm(path.join(dir, 'clip.mp4'));
      return { input: 'manifest.mpd' };
    },
  },
  {
    name: 'dash-template-number',
    version: 1,
    layout: 'segmented',
    tags: [...H264_TAGS, 'ffmpeg-dash', 'segment-template', 'number-template', 'template-duration', 'sidx', 'styp'],
    fromSource: true,
    build: ffmpegDash(words('-use_template 1 -use_timeline 0')),
  },
  {
    name: 'dash-single-file',
    version: 1,
    layout: 'segmented',
    // ffmpeg 5.1 describes a single file as a SegmentList of mediaRange/indexRange, one sidx per segment.
    tags: [...H264_TAGS, 'ffmpeg-dash', 'single-file', 'segment-list', 'media-range', 'sidx', 'multi-sidx'],
    fromSource: true,
    build: ffmpegDash(words('-single_file 1')),
  },
  {
    name: 'dash-global-sidx',
    version: 1,
    layout: 'segmented',
    tags: [...H264_TAGS, 'ffmpeg-dash', 'single-file', 'segment-list', 'media-range', 'sidx', 'global-sidx'],
    fromSource: true,
    build: ffmpegDash(words('-single_file 1 -global_sidx 1')),
  },
  {
    name: 'dash-multi-frag',
    version: 1,
    layout: 'segmented',
    // Fragments cut every 0.5 s regardless of keyframes; ffmpeg writes a sidx before every moof.
    tags: [
      ...H264_TAGS,
      'ffmpeg-dash',
      'segment-template',
      'segment-timeline',
      'number-template',
      'multi-moof',
      'non-sync-fragment-start',
      'sidx',
      'multi-sidx',
      'styp',
    ],
    fromSource: true,
    build: ffmpegDash(words('-frag_type duration -frag_duration 0.5')),
  },
  {
    name: 'dash-negative-cts',
    version: 1,
    layout: 'segmented',
    tags: [
      ...H264_TAGS,
      'ffmpeg-dash',
      'segment-template',
      'segment-timeline',
      'number-template',
      'negative-cts',
      'trun-v1',
      'sidx',
    ],
    fromSource: true,
    build: ffmpegDash(words('-format_options movflags=+negative_cts_offsets')),
  },
  {
    name: 'shaka-ondemand',
    version: 1,
    layout: 'segmented',
    tags: [...H264_TAGS, 'shaka', 'single-file', 'segment-base', 'sidx'],
    fromSource: true,
    build: async ({ dir, source }) => {
      await packager(
        [
          `in=${source},stream=video,output=video.mp4`,
          `in=${source},stream=audio,output=audio.mp4`,
          ...words(`--segment_duration ${CLIP.segmentSeconds} --mpd_output manifest.mpd`),
        ],
        dir,
      );
      return { input: 'manifest.mpd' };
    },
  },
  {
    name: 'shaka-ondemand-multi-frag',
    version: 1,
    layout: 'segmented',
    // One sidx whose subsegments hold several moofs each (video fragments stay keyframe-aligned).
    tags: [...H264_TAGS, 'shaka', 'single-file', 'segment-base', 'sidx', 'multi-moof'],
    fromSource: true,
    build: async ({ dir, source }) => {
      await packager(
        [
          `in=${source},stream=video,output=video.mp4`,
          `in=${source},stream=audio,output=audio.mp4`,
          ...words(`--segment_duration ${CLIP.segmentSeconds} --fragment_duration 0.5 --mpd_output manifest.mpd`),
        ],
        dir,
      );
      return { input: 'manifest.mpd' };
    },
  },
  {
    name: 'shaka-live',
    version: 1,
    layout: 'segmented',
    tags: [...H264_TAGS, 'shaka', 'segment-template', 'segment-timeline', 'number-template', 'sidx', 'styp'],
    fromSource: true,
    build: async ({ dir, source }) => {
      await shakaLive(dir, source);
      return { input: 'manifest.mpd' };
    },
  },
  {
    name: 'segment-list',
    version: 1,
    layout: 'segmented',
    // Neither tool writes a SegmentList of separate files: rewrite shaka's live MPD into one.
    tags: [...H264_TAGS, 'shaka', 'hand-written', 'segment-list', 'segment-timeline', 'sidx', 'styp'],
    fromSource: true,
    build: async ({ dir, source }) => {
      await shakaLive(dir, source);
      const live = await readFile(path.join(dir, 'manifest.mpd'), 'utf8');
      await rm(path.join(dir, 'manifest.mpd'));
      await writeFile(path.join(dir, 'manifest.mpd'), await templateToSegmentList(live, dir));
      return { input: 'manifest.mpd' };
    },
  },
];

/** Names of every fixture in the matrix, in table order. */
export const FIXTURE_NAMES: readonly string[] = RECIPES.map((r) => r.name);

/**
 * Rewrites each SegmentTemplate (with SegmentTimeline) of a static MPD into a SegmentList naming the
 * same files: Initialization@sourceURL, the same SegmentTimeline, one SegmentURL@media per segment.
 */
async function templateToSegmentList(mpd: string, dir: string): Promise<string> {
  const out = mpd.replace(/<SegmentTemplate\b([^>]*)>([\s\S]*?)<\/SegmentTemplate>/g, (_all, attrText: string, body: string) => {
    const attrs = parseAttributes(attrText);
    const timeline = /<SegmentTimeline>[\s\S]*?<\/SegmentTimeline>/.exec(body)?.[0];
    if (!attrs.initialization || !attrs.media || !timeline)
      throw new Error('segment-list: unexpected SegmentTemplate in shaka MPD');
    const segments = expandTimeline(timeline, Number(attrs.startNumber ?? '1'));
    const indent = '          ';
    const urls = segments
      .map((s) => `${indent}<SegmentURL media="${fillTemplate(attrs.media!, '', s.number, s.time)}"/>`)
      .join('\n');
    return (
      `<SegmentList timescale="${attrs.timescale ?? '1'}">\n` +
      `${indent}<Initialization sourceURL="${attrs.initialization}"/>\n` +
      `${indent}${timeline}\n${urls}\n        </SegmentList>`
    );
  });
  // The live profile requires SegmentTemplate; a SegmentList MPD is a full-profile one.
  const result = out.replace('urn:mpeg:dash:profile:isoff-live:2011', 'urn:mpeg:dash:profile:full:2011');
  // Check that every file named exists before the fixture is accepted.
  for (const m of result.matchAll(/(?:media|sourceURL)="([^"]+)"/g)) await access(path.join(dir, m[1]!), constants.R_OK);
  return result;
}

function parseAttributes(text: string): Record<string, string | undefined> {
  const attrs: Record<string, string | undefined> = {};
  for (const m of text.matchAll(/([\w:]+)="([^"]*)"/g)) attrs[m[1]!] = m[2]!;
  return attrs;
}

interface TimelineSegment {
  number: number;
  time: number;
}

function expandTimeline(timelineXml: string, startNumber: number): TimelineSegment[] {
  const segments: TimelineSegment[] = [];
  let time = 0;
  let number = startNumber;
  for (const m of timelineXml.matchAll(/<S\b([^>]*)\/>/g)) {
    const a = parseAttributes(m[1]!);
    if (a.t !== undefined) time = Number(a.t);
    const d = Number(a.d);
    const r = Number(a.r ?? '0');
    if (!Number.isSafeInteger(d) || !Number.isSafeInteger(r) || r < 0) throw new Error(`unsupported S element: ${m[0]}`);
    for (let i = 0; i <= r; i++) {
      segments.push({ number: number++, time });
      time += d;
    }
  }
  return segments;
}

function fillTemplate(template: string, representationId: string, number: number, time: number): string {
  return template.replace(
    /\$(RepresentationID|Number|Time|Bandwidth|)(%0(\d+)d)?\$/g,
    (all, id: string, _fmt, width?: string) => {
      const pad = (n: number) => (width ? String(n).padStart(Number(width), '0') : String(n));
      switch (id) {
        case '':
          return '$';
        case 'RepresentationID':
          return representationId;
        case 'Number':
          return pad(number);
        case 'Time':
          return pad(time);
        default:
          throw new Error(`unsupported template identifier ${all}`);
      }
    },
  );
}

// ---------------------------------------------------------------------------------------------
// Describing what a recipe made: representations, their files, the streams ffprobe sees.

interface RepresentationFiles {
  id: string;
  kind: 'video' | 'audio';
  /** A single file holding init + all segments (SegmentBase, SegmentList of mediaRange). */
  single?: string;
  /** Init segment and media segments in order (SegmentTemplate, SegmentList of media URLs). */
  init?: string;
  media?: string[];
}

type XmlNode = Record<string, unknown>;

const xmlParser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@',
  isArray: (name) => ['Period', 'AdaptationSet', 'Representation', 'S', 'SegmentURL', 'BaseURL'].includes(name),
});

function child(node: XmlNode | undefined, name: string): XmlNode | undefined {
  const v = node?.[name];
  if (Array.isArray(v)) return v[0] as XmlNode | undefined;
  return v !== null && typeof v === 'object' ? (v as XmlNode) : undefined;
}

function children(node: XmlNode | undefined, name: string): XmlNode[] {
  const v = node?.[name];
  return Array.isArray(v) ? (v as XmlNode[]) : [];
}

function attr(node: XmlNode | undefined, name: string): string | undefined {
  const v = node?.[`@${name}`];
  return v === undefined ? undefined : String(v);
}

/** Text of an element: the parser gives a plain value for an element without attributes. */
function text(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'object') {
    const v = (value as XmlNode)['#text'];
    return v === undefined ? undefined : String(v);
  }
  return String(value);
}

/** Seconds of an xs:duration such as PT5S or PT0H0M4.960S. */
function parseDuration(value: string): number {
  const m = /^PT(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?$/.exec(value);
  if (!m) throw new Error(`unsupported duration ${value}`);
  return Number(m[1] ?? 0) * 3600 + Number(m[2] ?? 0) * 60 + Number(m[3] ?? 0);
}

function templateRegex(template: string, representationId: string): RegExp {
  const parts = template.split(/(\$[A-Za-z]*(?:%0\d+d)?\$)/);
  const body = parts
    .map((p, i) => {
      if (i % 2 === 0) return p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      if (p === '$$') return '\\$';
      if (p === '$RepresentationID$') return representationId.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      return '-?\\d+';
    })
    .join('');
  return new RegExp(`^${body}$`);
}

/**
 * Lists the files of every Representation of a (static, one-Period) MPD written by our recipes, and
 * checks that the manifest and the folder agree: every named file exists, and no template segment
 * in the folder is left unnamed (which would mean the MPD and the file names disagree).
 */
async function readManifest(dir: string, mpdFile: string): Promise<RepresentationFiles[]> {
  const doc = xmlParser.parse(await readFile(path.join(dir, mpdFile), 'utf8')) as XmlNode;
  const mpd = child(doc, 'MPD');
  const periods = children(mpd, 'Period');
  if (periods.length !== 1) throw new Error(`${mpdFile}: expected one Period, found ${periods.length}`);
  const presentationSeconds = parseDuration(attr(mpd, 'mediaPresentationDuration') ?? 'PT0S');
  const reps: RepresentationFiles[] = [];
  for (const set of children(periods[0], 'AdaptationSet')) {
    for (const rep of children(set, 'Representation')) {
      const id = attr(rep, 'id');
      const type = attr(rep, 'mimeType') ?? attr(set, 'mimeType') ?? attr(set, 'contentType') ?? '';
      const kind = type.startsWith('video') ? 'video' : type.startsWith('audio') ? 'audio' : undefined;
      if (id === undefined || kind === undefined) throw new Error(`${mpdFile}: Representation without id or media type`);
      const baseUrls = rep.BaseURL;
      const baseUrl = Array.isArray(baseUrls) ? text(baseUrls[0]) : undefined;
      const template = child(rep, 'SegmentTemplate') ?? child(set, 'SegmentTemplate');
      const list = child(rep, 'SegmentList');
      if (template) {
        const init = fillTemplate(attr(template, 'initialization') ?? '', id, 0, 0);
        const media = attr(template, 'media');
        if (!media || !init) throw new Error(`${mpdFile}: SegmentTemplate without initialization/media`);
        const startNumber = Number(attr(template, 'startNumber') ?? '1');
        const timeline = child(template, 'SegmentTimeline');
        let segments: TimelineSegment[];
        if (timeline) {
          const xml = children(timeline, 'S')
            .map((s) => `<S ${['t', 'd', 'r'].map((k) => (attr(s, k) === undefined ? '' : `${k}="${attr(s, k)}"`)).join(' ')}/>`)
            .join('');
          segments = expandTimeline(xml, startNumber);
        } else {
          const timescale = Number(attr(template, 'timescale') ?? '1');
          const duration = Number(attr(template, 'duration'));
          const count = Math.ceil((presentationSeconds * timescale) / duration - 1e-9);
          segments = Array.from({ length: count }, (_, i) => ({ number: startNumber + i, time: i * duration }));
        }
        const files = segments.map((s) => fillTemplate(media, id, s.number, s.time));
        // Segments on disk that the MPD does not name mean the two disagree.
        const mediaDir = path.posix.dirname(media);
        const pattern = templateRegex(path.posix.basename(media), id);
        const onDisk = (await readdir(path.join(dir, mediaDir))).filter((f) => pattern.test(f));
        const named = new Set(files.map((f) => path.posix.basename(f)));
        const unnamed = onDisk.filter((f) => !named.has(f));
        if (unnamed.length > 0)
          throw new Error(`${mpdFile}: representation ${id}: segments not named by the MPD: ${unnamed.join(', ')}`);
        reps.push({ id, kind, init, media: files });
      } else if (list && children(list, 'SegmentURL').some((u) => attr(u, 'media') !== undefined)) {
        const init = attr(child(list, 'Initialization'), 'sourceURL');
        if (!init) throw new Error(`${mpdFile}: SegmentList without Initialization@sourceURL`);
        const media = children(list, 'SegmentURL').map((u) => attr(u, 'media') ?? '');
        reps.push({ id, kind, init, media });
      } else if (baseUrl) {
        reps.push({ id, kind, single: baseUrl });
      } else {
        throw new Error(`${mpdFile}: representation ${id}: no segment addressing found`);
      }
    }
  }
  for (const r of reps) {
    for (const f of [r.single, r.init, ...(r.media ?? [])]) {
      if (f !== undefined) await access(path.join(dir, f), constants.R_OK);
    }
  }
  return reps;
}

interface RawProbeStream {
  index?: number;
  id?: string;
  codec_type?: string;
}

async function probeStreams(file: string): Promise<RawProbeStream[]> {
  const out = await run('ffprobe', ['-v', 'error', '-show_streams', '-of', 'json', file]);
  const parsed = JSON.parse(out) as { streams?: RawProbeStream[] };
  return (parsed.streams ?? []).filter((s) => s.codec_type === 'video' || s.codec_type === 'audio');
}

function trackIdOf(s: RawProbeStream, file: string): number {
  const id = s.id === undefined ? Number.NaN : Number.parseInt(s.id, 16);
  if (!Number.isSafeInteger(id)) throw new Error(`${file}: ffprobe gave no track id for stream ${s.index}`);
  return id;
}

async function concatFiles(files: string[], out: string): Promise<void> {
  const sink = createWriteStream(out);
  for (const f of files) await pipeline(createReadStream(f), sink, { end: false });
  await new Promise<void>((resolve, reject) => sink.end((err?: Error | null) => (err ? reject(err) : resolve())));
}

/** Fixture with paths relative to its folder, as stored in done.json. */
type StoredFixture = Omit<Fixture, 'dir'>;

async function describe(recipe: Recipe, dir: string, built: Built): Promise<StoredFixture> {
  const streams: FixtureStream[] = [];
  let mediaFiles: string[];
  if (built.input.endsWith('.mpd')) {
    const reps = await readManifest(dir, built.input);
    mediaFiles = [];
    for (const rep of reps) {
      let probeFile: string;
      if (rep.single !== undefined) {
        probeFile = rep.single;
        mediaFiles.push(rep.single);
      } else {
        const parts = [rep.init!, ...rep.media!];
        probeFile = `probe-${rep.id}.mp4`;
        await concatFiles(
          parts.map((p) => path.join(dir, p)),
          path.join(dir, probeFile),
        );
        mediaFiles.push(...parts);
      }
      const found = await probeStreams(path.join(dir, probeFile));
      const s = found[0];
      if (found.length !== 1 || s === undefined)
        throw new Error(`${recipe.name}: ${probeFile} holds ${found.length} streams, expected 1`);
      if (s.codec_type !== rep.kind)
        throw new Error(`${recipe.name}: representation ${rep.id} is ${rep.kind} but ffprobe sees ${s.codec_type}`);
      streams.push({
        kind: rep.kind,
        trackId: trackIdOf(s, probeFile),
        probeFile,
        probeStreamIndex: s.index ?? 0,
        representationId: rep.id,
      });
    }
  } else {
    mediaFiles = [built.input];
    for (const s of await probeStreams(path.join(dir, built.input))) {
      streams.push({
        kind: s.codec_type === 'video' ? 'video' : 'audio',
        trackId: trackIdOf(s, built.input),
        probeFile: built.input,
        probeStreamIndex: s.index ?? 0,
      });
    }
  }
  let sizeBytes = 0;
  for (const f of new Set(mediaFiles)) sizeBytes += (await stat(path.join(dir, f))).size;
  return { name: recipe.name, input: built.input, layout: recipe.layout, tags: recipe.tags, streams, sizeBytes };
}

// ---------------------------------------------------------------------------------------------
// The cache: stamps, a lock between processes, temp folders renamed into place.

interface Stamp {
  version: number;
  sourceVersion: number;
  fixture: StoredFixture;
}

function stampMatches(recipe: Recipe, stamp: Stamp | undefined): stamp is Stamp {
  return (
    stamp !== undefined &&
    stamp.version === recipe.version &&
    stamp.sourceVersion === (recipe.fromSource ? SOURCE_VERSION : 0) &&
    stamp.fixture?.name === recipe.name
  );
}

async function readStamp(dir: string): Promise<Stamp | undefined> {
  try {
    return JSON.parse(await readFile(path.join(dir, 'done.json'), 'utf8')) as Stamp;
  } catch {
    return undefined;
  }
}

async function exists(file: string): Promise<boolean> {
  try {
    await access(file, constants.R_OK);
    return true;
  } catch {
    return false;
  }
}

/** The stored fixture with absolute paths, if its stamp matches the recipe and its files are there. */
async function loadFixture(recipe: Recipe, root: string): Promise<Fixture | undefined> {
  const dir = path.join(root, recipe.name);
  const stamp = await readStamp(dir);
  if (!stampMatches(recipe, stamp)) return undefined;
  const f = stamp.fixture;
  const files = [f.input, ...f.streams.map((s) => s.probeFile)];
  for (const file of files) if (!(await exists(path.join(dir, file)))) return undefined;
  // Tags and layout describe the recipe, so they come from the code rather than the stamp.
  return {
    ...f,
    tags: recipe.tags,
    layout: recipe.layout,
    dir,
    input: path.join(dir, f.input),
    streams: f.streams.map((s) => ({ ...s, probeFile: path.join(dir, s.probeFile) })),
  };
}

function tempDir(root: string, name: string): string {
  return path.join(root, `.tmp-${name}-${process.pid}-${randomBytes(4).toString('hex')}`);
}

/**
 * A set of generated media in the fixtures cache, made once per `version`: `build` fills a
 * temp folder (the stamp `done.json` with the version is written after it), which is renamed
 * into place under the lock, so parallel test files make it once and a crash leaves nothing
 * half-made. `describe` turns the folder into the paths a test uses.
 */
export async function ensureFixtureSet<T>(
  name: string,
  version: number,
  build: (tmp: string) => Promise<void>,
  describe: (dir: string) => T,
): Promise<T> {
  const root = fixturesRoot();
  const dir = path.join(root, name);
  const current = async () => ((await readStamp(dir)) as { version?: number } | undefined)?.version === version;
  if (await current()) return describe(dir);
  await mkdir(root, { recursive: true });
  return withLock(root, async () => {
    if (!(await current()))
      await buildInto(root, name, async (tmp) => {
        await build(tmp);
        await writeFile(path.join(tmp, 'done.json'), JSON.stringify({ version }, null, 2));
      });
    return describe(dir);
  });
}

/** Makes `dir` by filling a temp folder and renaming it into place, so a crash leaves nothing half-made. */
export async function buildInto(root: string, name: string, fill: (tmp: string) => Promise<void>): Promise<void> {
  const tmp = tempDir(root, name);
  await mkdir(tmp, { recursive: true });
  try {
    await fill(tmp);
    const dir = path.join(root, name);
    await rm(dir, { recursive: true, force: true });
    await rename(tmp, dir);
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    throw e;
  }
}

async function ensureSource(root: string, force: boolean): Promise<string> {
  const dir = path.join(root, SOURCE_DIR);
  const file = path.join(dir, SOURCE_FILE);
  const stamp = (await readStamp(dir)) as { version?: number } | undefined;
  if (!force && stamp?.version === SOURCE_VERSION && (await exists(file))) return file;
  await buildInto(root, SOURCE_DIR, async (tmp) => {
    const video = words('-c:v libx264 -preset veryfast -bf 3 -sc_threshold 0');
    await ffmpeg([...lavfiInputs(), ...video, ...GOP_ARGS, ...AAC_ARGS, SOURCE_FILE], tmp);
    await writeFile(path.join(tmp, 'done.json'), JSON.stringify({ version: SOURCE_VERSION }, null, 2));
  });
  return file;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A lock folder so that two processes (parallel test files) do not make the same fixtures at once. */
export async function withLock<T>(root: string, fn: () => Promise<T>): Promise<T> {
  const lock = path.join(root, '.lock');
  const owner = path.join(lock, 'owner.json');
  const deadline = Date.now() + 10 * 60_000;
  for (;;) {
    try {
      await mkdir(lock);
      await writeFile(owner, JSON.stringify({ pid: process.pid }));
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      let stale = false;
      try {
        const { pid } = JSON.parse(await readFile(owner, 'utf8')) as { pid: number };
        stale = !isAlive(pid);
      } catch {
        // Owner not written yet (or lost): stale only if the lock is old.
        const s = await stat(lock).catch(() => undefined);
        stale = s !== undefined && Date.now() - s.mtimeMs > 30_000;
      }
      if (stale) await rm(lock, { recursive: true, force: true });
      else if (Date.now() > deadline) throw new Error(`fixtures: gave up waiting for the lock ${lock}`);
      else await sleep(200);
    }
  }
  try {
    return await fn();
  } finally {
    await rm(lock, { recursive: true, force: true });
  }
}

/** Runs tasks with at most `limit` at once. */
function limiter(limit: number): <T>(task: () => Promise<T>) => Promise<T> {
  let active = 0;
  const waiting: (() => void)[] = [];
  return async (task) => {
    while (active >= limit) await new Promise<void>((resolve) => waiting.push(resolve));
    active++;
    try {
      return await task();
    } finally {
      active--;
      waiting.shift()?.();
    }
  };
}

/** Options of ensureFixtures. */
export interface EnsureOptions {
  /** Remake every fixture even if its stamp matches. */
  force?: boolean;
  /** Progress lines (what is being made, what is skipped and why). */
  log?: (line: string) => void;
}

/**
 * Makes every fixture of the matrix that is missing or out of date, and returns all of them (a
 * fixture this machine cannot make, such as AV1 without an AV1 encoder, is left out and logged).
 */
export async function ensureFixtures(options: EnsureOptions = {}): Promise<Fixture[]> {
  const root = fixturesRoot();
  const log = options.log ?? (() => {});
  if (!options.force) {
    const cached = await Promise.all(RECIPES.map((r) => loadFixture(r, root)));
    if (cached.every((f) => f !== undefined)) return cached as Fixture[];
  }
  await mkdir(root, { recursive: true });
  return withLock(root, async () => {
    // Leftovers of interrupted runs; only the lock holder makes temp folders.
    for (const entry of await readdir(root)) {
      if (entry.startsWith('.tmp-')) await rm(path.join(root, entry), { recursive: true, force: true });
    }
    const limit = limiter(PARALLEL);
    let sourcePromise: Promise<string> | undefined;
    const source = () => {
      sourcePromise ??= limit(() => ensureSource(root, options.force === true));
      return sourcePromise;
    };
    // allSettled: the lock must outlive every tool still running when one recipe fails.
    const settled = await Promise.allSettled(
      RECIPES.map(async (recipe): Promise<Fixture | undefined> => {
        if (!options.force) {
          const cached = await loadFixture(recipe, root);
          if (cached) return cached;
        }
        const reason = await recipe.unavailable?.();
        if (reason) {
          log(`skipped ${recipe.name}: ${reason}`);
          return undefined;
        }
        // Wait for the source outside the limiter so that waiting never holds a slot.
        const src = recipe.fromSource ? await source() : '';
        await limit(async () => {
          const started = Date.now();
          await buildInto(root, recipe.name, async (tmp) => {
            const built = await recipe.build({ dir: tmp, source: src });
            const fixture = await describe(recipe, tmp, built);
            const stamp: Stamp = { version: recipe.version, sourceVersion: recipe.fromSource ? SOURCE_VERSION : 0, fixture };
            await writeFile(path.join(tmp, 'done.json'), JSON.stringify(stamp, null, 2));
          });
          log(`made ${recipe.name} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
        });
        const made = await loadFixture(recipe, root);
        if (!made) throw new Error(`fixtures: ${recipe.name} was made but its stamp does not load`);
        return made;
      }),
    );
    const failures = settled.flatMap((r, i) => (r.status === 'rejected' ? [`${RECIPES[i]!.name}: ${String(r.reason)}`] : []));
    if (failures.length > 0) throw new Error(`fixtures: ${failures.length} failed\n${failures.join('\n')}`);
    return settled.flatMap((r) => (r.status === 'fulfilled' && r.value !== undefined ? [r.value] : []));
  });
}

function printTable(fixtures: Fixture[]): void {
  const rows = fixtures.map((f) => [
    f.name,
    f.layout,
    path.relative(fixturesRoot(), f.input),
    f.streams.map((s) => `${s.kind}#${s.trackId}${s.representationId === undefined ? '' : `@${s.representationId}`}`).join(' '),
    `${(f.sizeBytes / 1024).toFixed(0)} KiB`,
    f.tags.join(','),
  ]);
  const header = ['name', 'layout', 'input', 'streams', 'size', 'tags'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ');
  console.log(line(header));
  for (const r of rows) console.log(line(r));
  const total = fixtures.reduce((sum, f) => sum + f.sizeBytes, 0);
  console.log(`${fixtures.length} fixtures, ${(total / 1024 / 1024).toFixed(1)} MiB of media in ${fixturesRoot()}`);
}

const invokedDirectly = process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (invokedDirectly) {
  const started = Date.now();
  const fixtures = await ensureFixtures({ force: process.argv.includes('--force'), log: (l) => console.error(l) });
  printTable(fixtures);
  console.log(`done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}
