// `vvf encode --queue` with `vvf worker`s: a real redis-server on loopback, workers and
// coordinators as their own processes. Two workers encode a 12 s source's chunks (2 rungs, 4 s
// chunks) and every check holds; the coordinator's page and /metrics show the job; an upload
// with another key is refused; a worker killed mid-chunk loses its task to the other; a
// coordinator killed mid-run starts again without encoding its done chunks again.
import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, test } from 'node:test';
import { promisify } from 'node:util';
import { uploadHeaders } from '../../src/catalog/upload-auth.js';
import { openMovie } from '../../src/demux/open-movie.js';
import { compareWithSource } from '../../src/encode/checks.js';
import type { JobState } from '../../src/encode/job-state.js';
import { planChunks } from '../../src/encode/plan.js';
import { generated } from '../helpers/generated-media.js';
import { decodeErrors } from '../helpers/media.js';
import { startRedis, type TestRedis } from '../store/redis-helpers.js';

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'vvf-queue-'));
const KEY = 'a key shared by the coordinator and its workers';
const SETTINGS = ['--ladder', '180p,144p', '--preset', 'veryfast', '--chunk', '4'];
/** Source frames: 12 s at 25 fps. */
const FRAMES = 300;

/** A `vvf …` child process and what it printed so far. */
interface Child {
  child: ChildProcess;
  stdout: string;
  stderr: string;
  exited: Promise<number | null>;
}

const children: ChildProcess[] = [];

function vvf(args: string[]): Child {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  const c: Child = {
    child,
    stdout: '',
    stderr: '',
    exited: new Promise((r) => child.once('exit', (code) => r(code))),
  };
  child.stdout!.on('data', (d: Buffer) => {
    c.stdout += d.toString();
  });
  child.stderr!.on('data', (d: Buffer) => {
    c.stderr += d.toString();
  });
  return c;
}

/** Polls `check` every 100 ms until it gives a value (at most `ms`). */
async function until<T>(what: string, check: () => T | undefined | false, ms = 60_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A `vvf worker` on the test's Redis; its JSON log lines parsed as they come. */
function worker(redis: TestRedis, key = KEY): Child & { lines(): Record<string, unknown>[] } {
  const c = vvf(['worker', '--queue', redis.url, '--key', key, '--jobs', '1', '--lock', '2']);
  return Object.assign(c, {
    lines: () =>
      c.stdout
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  });
}

async function ready(w: ReturnType<typeof worker>): Promise<string> {
  const line = await until('a worker to start', () => w.lines().find((l) => l.msg === 'vvf worker ready'), 30_000);
  return line.worker as string;
}

function coordinator(redis: TestRedis, out: string, extra: string[] = [], settings = SETTINGS): Child {
  return vvf(['encode', src, ...settings, '--queue', redis.url, '--key', KEY, '-o', out, '--json', ...extra]);
}

async function stop(c: Child, signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
  if (c.child.exitCode === null && c.child.signalCode === null) c.child.kill(signal);
  return c.exited;
}

function jobOf(out: string): JobState | undefined {
  try {
    return JSON.parse(readFileSync(join(out, 'job.json'), 'utf8')) as JobState;
  } catch {
    return undefined;
  }
}

/** Tasks each worker started, in order. */
function starts(w: ReturnType<typeof worker>): string[] {
  return w
    .lines()
    .filter((l) => l.msg === 'start')
    .map((l) => l.task as string);
}

let src = '';
let redis: TestRedis;
before(async () => {
  redis = await startRedis();
  // 12 s, 320x180, 25 fps, 3 B-frames, a keyframe every 2 s (closed GOPs), AAC.
  src = await generated('queue-source.mp4', [
    '-f',
    'lavfi',
    '-i',
    'testsrc2=size=320x180:rate=25',
    '-f',
    'lavfi',
    '-i',
    'sine=frequency=500:sample_rate=48000',
    '-t',
    '12',
    '-c:v',
    'libx264',
    '-preset',
    'veryfast',
    '-bf',
    '3',
    '-g',
    '50',
    '-keyint_min',
    '50',
    '-sc_threshold',
    '0',
    '-c:a',
    'aac',
    '-b:a',
    '64k',
  ]);
});
/** Stops what a test left running (a failed test's workers would take the next test's tasks). */
async function stopAll(): Promise<void> {
  const left = children.filter((c) => c.exitCode === null && c.signalCode === null);
  await Promise.all(
    left.map((c) => {
      const exited = new Promise((r) => c.once('exit', r));
      c.kill('SIGKILL');
      return exited;
    }),
  );
}

afterEach(stopAll);
after(async () => {
  await stopAll();
  await redis?.stop();
});

test('two workers encode every chunk; every check holds; the page and /metrics show the job; a wrong key cannot upload', {
  timeout: 120_000,
}, async () => {
  const out = join(dir, 'two-workers');
  const workers = [worker(redis), worker(redis)];
  const names = await Promise.all(workers.map(ready));
  // --serve: the coordinator stays up once done, so that its page can be read.
  const c = coordinator(redis, out, ['--serve']);
  const url = await until('the coordinator', () => /coordinator at (http:\S+),/.exec(c.stderr)?.[1], 30_000);
  // While it runs, its page lists the job.
  const running = await until('the job on the page', () => jobOf(out)?.state === 'encoding', 30_000);
  assert.ok(running);
  const page0 = await (await fetch(`${url}/`)).text();
  assert.match(page0, /<section class="file job"[^>]*data-state="(encoding|assembling|checking|done)"/);
  assert.match(page0, /\d of 3 chunks done/);

  const job = await until('the job to end', () => {
    const j = jobOf(out);
    return j?.state === 'done' || j?.state === 'failed' ? j : undefined;
  });
  assert.equal(job.state, 'done', `${job.failure}\n${c.stderr}`);
  assert.equal(job.plan.cuts.length, 3, '12 s in chunks of 4 s');
  assert.deepEqual(
    job.tasks.map((t) => t.id),
    ['audio', 'chunk-0000', 'chunk-0001', 'chunk-0002'],
  );
  for (const t of job.tasks) {
    assert.equal(t.state, 'done', t.id);
    assert.ok(t.worker !== undefined && names.includes(t.worker), `${t.id} ran on ${t.worker}`);
    assert.ok(Object.keys(t.outputs).length === (t.id === 'audio' ? 1 : 2));
  }
  // Every task once: no chunk encoded twice.
  assert.deepEqual(workers.flatMap(starts).sort(), ['audio', 'chunk-0000', 'chunk-0001', 'chunk-0002']);

  // Each rung, served by the coordinator: every frame of the source, decoding cleanly, the same checks as the local pool.
  const source = await openMovie(src);
  const plan = planChunks(source, 4);
  for (const [name, id] of Object.entries(job.published!.rungs)) {
    const file = `${url}/v/${id}.mp4`;
    const { stdout } = await run('ffprobe', [
      ...['-v', 'error', '-select_streams', 'v:0', '-count_packets'],
      ...['-show_entries', 'stream=nb_read_packets', '-of', 'csv=p=0', file],
    ]);
    assert.equal(Number(stdout.trim()), FRAMES, `${name}: frames`);
    assert.equal(await decodeErrors(file), '', `${name}: decodes`);
    const movie = await openMovie(file);
    assert.deepEqual(compareWithSource(name, movie, source, plan), [], `${name}: checks`);
    await Promise.all(movie.sources.map((s) => s.close()));
  }
  await Promise.all(source.sources.map((s) => s.close()));

  // The page: the job done, its rungs linked to their files, the set to its player page.
  const page = await (await fetch(`${url}/`)).text();
  assert.match(page, /data-state="done"/);
  assert.match(page, /3 of 3 chunks done/);
  for (const id of Object.values(job.published!.rungs)) assert.ok(page.includes(`href="/v/${id}.mp4"`), id);
  assert.ok(page.includes(`href="/v/${job.published!.presentation}/player.html"`));
  assert.equal((await fetch(`${url}/v/${job.published!.presentation}/player.html`)).status, 200);
  // /metrics: tasks by state, and the seconds encoders took.
  const metrics = await (await fetch(`${url}/metrics`)).text();
  assert.match(metrics, /^vvf_encode_tasks\{state="done"\} 4$/m);
  assert.match(metrics, /^vvf_encode_tasks\{state="running"\} 0$/m);
  const seconds = Number(/^vvf_encode_seconds_total (\S+)$/m.exec(metrics)?.[1]);
  assert.ok(seconds > 0, `encode seconds ${seconds}`);
  // No chunk stays registered: the rungs and the set only.
  const files = ((await (await fetch(`${url}/v`)).json()) as { files: { id: string }[] }).files.map((f) => f.id).sort();
  assert.deepEqual(files, [...Object.values(job.published!.rungs), job.published!.presentation].sort());

  // An upload signed with another key is refused, and leaves the output as it was.
  const target = join(out, 'chunks', '180p', '0001.mp4');
  const before = readFileSync(target);
  const path = '/upload/chunks/180p/0001.mp4';
  const body = Buffer.from('not an encoded chunk');
  const status = await new Promise<number>((resolve, reject) => {
    const req = request(
      `${url}${path}`,
      {
        method: 'PUT',
        headers: {
          'content-length': String(body.length),
          ...uploadHeaders('another key', {
            path,
            size: body.length,
            sha256: 'ab'.repeat(32),
            expires: Math.floor(Date.now() / 1000) + 60,
          }),
        },
      },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
  assert.equal(status, 401);
  assert.deepEqual(readFileSync(target), before);

  assert.equal(await stop(c), 0, c.stderr);
  for (const w of workers) assert.equal(await stop(w), 0);
});

test('a worker killed mid-chunk: its task goes to the other worker, and the job is done', { timeout: 120_000 }, async () => {
  const out = join(dir, 'killed-worker');
  // A slower preset: a chunk takes long enough to be killed in the middle of.
  const c = coordinator(redis, out, [], ['--ladder', '180p,144p', '--preset', 'slower', '--chunk', '4']);
  const first = worker(redis);
  await ready(first);
  // The first chunk it takes (after the audio): killed while its ffmpeg runs.
  const task = await until('a chunk on the first worker', () => starts(first).find((t) => t.startsWith('chunk')), 60_000);
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(jobOf(out)?.tasks.find((t) => t.id === task)?.state === 'done', false, `${task} not done yet`);
  first.child.kill('SIGKILL');
  await first.exited;
  const second = worker(redis);
  const name = await ready(second);
  // What the killed worker left in the temporary folder is removed by the next worker to start.
  const left = readdirSync(tmpdir()).filter((n) => n.startsWith(`vvf-worker-${first.child.pid}-`));
  assert.deepEqual(left, []);
  assert.equal(await c.exited, 0, c.stderr);
  const job = JSON.parse(c.stdout) as JobState;
  assert.equal(job.state, 'done', job.failure);
  const t = job.tasks.find((x) => x.id === task)!;
  assert.equal(t.worker, name, `${task} finished by the second worker`);
  assert.ok(starts(second).includes(task));
  assert.match(c.stderr, /stalled/, 'the coordinator said the task went to another worker');
  await stop(second);
});

test('a coordinator killed mid-run starts again without encoding its done chunks again', { timeout: 120_000 }, async () => {
  const out = join(dir, 'killed-coordinator');
  // One worker, one task at a time: the chunks finish one after another.
  const w = worker(redis);
  await ready(w);
  const first = coordinator(redis, out);
  const doneBefore = await until('a chunk done', () => {
    const done = jobOf(out)?.tasks.filter((t) => t.state === 'done' && t.id.startsWith('chunk'));
    return done !== undefined && done.length >= 1 ? done.map((t) => t.id) : undefined;
  });
  first.child.kill('SIGKILL');
  await first.exited;
  assert.ok(doneBefore.length < 3, `killed after ${doneBefore.length} chunks`);
  const stamp = (id: string) => statSync(join(out, 'chunks', '180p', `${id.slice('chunk-'.length)}.mp4`)).mtimeMs;
  const stamps = doneBefore.map(stamp);
  const startedBefore = starts(w).length;

  const second = coordinator(redis, out);
  assert.equal(await second.exited, 0, second.stderr);
  const job = JSON.parse(second.stdout) as JobState;
  assert.equal(job.state, 'done', job.failure);
  assert.ok(job.tasks.every((t) => t.state === 'done'));
  // Not started again by the worker, not written again.
  const startedAfter = starts(w).slice(startedBefore);
  for (const id of doneBefore) assert.ok(!startedAfter.includes(id), `${id} encoded again: ${startedAfter.join(', ')}`);
  assert.deepEqual(doneBefore.map(stamp), stamps);
  // Every task started once in all, but the one the dead coordinator could not take back (it may be encoded again).
  const all = starts(w);
  assert.ok(new Set(all).size === 4 && all.length <= 5, `started: ${all.join(', ')}\n${w.stdout}\n${second.stderr}`);
  await stop(w);
});
