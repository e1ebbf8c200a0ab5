// `vvf encode`: a ladder encoded in parallel chunks read through vvf, assembled virtually; `--status` reports a job.
import { mkdir } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { availableParallelism } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { signRecipe } from '../../catalog/signed-url.js';
import { runEncode } from '../../encode/encode.js';
import { JOB_FILE, type JobState, readJob } from '../../encode/job-state.js';
import { DEFAULT_LADDER, type EncodeCodec, parseLadder } from '../../encode/ladder.js';
import type { QueueEngine } from '../../encode/queue-engine.js';
import { VvfError } from '../../errors.js';
import { startServer } from '../../server/app.js';
import { defaultServeConfig } from '../../server/config.js';
import { parse } from '../args.js';
import { bytes } from '../format.js';

export const encodeUsage = `  encode <input> -o DIR [options]       encode a ladder in parallel chunks, assembled without copying
      --ladder <rungs>                  heights, optionally with bitrates (default ${DEFAULT_LADDER}; 720p@3000k)
      --codec <h264|av1|vp9>            libx264, libsvtav1 or libvpx-vp9 (default h264)
      --encoder <name>                  another ffmpeg encoder of the codec (h264_nvenc, h264_vaapi, h264_qsv)
      --device <path>                   the VAAPI or QSV device (default /dev/dri/renderD128)
      --preset <preset>                 the encoder's speed preset (x264: veryfast…slow)
      --quality <n>                     constant quality under each rung's bitrate cap (x264 CRF, default 23)
      --chunk <seconds>                 target chunk duration (default 10)
      --chunk-fallback decode           cut anywhere when no closed-GOP keyframe fits (chunks decode a lead-in)
      --gop <seconds>                   keyframe interval, the same instants in every rung (default 2)
      --segment <seconds>               segment duration of the published DASH/HLS set (default 4)
      --audio <encode|copy>             AAC once, whole (default), or the source's audio as it is
      --jobs <n>                        encoder processes at once (default: one per core)
      --task-timeout <seconds>          an encoder running longer is killed, a failed attempt (default 3600)
      --queue <redis://host:6379>       queue the tasks on Redis for \`vvf worker\`s on any machine instead
      --key <key>                       the key shared with the workers (VVF_ENCODE_KEY; needed with --queue)
      --listen <host:port>              where the coordinator's server listens (default 127.0.0.1:0)
      --public-url <url>                where workers reach it (default: the address it listens at)
      --serve                           keep serving the results and the job's page once it ends, until interrupted
      -o, --output <dir>                the job's directory (outputs, job.json, vvf.sqlite); a rerun resumes
  encode --status <dir> [--json]        what a job has done and published`;

const CODECS: readonly EncodeCodec[] = ['h264', 'av1', 'vp9'];

/** `host:port`, `[v6]:port` or `:port`. */
function parseListen(value: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(value);
  const port = Number(m?.[3]);
  if (!m || !(port >= 0 && port <= 65535)) throw new VvfError('USAGE', `--listen takes host:port, not ${value}`);
  return { host: m[1] ?? (m[2] || '0.0.0.0'), port };
}

function positiveNumber(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!(n > 0) || !Number.isFinite(n)) throw new VvfError('USAGE', `${name} must be a positive number`);
  return n;
}

export async function encode(args: string[]): Promise<number> {
  const { values, positionals } = parse(
    args,
    {
      ladder: { type: 'string' },
      codec: { type: 'string' },
      encoder: { type: 'string' },
      device: { type: 'string' },
      preset: { type: 'string' },
      quality: { type: 'string' },
      chunk: { type: 'string' },
      'chunk-fallback': { type: 'string' },
      gop: { type: 'string' },
      segment: { type: 'string' },
      audio: { type: 'string' },
      jobs: { type: 'string' },
      'task-timeout': { type: 'string' },
      queue: { type: 'string' },
      key: { type: 'string' },
      listen: { type: 'string' },
      'public-url': { type: 'string' },
      serve: { type: 'boolean' },
      output: { type: 'string', short: 'o' },
      status: { type: 'string' },
      json: { type: 'boolean' },
    },
    'encode',
    encodeUsage,
  );
  if (values.status !== undefined) return status(resolve(values.status), values.json === true);
  if (positionals.length !== 1) throw new VvfError('USAGE', 'expected: vvf encode <input> -o <dir>');
  if (!values.output) throw new VvfError('USAGE', 'give -o <dir>: the job directory');
  const codec = (values.codec ?? 'h264') as EncodeCodec;
  if (!CODECS.includes(codec)) throw new VvfError('USAGE', `--codec must be one of ${CODECS.join(', ')}`);
  if (values['chunk-fallback'] !== undefined && values['chunk-fallback'] !== 'decode')
    throw new VvfError('USAGE', '--chunk-fallback takes one value: decode');
  const audio = values.audio ?? 'encode';
  if (audio !== 'encode' && audio !== 'copy') throw new VvfError('USAGE', '--audio must be encode or copy');
  const input = /^[a-z][a-z0-9+.-]*:\/\//i.test(positionals[0]!) ? positionals[0]! : resolve(positionals[0]!);
  const dir = resolve(values.output);
  const local = !input.includes('://');
  const inputPath = input.replace(/#.*$/, '');
  const queue = values.queue;
  const key = values.key ?? process.env.VVF_ENCODE_KEY;
  if (queue !== undefined && !key)
    throw new VvfError('USAGE', '--queue needs a key shared with the workers: --key or VVF_ENCODE_KEY');
  if (queue !== undefined && values.jobs !== undefined)
    throw new VvfError('USAGE', '--jobs is for the local pool; with --queue, each vvf worker takes --jobs');
  const listen = parseListen(values.listen ?? '127.0.0.1:0');
  const taskTimeoutMs = positiveNumber(values['task-timeout'], '--task-timeout', 3600) * 1000;
  let engine: QueueEngine | undefined;
  // What the server's page and /metrics show: this job, as it goes.
  let current: JobState | undefined;

  // The coordinator: a catalog whose files encoders read over HTTP, kept in the job's own store.
  await mkdir(dir, { recursive: true }).catch((e: NodeJS.ErrnoException) => {
    throw new VvfError('OUTPUT_UNWRITABLE', `cannot create ${dir}: ${e.code ?? e.message}`);
  });
  const running = await startServer(
    {
      ...defaultServeConfig,
      host: listen.host,
      port: listen.port,
      roots: local ? [dirname(inputPath), dir] : [dir],
      origins: local ? [] : [new URL(input).origin],
      storePath: join(dir, 'vvf.sqlite'),
      ...(values['public-url'] ? { publicUrl: values['public-url'].replace(/\/+$/, '') } : {}),
      // Workers read chunks by signed recipe URLs; nothing is signable without --queue.
      ...(queue !== undefined ? { signingKey: key!, requestTimeoutMs: 3_600_000 } : {}),
    },
    {
      log: () => {},
      jobs: () => (current ? [current] : []),
      ...(queue !== undefined
        ? { upload: { dir, key: key!, accept: (path: string) => engine?.acceptsUpload(path) ?? false } }
        : {}),
    },
  );
  // The coordinator's own reads (checks after encoding) go to where it listens, whatever workers use.
  const address = running.server.address() as AddressInfo;
  const localHost = address.address === '0.0.0.0' || address.address === '::' ? '127.0.0.1' : address.address;
  const localUrl = `http://${localHost.includes(':') ? `[${localHost}]` : localHost}:${address.port}`;
  let queued = '';
  if (queue !== undefined) {
    // Loaded only here: BullMQ and the Redis client take most of a second to load.
    const { QueueEngine } = await import('../../encode/queue-engine.js');
    const { shownQueueUrl } = await import('../../encode/queue-job.js');
    engine = new QueueEngine({ redisUrl: queue, key: key!, publicUrl: running.url, timeoutMs: taskTimeoutMs });
    queued = `, tasks queued on ${shownQueueUrl(queue)}`;
  }
  if (queue !== undefined || values.serve) process.stderr.write(`coordinator at ${running.url}${queued}\n`);
  const progress = new Progress(process.stderr.isTTY === true);
  const events = progress.events();
  const phase = events.phase;
  events.phase = (state, job) => {
    current = job;
    phase?.(state, job);
  };
  try {
    const result = await runEncode(running.catalog, {
      input,
      dir,
      ladder: parseLadder(values.ladder ?? DEFAULT_LADDER, codec),
      video: {
        codec,
        gopSeconds: positiveNumber(values.gop, '--gop', 2),
        ...(values.encoder ? { encoder: values.encoder } : {}),
        ...(values.device ? { device: values.device } : {}),
        ...(values.preset ? { preset: values.preset } : {}),
        ...(values.quality !== undefined ? { quality: positiveNumber(values.quality, '--quality', 23) } : {}),
      },
      chunkSeconds: positiveNumber(values.chunk, '--chunk', 10),
      decodeFallback: values['chunk-fallback'] === 'decode',
      audio,
      jobs: Math.round(positiveNumber(values.jobs, '--jobs', availableParallelism())),
      segmentSeconds: positiveNumber(values.segment, '--segment', 4),
      taskTimeoutMs,
      fileUrl: (id) => `${localUrl}/v/${id}.mp4`,
      ...(engine ? { engine, inputUrl: (recipe) => `${running.url}${signRecipe(recipe, key!)}` } : {}),
      events,
    });
    progress.finish();
    const roots = local ? [dirname(inputPath), dir] : [dir];
    process.stderr.write(
      `${result.rungs.map((r) => `  ${r.name}: /v/${r.id}.mp4 (${bytes(r.size)})`).join('\n')}\n` +
        `  set: /v/${result.presentation.id}/manifest.mpd, /v/${result.presentation.id}/manifest.m3u8\n` +
        `serve them: vvf serve --store ${join(dir, 'vvf.sqlite')} ${roots.map((r) => `--root ${r}`).join(' ')}\n` +
        `memory: coordinator ${bytes(result.job.memory?.coordinator ?? 0)}, encoders ${bytes(result.job.memory?.encoders ?? 0)} at most\n`,
    );
    if (values.json) process.stdout.write(`${JSON.stringify(result.job, null, 2)}\n`);
    return 0;
  } catch (e) {
    if (!values.serve) throw e;
    // Served all the same, so that the page says why.
    process.stderr.write(`vvf: ${e instanceof Error ? e.message : String(e)}\n`);
    return 1;
  } finally {
    progress.finish();
    if (values.serve) await untilInterrupted(running.url);
    await running.close();
  }
}

/** Waits for SIGINT or SIGTERM (`--serve`). */
async function untilInterrupted(url: string): Promise<void> {
  process.stderr.write(`serving at ${url} until interrupted\n`);
  await new Promise<void>((r) => {
    process.once('SIGINT', () => r());
    process.once('SIGTERM', () => r());
  });
}

async function status(dir: string, json: boolean): Promise<number> {
  const job = await readJob(dir);
  if (!job) throw new VvfError('NOT_FOUND', `no encode job in ${dir} (no ${JOB_FILE})`);
  if (json) {
    process.stdout.write(`${JSON.stringify(job, null, 2)}\n`);
    return 0;
  }
  process.stdout.write(`${describeJob(job)}\n`);
  return 0;
}

/** A job in a few lines: state, chunks done, rungs, what was published, why it failed. */
export function describeJob(job: JobState): string {
  const done = job.tasks.filter((t) => t.state === 'done').length;
  const lines = [
    `${job.input}: ${job.state}, ${done} of ${job.tasks.length} tasks done (updated ${job.updated})`,
    `  rungs: ${job.rungs.map((r) => `${r.name} ${r.width}x${r.height} ${Math.round(r.bitrate / 1000)}k`).join(', ')}`,
    `  chunks: ${job.plan.cuts.length}${job.plan.decodeFallback ? ' (cut anywhere, decoding a lead-in)' : ''}`,
  ];
  for (const t of job.tasks)
    if (t.state === 'failed' || t.error) lines.push(`  ${t.id}: ${t.state}${t.error ? `: ${t.error}` : ''}`);
  if (job.published) {
    lines.push(
      `  published: ${Object.entries(job.published.rungs)
        .map(([name, id]) => `${name} /v/${id}.mp4`)
        .join(', ')}; set /v/${job.published.presentation}/manifest.mpd`,
    );
  }
  if (job.failure) lines.push(`  failure: ${job.failure}`);
  if (job.memory)
    lines.push(`  peak memory: coordinator ${bytes(job.memory.coordinator)}, encoders ${bytes(job.memory.encoders)}`);
  return lines.join('\n');
}

/** The progress line: chunks done of total, frames per second, ETA, and what each lane is on. */
class Progress {
  private total = 0;
  private done = 0;
  private framesTotal = 0;
  private framesDone = 0;
  private readonly lanes = new Map<string, number>();
  /** Who runs each task, when queue workers do. */
  private readonly workers = new Map<string, string>();
  private readonly started = performance.now();
  private lastDraw = 0;
  private drawn = false;
  private phase = 'planning';

  constructor(private readonly tty: boolean) {}

  events(): NonNullable<Parameters<typeof runEncode>[1]['events']> {
    const frames = new Map<string, number>();
    return {
      planned: (analysis, plan, rungs, dropped) => {
        this.total = plan.cuts.length;
        this.framesTotal = analysis.video.frames;
        const note = dropped.length > 0 ? ` (${dropped.map((r) => r.name).join(', ')} above the source, left out)` : '';
        this.line(
          `${plan.cuts.length} chunks of ~${(plan.duration / plan.timescale / plan.cuts.length).toFixed(1)} s, ` +
            `${analysis.video.frames} frames at ${analysis.video.frameRate.fps.toFixed(3)} fps` +
            `${analysis.video.frameRate.constant ? '' : ' (variable)'}, rungs ${rungs.map((r) => r.name).join(', ')}${note}`,
        );
      },
      phase: (state) => {
        this.phase = state;
        if (state !== 'encoding') this.draw(true);
      },
      taskStart: (id, _attempt, worker) => {
        this.lanes.set(id, 0);
        if (worker !== undefined) this.workers.set(id, worker);
      },
      taskProgress: (id, frame) => {
        this.framesDone += frame - (frames.get(id) ?? 0);
        frames.set(id, frame);
        this.lanes.set(id, frame);
        this.draw(false);
      },
      taskRetry: (id, error) => this.line(`${id}: ${error}; trying again`),
      taskDone: (id) => {
        this.lanes.delete(id);
        this.workers.delete(id);
        if (id !== 'audio') this.done++;
        this.draw(false);
      },
    };
  }

  private line(text: string): void {
    if (this.drawn) process.stderr.write('\n');
    this.drawn = false;
    process.stderr.write(`${text}\n`);
  }

  private draw(force: boolean): void {
    const now = performance.now();
    if (!force && now - this.lastDraw < 200) return;
    this.lastDraw = now;
    const seconds = (now - this.started) / 1000;
    const fps = this.framesDone / Math.max(seconds, 0.001);
    const left = this.framesTotal > this.framesDone && fps > 0 ? (this.framesTotal - this.framesDone) / fps : 0;
    const width = 24;
    const filled = this.total > 0 ? Math.round((this.done / this.total) * width) : 0;
    const lanes = [...this.lanes.entries()]
      .map(([id, f]) => `${id.replace('chunk-', '#')}@${f}${this.workers.has(id) ? `(${this.workers.get(id)})` : ''}`)
      .join(' ');
    const text =
      this.phase === 'encoding'
        ? `[${'#'.repeat(filled)}${' '.repeat(width - filled)}] ${this.done}/${this.total} chunks, ${fps.toFixed(0)} fps, ETA ${Math.ceil(left)} s  ${lanes}`
        : `${this.phase}…`;
    if (this.tty) {
      process.stderr.write(`\r${text.slice(0, 160).padEnd(this.drawn ? 160 : 0)}`);
      this.drawn = true;
    } else if (force) process.stderr.write(`${text}\n`);
  }

  finish(): void {
    if (this.drawn) process.stderr.write('\n');
    this.drawn = false;
  }
}
