// ffmpeg command lines of an encode: one process per chunk decodes once and encodes every rung; audio once, whole.
import { VvfError } from '../errors.js';
import { ENCODERS, type EncodeCodec, type Rung } from './ladder.js';

/** How the video of every rung is encoded. */
export interface VideoSettings {
  codec: EncodeCodec;
  /** An ffmpeg encoder other than the codec's software one (h264_nvenc, h264_vaapi, h264_qsv): same pipeline, its name and options. */
  encoder?: string;
  /** Seconds between keyframes, the same instants in every rung (default 2): closed GOPs, no scene-cut keyframes. */
  gopSeconds: number;
  /** Speed/quality preset of the encoder (x264: veryfast … slow; SVT-AV1: 0–13; VP9: cpu-used 0–8). */
  preset?: string;
  /** Constant-quality level (x264 CRF, default 23; VP9 32; SVT-AV1 35), capped by each rung's bitrate. */
  quality?: number;
  /** The device of a VAAPI or QSV encoder (default /dev/dri/renderD128). */
  device?: string;
}

/**
 * Encoder options by encoder. Software encoders encode each chunk at a constant quality
 * under the rung's bitrate as a cap (x264: CRF with maxrate and a 2× VBV buffer; VP9:
 * constrained quality), not at an average bitrate: an average-bitrate encoder spends its
 * first seconds finding its rate, so every chunk would start worse than a one-piece encode
 * (measured: 0.8–1.1 dB PSNR lost at 6 s chunks with ABR; 0.13 dB with capped CRF).
 * Keyframes come only where forced (the same instants in every rung), GOPs are closed.
 * Hardware encoders take the bitrate as their target; their defaults decide the rest.
 */
function encoderOptions(encoder: string, rung: Rung, s: VideoSettings): string[] {
  const cap = ['-maxrate', String(rung.bitrate), '-bufsize', String(rung.bitrate * 2)];
  // A GOP longer than any forced interval: keyframes come from -force_key_frames alone.
  const noAutoKeyframes = ['-g', '100000', '-keyint_min', '100000'];
  switch (encoder) {
    case 'libx264':
      return [
        '-preset',
        s.preset ?? 'medium',
        '-crf',
        String(s.quality ?? 23),
        ...cap,
        ...noAutoKeyframes,
        '-sc_threshold',
        '0',
        '-x264-params',
        'open-gop=0',
        '-pix_fmt',
        'yuv420p',
      ];
    case 'libsvtav1':
      // SVT-AV1 here has no capped CRF: constant quality alone; scd=0: no keyframes at scene changes.
      return [
        '-preset',
        s.preset ?? '8',
        '-crf',
        String(s.quality ?? 35),
        '-svtav1-params',
        'scd=0',
        '-g',
        '100000',
        '-pix_fmt',
        'yuv420p',
      ];
    case 'libvpx-vp9':
      // Constrained quality: -crf with -b:v as the ceiling.
      return [
        '-deadline',
        'good',
        '-cpu-used',
        s.preset ?? '4',
        '-row-mt',
        '1',
        '-crf',
        String(s.quality ?? 32),
        '-b:v',
        String(rung.bitrate),
        ...noAutoKeyframes,
        '-pix_fmt',
        'yuv420p',
      ];
    default:
      // Hardware encoders (NVENC, QSV, VAAPI): a target bitrate; forced keyframes become IDR frames where asked.
      return [
        '-b:v',
        String(rung.bitrate),
        ...cap,
        ...noAutoKeyframes,
        ...(encoder.endsWith('_nvenc') ? ['-forced-idr', '1'] : []),
      ];
  }
}

/** The encoder a settings object uses. */
export function encoderOf(s: VideoSettings): string {
  return s.encoder ?? ENCODERS[s.codec];
}

/**
 * One chunk, every rung: decoded once, split, scaled per rung, each encoded into its own
 * MP4 (video only). Input timestamps pass through unchanged (variable frame rates stay
 * exact), and keyframes fall every `gopSeconds` from the chunk's start, so every rung cuts
 * its GOPs — hence its DASH/HLS segments — at the same instants. Progress goes to stdout
 * as `key=value` lines (`-progress pipe:1`).
 */
export function chunkArgs(input: string, rungs: readonly Rung[], outputs: readonly string[], s: VideoSettings): string[] {
  const n = rungs.length;
  const encoder = encoderOf(s);
  const hw = hardwareOf(encoder, s.device);
  // Scaled in software, then (VAAPI, QSV) uploaded to the device the encoder reads frames from.
  const scaled = (r: Rung) => `scale=${r.width}:${r.height}:flags=bicubic,setsar=1${hw.upload}`;
  const graph =
    n === 1
      ? `[0:v]${scaled(rungs[0]!)}[o0]`
      : `[0:v]split=${n}${rungs.map((_, i) => `[s${i}]`).join('')};${rungs.map((r, i) => `[s${i}]${scaled(r)}[o${i}]`).join(';')}`;
  const args = [...hw.global, ...reading(input), '-filter_complex', graph];
  rungs.forEach((r, i) => {
    args.push(
      '-map',
      `[o${i}]`,
      '-an',
      '-sn',
      '-dn',
      '-fps_mode',
      'passthrough',
      '-c:v',
      encoder,
      ...encoderOptions(encoder, r, s),
      '-force_key_frames',
      `expr:gte(t,n_forced*${s.gopSeconds})`,
      '-map_metadata',
      '-1',
      '-f',
      'mp4',
      '-y',
      outputs[i]!,
    );
  });
  return args;
}

/**
 * What a hardware encoder needs besides its name: VAAPI and QSV encode frames that live on
 * their device, so the device is opened before the input and each rung's scaled frames are
 * uploaded to it; NVENC (and software encoders) take frames from memory as they are.
 */
function hardwareOf(encoder: string, device: string | undefined): { global: string[]; upload: string } {
  if (encoder.endsWith('_vaapi')) {
    return { global: ['-vaapi_device', device ?? '/dev/dri/renderD128'], upload: ',format=nv12,hwupload' };
  }
  if (encoder.endsWith('_qsv')) {
    const init = device === undefined ? 'qsv=hw' : `qsv=hw,child_device=${device}`;
    return { global: ['-init_hw_device', init, '-filter_hw_device', 'hw'], upload: ',format=nv12,hwupload=extra_hw_frames=64' };
  }
  return { global: [], upload: '' };
}

/** The audio, whole, encoded once as AAC: the one audio codec every player of MP4, DASH and HLS plays. */
export function audioArgs(input: string, output: string, bitrate = 128_000): string[] {
  return [
    ...reading(input),
    '-map',
    '0:a:0',
    '-vn',
    '-c:a',
    'aac',
    '-b:a',
    String(bitrate),
    '-map_metadata',
    '-1',
    '-f',
    'mp4',
    '-y',
    output,
  ];
}

/** How every encode reads its input: quiet but for errors, progress as `key=value` lines on stdout. */
function reading(input: string): string[] {
  return ['-hide_banner', '-nostdin', '-v', 'error', '-progress', 'pipe:1', '-nostats', '-i', input];
}

/**
 * Where a task's input goes in its arguments, until the engine that runs it knows where it
 * reads from (this machine's server, or a coordinator's signed URL).
 */
export const INPUT_ARG = '{vvf:input}';

/** Where a task's `i`-th output goes, until the engine knows where it writes (a partial file of the job, a worker's temp folder). */
export function outputArg(i: number): string {
  return `{vvf:output:${i}}`;
}

/**
 * The arguments with the input and outputs in place. Only whole arguments equal to a
 * placeholder are replaced; each placeholder must be there exactly once, and no other:
 * arguments that came through a queue are checked before ffmpeg runs them.
 */
export function fillArgs(args: readonly string[], input: string, outputs: readonly string[]): string[] {
  const seen = new Set<string>();
  const filled = args.map((a) => {
    if (!a.startsWith('{vvf:')) return a;
    if (seen.has(a)) throw new VvfError('USAGE', `ffmpeg arguments name ${a} twice`);
    seen.add(a);
    if (a === INPUT_ARG) return input;
    const m = /^\{vvf:output:(\d+)\}$/.exec(a);
    const out = m ? outputs[Number(m[1])] : undefined;
    if (out === undefined) throw new VvfError('USAGE', `ffmpeg arguments hold ${a}, which names no output`);
    return out;
  });
  if (!seen.has(INPUT_ARG) || seen.size !== outputs.length + 1)
    throw new VvfError('USAGE', `ffmpeg arguments must name the input and ${outputs.length} outputs, each once`);
  return filled;
}
