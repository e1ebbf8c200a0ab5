// `npm run bench:serve` / `make bench-serve`: `vvf serve` against nginx serving the same bytes from a file (vvf issue 4).
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync } from 'node:fs';
import { mkdir, mkdtemp, open, readFile, rename, rm, stat, statfs, writeFile } from 'node:fs/promises';
import { Agent, createServer as createHttpServer, request } from 'node:http';
import { createServer } from 'node:net';
import { cpus, loadavg, release, tmpdir, totalmem } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { parseRecipe } from '../src/compose/recipe.js';
import { compileRecipe } from '../src/virtual/compile.js';
import { ensureBenchMedia, run } from './generate.js';

const SCRIPT = fileURLToPath(import.meta.url);
const ROOT = resolve(dirname(SCRIPT), '..');
const CACHE_ROOT = resolve(process.env.VVF_CACHE_DIR ?? join(ROOT, '.cache'));
/** The DASH pair of bench/generate.ts, shared with bench/run.ts. */
const CACHE = join(CACHE_ROOT, 'bench');
/**
 * The materialized file lives beside, not in, `.cache/bench`: run.ts reports that folder's
 * size as "the DASH files and the serialized virtual file, nothing else".
 */
const SERVE_CACHE = join(CACHE_ROOT, 'bench-serve');
const MATERIALIZED = join(SERVE_CACHE, 'progressive.mp4');
const RESULTS = join(ROOT, 'bench', 'RESULTS.md');
const RESULTS_SERVE = join(ROOT, 'bench', 'RESULTS-serve.md');
const LUA = join(ROOT, 'bench', 'random-range.lua');
const CLI = join(ROOT, 'dist', 'cli', 'main.js');

/** Rounds of every measurement, the servers taking turns to go first; medians are compared. The machine may be shared. */
const ROUNDS = Number(process.env.VVF_BENCH_ROUNDS ?? 3);
const STREAM_SECONDS = 15;
const RANDOM_SECONDS = 20;
const WARMUP_SECONDS = 3;
/** Single stream: consecutive ranges this long, so that a request is a sustained transfer and a run holds many. */
const STREAM_RANGE = 256 * 2 ** 20;
const RANDOM_RANGE = 2 ** 20;
const CONNECTIONS = 32;
/** wrk threads for the random ranges: 2 cores are shared by the server and the client. */
const THREADS = 2;
const TTFB_REQUESTS = 1000;
const TTFB_WARMUP = 100;
const TTFB_BYTES = 65536;
const SEED = 4;
/** Ranges compared byte for byte between the servers before measuring. */
const CHECK_RANGES = 16;
/** Read size of the plain Node reference server, the chunk size vvf serves with. */
const NODE_READ = 2 ** 20;

/** Targets of the issue: vvf's throughput over nginx's; vvf's time to first byte at p99. */
const THROUGHPUT_TARGET = 0.9;
const TTFB_TARGET_MS = 5;

const log = (s: string) => process.stderr.write(`[bench:serve] ${s}\n`);

type ServerName = 'nginx' | 'nginx-nopush' | 'node' | 'vvf';
const SERVERS: readonly ServerName[] = ['nginx', 'nginx-nopush', 'node', 'vvf'];
const LABELS: Record<ServerName, string> = {
  nginx: 'nginx, `tcp_nopush off`',
  'nginx-nopush': 'nginx, `tcp_nopush on`',
  node: 'Node `createReadStream` (info)',
  vvf: 'vvf serve',
};

interface Running {
  name: ServerName;
  url: string;
  process: ChildProcess;
  /** Processes whose CPU time is the server's (nginx: master and workers; node and vvf: the node process). */
  pids(): Promise<number[]>;
}

/** What random-range.lua's done() prints. */
interface WrkSummary {
  requests: number;
  bytes: number;
  duration_us: number;
  errors: Record<'connect' | 'read' | 'write' | 'status' | 'timeout', number>;
  latency_us: Record<'min' | 'mean' | 'p50' | 'p90' | 'p99' | 'p999' | 'max', number>;
}

interface WrkResult extends WrkSummary {
  /** CPU seconds the server processes used during the run (user + system). */
  serverCpu: number;
}

interface RoundResult {
  stream: WrkResult;
  random: WrkResult;
  /** curl downloading the whole file once: bytes per second. */
  curlFull: number;
  /** Milliseconds to the response head, one per request. */
  ttfbFirst: number[];
  ttfbRandom: number[];
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const percentile = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
};
const mbps = (bytesPerSecond: number) => `${(bytesPerSecond / 1e6).toFixed(0)} MB/s`;
const msOf = (x: number) => (x >= 100 ? `${x.toFixed(0)} ms` : x >= 10 ? `${x.toFixed(1)} ms` : `${x.toFixed(2)} ms`);
const pass = (ok: boolean) => (ok ? 'PASS' : 'FAIL');
const ratio = (x: number) => `${x.toFixed(2)}×`;
const rateOf = (w: WrkResult) => w.bytes / (w.duration_us / 1e6);
const rpsOf = (w: WrkResult) => w.requests / (w.duration_us / 1e6);

/** A small seeded PRNG (mulberry32), so every server gets the same offsets. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

/** Writes the virtual file to disk once (reused while the recipe compiles to the same etag). */
async function materialize(recipe: unknown): Promise<{ size: number; etag: string; seconds: number | undefined }> {
  const { file } = await compileRecipe(parseRecipe(recipe));
  try {
    const etagPath = `${MATERIALIZED}.etag`;
    const known = existsSync(MATERIALIZED) ? await readFile(etagPath, 'utf8').catch(() => '') : '';
    if (known === file.etag && (await stat(MATERIALIZED)).size === file.size) {
      log(`using the materialized file ${MATERIALIZED} (etag ${file.etag})`);
      return { size: file.size, etag: file.etag, seconds: undefined };
    }
    await mkdir(SERVE_CACHE, { recursive: true });
    await rm(MATERIALIZED, { force: true });
    const fs = await statfs(SERVE_CACHE);
    const free = fs.bavail * fs.bsize;
    if (free < file.size + 2 ** 30) {
      throw new Error(
        `${(free / 1e9).toFixed(1)} GB free in ${SERVE_CACHE}: need ${(file.size / 1e9).toFixed(1)} GB and 1 GiB to spare`,
      );
    }
    log(`materializing the virtual file (${(file.size / 1e9).toFixed(2)} GB) into ${MATERIALIZED} for nginx`);
    const t0 = performance.now();
    const partial = `${MATERIALIZED}.partial`;
    await pipeline(file.stream(0, file.size, { chunkSize: 4 * 2 ** 20 }), createWriteStream(partial));
    await rename(partial, MATERIALIZED);
    await writeFile(etagPath, file.etag);
    return { size: file.size, etag: file.etag, seconds: (performance.now() - t0) / 1000 };
  } finally {
    await file.close();
  }
}

/** Reads the files through once so that every server reads from memory; reports how much is resident after. */
async function warmPageCache(paths: string[]): Promise<{ seconds: number; resident: string }> {
  const t0 = performance.now();
  const buf = Buffer.allocUnsafe(8 * 2 ** 20);
  for (const p of paths) {
    const fh = await open(p, 'r');
    try {
      while ((await fh.read(buf, 0, buf.length, null)).bytesRead > 0) {}
    } finally {
      await fh.close();
    }
  }
  const seconds = (performance.now() - t0) / 1000;
  // fincore (util-linux) shows how much of each file is in the page cache.
  const out = await run('fincore', ['--bytes', '--noheadings', '--output', 'RES,SIZE', ...paths]).catch(() => '');
  const pct = out
    .trim()
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => {
      const [res, size] = l.trim().split(/\s+/).map(Number);
      return size ? `${((100 * res!) / size).toFixed(0)} %` : '?';
    });
  return { seconds, resident: pct.length === paths.length ? pct.join(', ') : 'unknown (no fincore)' };
}

async function cpuSeconds(pids: number[]): Promise<number> {
  let ticks = 0;
  for (const pid of pids) {
    const text = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
    // Fields after the command name (which may hold spaces): utime and stime are the 14th and 15th.
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    ticks += Number(fields[11] ?? 0) + Number(fields[12] ?? 0);
  }
  return ticks / 100; // USER_HZ is 100 on Linux.
}

/** Resolves once `url` answers a HEAD, or rejects when the process exits or after 10 s. */
async function waitForHttp(url: string, child: ChildProcess, stderr: () => string): Promise<void> {
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`${url}: the server exited with ${child.exitCode}: ${stderr()}`);
    const ok = await head(url).then(
      () => true,
      () => false,
    );
    if (ok) return;
    if (i > 200) throw new Error(`nothing answers at ${url}: ${stderr()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function collect(child: ChildProcess): () => string {
  let text = '';
  child.stderr?.on('data', (d: Buffer) => {
    text = (text + d.toString()).slice(-8000);
  });
  return () => text;
}

/** nginx with a minimal configuration of its own in `dir`, serving `docRoot`. */
async function startNginx(name: 'nginx' | 'nginx-nopush', dir: string, docRoot: string): Promise<Running> {
  const port = await freePort();
  const prefix = join(dir, name);
  await mkdir(prefix, { recursive: true });
  const conf = join(prefix, 'nginx.conf');
  // worker_processes auto (2 here); sendfile on. tcp_nopush is off by default in nginx and on in Debian's nginx.conf:
  // it helps the many short responses and slows the single stream, so both are measured.
  await writeFile(
    conf,
    `worker_processes auto;
daemon off;
pid ${prefix}/nginx.pid;
error_log ${prefix}/error.log warn;
events { worker_connections 1024; }
http {
  access_log ${prefix}/access.log;
  client_body_temp_path ${prefix}/client_body;
  proxy_temp_path ${prefix}/proxy;
  fastcgi_temp_path ${prefix}/fastcgi;
  uwsgi_temp_path ${prefix}/uwsgi;
  scgi_temp_path ${prefix}/scgi;
  sendfile on;
  tcp_nopush ${name === 'nginx-nopush' ? 'on' : 'off'};
  keepalive_requests 1000000;
  types { video/mp4 mp4; }
  server {
    listen 127.0.0.1:${port};
    root ${docRoot};
  }
}
`,
  );
  const child = spawn('nginx', ['-p', prefix, '-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
  const url = `http://127.0.0.1:${port}/${relative(docRoot, MATERIALIZED)}`;
  await waitForHttp(url, child, collect(child));
  const master = child.pid!;
  return {
    name,
    url,
    process: child,
    pids: async () => {
      const children = await readFile(`/proc/${master}/task/${master}/children`, 'utf8').catch(() => '');
      return [master, ...children.trim().split(/\s+/).filter(Boolean).map(Number)];
    },
  };
}

/** The plain Node reference: this script with `--node-static`. */
async function startNode(): Promise<Running> {
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', SCRIPT, '--node-static', MATERIALIZED, String(port)], {
    cwd: ROOT,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const url = `http://127.0.0.1:${port}/progressive.mp4`;
  await waitForHttp(url, child, collect(child));
  return { name: 'node', url, process: child, pids: async () => [child.pid!] };
}

async function startVvf(dir: string, recipePath: string, root: string): Promise<Running> {
  const port = await freePort();
  const logFile = await open(join(dir, 'vvf.log'), 'w');
  // The built CLI, as deployed; one JSON log line per request goes to a file, as nginx's access log does.
  const args = [CLI, 'serve', '--host', '127.0.0.1', '--port', String(port), '--root', root];
  args.push('--store', 'none', '--register', recipePath);
  const child = spawn(process.execPath, args, { cwd: dir, stdio: ['ignore', logFile.fd, 'pipe'] });
  await logFile.close();
  const url = await new Promise<string>((resolvePromise, reject) => {
    let err = '';
    const timer = setTimeout(() => reject(new Error(`vvf serve did not register the recipe in 120 s: ${err}`)), 120_000);
    child.stderr?.on('data', (d: Buffer) => {
      err += d.toString();
      const m = / is served as (\S+) \(\d+ bytes\)/.exec(err);
      if (m) {
        clearTimeout(timer);
        resolvePromise(m[1]!);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`vvf serve exited with ${code}: ${err}`));
    });
  });
  return { name: 'vvf', url, process: child, pids: async () => [child.pid!] };
}

async function stop(server: Running): Promise<void> {
  const p = server.process;
  if (p.exitCode !== null || p.signalCode !== null) return;
  const exited = new Promise<void>((r) => p.once('exit', () => r()));
  // nginx: QUIT is its graceful stop; vvf finishes in-flight responses on TERM.
  p.kill(server.name.startsWith('nginx') ? 'SIGQUIT' : 'SIGTERM');
  const timer = setTimeout(() => p.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

function head(url: string): Promise<Record<string, string | string[] | undefined>> {
  return new Promise((resolvePromise, reject) => {
    const req = request(url, { method: 'HEAD' }, (res) => {
      res.resume();
      if (res.statusCode === 200) resolvePromise(res.headers);
      else reject(new Error(`HEAD ${url}: ${res.statusCode}`));
    });
    req.on('error', reject);
    req.end();
  });
}

/** GET of one range over `agent`: the body, and the milliseconds from sending the request to the response head. */
function getRange(url: string, start: number, length: number, agent: Agent): Promise<{ body: Buffer; ttfbMs: number }> {
  return new Promise((resolvePromise, reject) => {
    const t0 = performance.now();
    const req = request(url, { agent, headers: { range: `bytes=${start}-${start + length - 1}` } }, (res) => {
      const ttfbMs = performance.now() - t0;
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const body = Buffer.concat(chunks);
        if (res.statusCode !== 206 || body.length !== length) {
          reject(new Error(`GET ${url} bytes ${start}+${length}: ${res.statusCode}, ${body.length} bytes`));
        } else resolvePromise({ body, ttfbMs });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** Every server answers the same size, and the same bytes for a sample of ranges, first and last bytes included. */
async function checkSameBytes(servers: Running[], size: number): Promise<number> {
  for (const s of servers) {
    const h = await head(s.url);
    if (Number(h['content-length']) !== size) throw new Error(`${s.name} answers ${h['content-length']} bytes, not ${size}`);
  }
  const rand = prng(SEED * 7919);
  const ranges: [number, number][] = [
    [0, TTFB_BYTES],
    [size - RANDOM_RANGE, RANDOM_RANGE],
  ];
  while (ranges.length < CHECK_RANGES) ranges.push([Math.floor(rand() * (size - RANDOM_RANGE)), RANDOM_RANGE]);
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  let bytes = 0;
  try {
    for (const [start, length] of ranges) {
      const digests = new Set<string>();
      for (const s of servers) {
        const { body } = await getRange(s.url, start, length, agent);
        digests.add(createHash('sha256').update(body).digest('hex'));
      }
      if (digests.size !== 1) throw new Error(`the servers answer different bytes for ${start}+${length}`);
      bytes += length;
    }
  } finally {
    agent.destroy();
  }
  return bytes;
}

async function wrk(
  server: Running,
  seconds: number,
  threads: number,
  connections: number,
  luaArgs: string[],
): Promise<WrkResult> {
  const pids = await server.pids();
  const cpu0 = await cpuSeconds(pids);
  const args = [`-t${threads}`, `-c${connections}`, `-d${seconds}s`, '--timeout', '10s', '-s', LUA, server.url, '--', ...luaArgs];
  const out = await run('wrk', args);
  const cpu1 = await cpuSeconds(pids);
  const line = out.split('\n').find((l) => l.startsWith('WRK_JSON '));
  if (!line) throw new Error(`wrk printed no summary:\n${out}`);
  const summary = JSON.parse(line.slice('WRK_JSON '.length)) as WrkSummary;
  const errors = Object.values(summary.errors).reduce((a, b) => a + b, 0);
  if (errors > 0) throw new Error(`wrk against ${server.name}: errors ${JSON.stringify(summary.errors)}`);
  return { ...summary, serverCpu: cpu1 - cpu0 };
}

/** curl downloads the whole file once: bytes per second. */
async function curlFull(server: Running, size: number): Promise<number> {
  const out = await run('curl', ['-sS', '-o', '/dev/null', '-w', '%{size_download} %{speed_download}', server.url]);
  const [got, speed] = out.trim().split(' ').map(Number);
  if (got !== size) throw new Error(`curl got ${got} bytes of ${size} from ${server.name}`);
  return speed!;
}

/** Time to first byte, measured by this script in a fresh process (`--ttfb-client`) so that the client's heap is small. */
async function ttfb(server: Running, size: number, which: 'first' | 'random'): Promise<number[]> {
  const args = ['--import', 'tsx', SCRIPT, '--ttfb-client', server.url, String(size), which];
  const out = await run(process.execPath, args);
  return JSON.parse(out.trim().split('\n').pop() ?? '[]') as number[];
}

/** `--ttfb-client URL SIZE first|random`: sequential GETs over one keep-alive connection; prints the times as JSON. */
async function ttfbClient([url, sizeArg, which]: string[]): Promise<void> {
  const size = Number(sizeArg);
  const rand = prng(SEED);
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const out: number[] = [];
  for (let i = 0; i < TTFB_WARMUP + TTFB_REQUESTS; i++) {
    const start = which === 'first' ? 0 : Math.floor(rand() * (size - TTFB_BYTES));
    const { ttfbMs } = await getRange(url!, start, TTFB_BYTES, agent);
    if (i >= TTFB_WARMUP) out.push(ttfbMs);
  }
  agent.destroy();
  process.stdout.write(`${JSON.stringify(out.map((x) => Math.round(x * 1000) / 1000))}\n`);
}

/**
 * `--node-static FILE PORT`: the reference of what Node itself does for a static file, as
 * express.static does it: `fs.createReadStream(range).pipe(res)`, read {@link NODE_READ} at a time.
 */
async function nodeStatic([file, port]: string[]): Promise<void> {
  const { size } = await stat(file!);
  const server = createHttpServer((req, res) => {
    const m = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
    const start = m ? Number(m[1]) : 0;
    const end = m?.[2] ? Math.min(Number(m[2]), size - 1) : size - 1;
    const headers: Record<string, string | number> = {
      'content-type': 'video/mp4',
      'content-length': end - start + 1,
      'accept-ranges': 'bytes',
    };
    if (m) headers['content-range'] = `bytes ${start}-${end}/${size}`;
    res.writeHead(m ? 206 : 200, headers);
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    const body = createReadStream(file!, { start, end, highWaterMark: NODE_READ });
    body.on('error', () => res.destroy());
    body.pipe(res);
  });
  server.keepAliveTimeout = 65_000;
  server.listen(Number(port), '127.0.0.1');
  process.once('SIGTERM', () => server.close(() => process.exit(0)));
}

async function version(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolvePromise) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let text = '';
    child.stdout.on('data', (d: Buffer) => {
      text += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      text += d.toString();
    });
    child.on('error', () => resolvePromise(''));
    child.on('close', () => resolvePromise(text.trim().split('\n')[0] ?? ''));
  });
}

async function diskUsage(dir: string): Promise<number> {
  const out = await run('du', ['-sb', dir]);
  return Number(out.split('\t')[0]);
}

async function main(): Promise<void> {
  const benchStarted = performance.now();
  const started = new Date();
  const load0 = loadavg();
  for (const tool of ['wrk', 'nginx', 'curl']) {
    if ((await version('sh', ['-c', `command -v ${tool}`])) === '') {
      throw new Error(`${tool} is not installed (make bench-serve installs it)`);
    }
  }
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: build first (make build)`);
  const media = await ensureBenchMedia(CACHE);
  const dir = await mkdtemp(join(tmpdir(), 'vvf-bench-serve-'));
  const recipe = {
    tracks: [
      { source: media.manifest, kind: 'video' },
      { source: media.manifest, kind: 'audio' },
    ],
  };
  const recipePath = join(dir, 'recipe.json');
  await writeFile(recipePath, JSON.stringify(recipe));
  const made = await materialize(recipe);
  const size = made.size;
  if ((await stat(MATERIALIZED)).size !== size) throw new Error('the materialized file has the wrong size');

  const running: Running[] = [];
  const cleanup = async () => {
    await Promise.all(running.map(stop));
  };
  process.once('SIGINT', () => {
    void cleanup().then(() => process.exit(130));
  });
  const rounds: Record<ServerName, RoundResult[]> = { nginx: [], 'nginx-nopush': [], node: [], vvf: [] };
  let checked = 0;
  let warm = { seconds: 0, resident: '' };
  try {
    log('starting nginx (twice), the Node reference and vvf serve');
    running.push(await startNginx('nginx', dir, SERVE_CACHE));
    running.push(await startNginx('nginx-nopush', dir, SERVE_CACHE));
    running.push(await startNode());
    running.push(await startVvf(dir, recipePath, media.dir));
    const byName = (n: ServerName) => running.find((s) => s.name === n)!;
    checked = await checkSameBytes(running, size);
    log(`every server answers ${size} bytes, and the same bytes for ${CHECK_RANGES} ranges`);
    warm = await warmPageCache([MATERIALIZED, media.video, media.audio]);
    log(`page cache warmed in ${warm.seconds.toFixed(1)} s (resident: ${warm.resident})`);

    const streamArgs = [String(size), String(STREAM_RANGE), String(SEED), 'sequential'];
    const randomArgs = [String(size), String(RANDOM_RANGE), String(SEED), 'random'];
    for (const s of running) {
      log(`warming up ${s.name} (${WARMUP_SECONDS} s of random ranges)`);
      await wrk(s, WARMUP_SECONDS, THREADS, CONNECTIONS, randomArgs);
    }
    for (let r = 0; r < ROUNDS; r++) {
      // Each round starts with the next server, so that none always runs first or last.
      const order = SERVERS.map((_, i) => SERVERS[(i + r) % SERVERS.length]!);
      for (const name of order) {
        const s = byName(name);
        const at = `round ${r + 1}/${ROUNDS}, ${name}`;
        log(`${at}: single stream (${STREAM_SECONDS} s)`);
        const stream = await wrk(s, STREAM_SECONDS, 1, 1, streamArgs);
        log(`${at}: random 1 MiB ranges at ${CONNECTIONS} connections (${RANDOM_SECONDS} s)`);
        const random = await wrk(s, RANDOM_SECONDS, THREADS, CONNECTIONS, randomArgs);
        log(`${at}: one curl download of the whole file; time to first byte`);
        const curl = await curlFull(s, size);
        const ttfbFirst = await ttfb(s, size, 'first');
        const ttfbRandom = await ttfb(s, size, 'random');
        rounds[name].push({ stream, random, curlFull: curl, ttfbFirst, ttfbRandom });
        log(
          `  ${name}: stream ${mbps(rateOf(stream))}, random ${rpsOf(random).toFixed(0)} req/s p99 ${msOf(random.latency_us.p99 / 1000)}, curl ${mbps(curl)}, ttfb p99 ${msOf(percentile(ttfbFirst, 99))} / ${msOf(percentile(ttfbRandom, 99))}`,
        );
      }
    }
  } catch (e) {
    log(`failed; logs and configuration kept in ${dir}`);
    throw e;
  } finally {
    await cleanup();
  }
  await rm(dir, { recursive: true, force: true });
  const load1 = loadavg();
  const benchSeconds = (performance.now() - benchStarted) / 1000;
  const disk = { dash: await diskUsage(media.dir), materialized: await diskUsage(SERVE_CACHE) };

  // Figures: medians over the rounds (time-to-first-byte percentiles are taken per round first).
  const figures = (name: ServerName) => {
    const rs = rounds[name];
    const perRound = (f: (r: RoundResult) => number) => median(rs.map(f));
    return {
      stream: perRound((r) => rateOf(r.stream)),
      streamCpuPerGB: perRound((r) => r.stream.serverCpu / (r.stream.bytes / 1e9)),
      rps: perRound((r) => rpsOf(r.random)),
      randomRate: perRound((r) => rateOf(r.random)),
      randomP50: perRound((r) => r.random.latency_us.p50 / 1000),
      randomP99: perRound((r) => r.random.latency_us.p99 / 1000),
      randomCpuPerGB: perRound((r) => r.random.serverCpu / (r.random.bytes / 1e9)),
      curl: perRound((r) => r.curlFull),
      firstP50: perRound((r) => percentile(r.ttfbFirst, 50)),
      firstP99: perRound((r) => percentile(r.ttfbFirst, 99)),
      randomTtfbP50: perRound((r) => percentile(r.ttfbRandom, 50)),
      randomTtfbP99: perRound((r) => percentile(r.ttfbRandom, 99)),
    };
  };
  type Figures = ReturnType<typeof figures>;
  const f = Object.fromEntries(SERVERS.map((n) => [n, figures(n)])) as Record<ServerName, Figures>;
  const v = f.vvf;
  /** The better nginx configuration for a figure (higher is better). */
  const best = (k: keyof Figures): number => Math.max(f.nginx[k], f['nginx-nopush'][k]);
  const streamRatio = v.stream / best('stream');
  const rpsRatio = v.rps / best('rps');
  const ttfbOk = v.firstP99 < TTFB_TARGET_MS && v.randomTtfbP99 < TTFB_TARGET_MS;

  type Row = { label: string; cells: (x: Figures) => string; vs?: string; target?: string; verdict?: string };
  const rows: Row[] = [
    {
      label: '(a) single stream, wrk, 256 MiB ranges',
      cells: (x) => mbps(x.stream),
      vs: ratio(streamRatio),
      target: `≥ ${THROUGHPUT_TARGET}×`,
      verdict: `**${pass(streamRatio >= THROUGHPUT_TARGET)}**`,
    },
    { label: '(a) whole file, one curl download', cells: (x) => mbps(x.curl), vs: ratio(v.curl / best('curl')) },
    {
      label: `(b) random 1 MiB ranges, ${CONNECTIONS} connections: requests/s`,
      cells: (x) => x.rps.toFixed(0),
      vs: ratio(rpsRatio),
      target: `≥ ${THROUGHPUT_TARGET}×`,
      verdict: `**${pass(rpsRatio >= THROUGHPUT_TARGET)}**`,
    },
    { label: '… MB/s', cells: (x) => mbps(x.randomRate), vs: ratio(v.randomRate / best('randomRate')) },
    { label: '… latency p50', cells: (x) => msOf(x.randomP50) },
    { label: '… latency p99', cells: (x) => msOf(x.randomP99) },
    { label: '(c) time to first byte, `bytes=0-65535`: p50', cells: (x) => msOf(x.firstP50) },
    {
      label: '… p99',
      cells: (x) => msOf(x.firstP99),
      target: `< ${TTFB_TARGET_MS} ms`,
      verdict: `**${pass(v.firstP99 < TTFB_TARGET_MS)}**`,
    },
    { label: '(c) time to first byte, random 64 KiB: p50', cells: (x) => msOf(x.randomTtfbP50) },
    {
      label: '… p99',
      cells: (x) => msOf(x.randomTtfbP99),
      target: `< ${TTFB_TARGET_MS} ms`,
      verdict: `**${pass(v.randomTtfbP99 < TTFB_TARGET_MS)}**`,
    },
    { label: 'server CPU seconds per GB sent, single stream', cells: (x) => x.streamCpuPerGB.toFixed(2) },
    { label: 'server CPU seconds per GB sent, random ranges', cells: (x) => x.randomCpuPerGB.toFixed(2) },
  ];
  const header = ['', ...SERVERS.map((n) => LABELS[n].replaceAll('`', '')), 'vvf / best nginx', 'target', ''];
  const cellsOf = (row: Row) => [
    row.label,
    ...SERVERS.map((n) => row.cells(f[n])),
    row.vs ?? '',
    row.target ?? '',
    row.verdict ?? '',
  ];
  const plain = [header, ...rows.map((r) => cellsOf(r).map((c) => c.replaceAll('*', '').replaceAll('`', '')))];
  const widths = plain[0]!.map((_, i) => Math.max(...plain.map((row) => row[i]!.length)));
  const text = plain
    .map((row) => row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  '))
    .join('\n');
  process.stdout.write(`\n${text}\n\n`);
  process.stdout.write(
    `load average ${load0[0]!.toFixed(2)} at start, ${load1[0]!.toFixed(2)} at end; the benchmark took ${benchSeconds.toFixed(0)} s\n`,
  );

  // The report.
  const cpu = cpus()[0]?.model ?? 'unknown';
  const shown = (p: string) => (relative(ROOT, p).startsWith('..') ? p : relative(ROOT, p));
  const table = [
    `| | ${SERVERS.map((n) => LABELS[n]).join(' | ')} | vvf / best nginx | target | |`,
    `| --- | ${SERVERS.map(() => '---:').join(' | ')} | ---: | ---: | --- |`,
    ...rows.map((r) => `| ${cellsOf(r).join(' | ')} |`),
  ].join('\n');
  const perRound = rounds.vvf
    .map((_, i) => {
      const cell = (n: ServerName, g: (r: RoundResult) => string) => g(rounds[n][i]!);
      const cols = (g: (r: RoundResult) => string) => SERVERS.map((n) => cell(n, g)).join(' / ');
      return `| ${i + 1} | ${cols((r) => (rateOf(r.stream) / 1e6).toFixed(0))} | ${cols((r) => rpsOf(r.random).toFixed(0))} | ${cols((r) => (r.random.latency_us.p99 / 1000).toFixed(1))} | ${cols((r) => percentile(r.ttfbFirst, 99).toFixed(2))} | ${cols((r) => percentile(r.ttfbRandom, 99).toFixed(2))} |`;
    })
    .join('\n');
  const md = `# Benchmark: serving (vvf issue 4)

Command: \`make bench-serve\` (installs wrk and nginx-light from Debian if missing, builds; then the same as
\`npm run bench:serve\`). Generated by \`bench/serve.ts\`; the wrk script is \`bench/random-range.lua\`.

Run on ${started.toISOString().slice(0, 10)}: ${cpus().length} cores (${cpu}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB RAM, Linux ${release()}, Node ${process.version},
${await version('nginx', ['-v'])}, ${(await version('wrk', ['-v'])).replace(/ Copyright.*/, '')}, ${(await version('curl', ['--version'])).replace(/ \(.*/, '')}.
Servers and clients share the ${cpus().length} cores and talk over loopback. The machine was shared with other work: load average
${load0[0]!.toFixed(2)} at the start, ${load1[0]!.toFixed(2)} at the end. The whole run took ${(benchSeconds / 60).toFixed(1)} minutes. Disk: the DASH pair
${(disk.dash / 1e9).toFixed(2)} GB (\`${shown(media.dir)}\`, shared with \`make bench\`), the materialized file ${(disk.materialized / 1e9).toFixed(2)} GB (\`${shown(SERVE_CACHE)}\`).

## Setup

- **vvf serve**: \`node dist/cli/main.js serve --store none --register recipe.json\` (the built CLI) with the recipe
  \`{ tracks: [{ source: manifest.mpd, kind: 'video' }, { source: manifest.mpd, kind: 'audio' }] }\` on the one-hour DASH
  pair of \`make bench\` (bench/generate.ts): a ${size}-byte progressive MP4 whose media bytes are sent from
  video.m4s and audio.m4s at each request, with sendfile(2) (the default; \`make\` builds the native addon).
- **nginx**: the same virtual file written to disk once (\`compileRecipe\` + \`VirtualFile.stream\` into
  \`${shown(MATERIALIZED)}\`, kept while the recipe compiles to the same etag${made.seconds === undefined ? '; reused this run' : `; written in ${made.seconds.toFixed(1)} s this run`}) and served by
  nginx with a minimal configuration: \`worker_processes auto\` (${cpus().length} workers here), \`sendfile on\`, \`keepalive_requests 1000000\`,
  an access log. Twice: with \`tcp_nopush off\` (nginx's default) and \`tcp_nopush on\` (Debian's nginx.conf). Neither is
  better at everything (on helps the short responses, off the single stream), so vvf is compared with the better of the
  two for each figure.
- **Node \`createReadStream\`** (information, not a target): the same file served by a dozen lines of Node, as
  express.static does, \`fs.createReadStream(file, { start, end, highWaterMark: 1 MiB }).pipe(res)\`
  (\`bench/serve.ts --node-static\`): what Node itself costs, with reads as large as vvf's.
- All log every request to a file except the Node reference (nginx's access log; vvf's JSON lines on stdout, redirected).
- **Same bytes**: every server answers ${size} bytes, and the same bytes (SHA-256) for ${CHECK_RANGES} ranges (${checked} bytes: the
  first 64 KiB, the last 1 MiB, random 1 MiB ranges), checked before measuring.
- **Warm page cache**: the materialized file and both DASH files are read through once before measuring
  (${warm.seconds.toFixed(1)} s; resident afterwards per \`fincore\`: ${warm.resident}), so no server waits on the disk.
- Each server first gets ${WARMUP_SECONDS} s of random ranges (JIT, connections). Then ${ROUNDS} rounds; in each, every server gets
  the measurements below, one server after another, a different one first each round. Figures are medians of the rounds.

Measurements:

- **(a) Single stream**: \`wrk -t1 -c1 -d${STREAM_SECONDS}s -s random-range.lua URL -- SIZE ${STREAM_RANGE} ${SEED} sequential\`: one
  connection reading the file through in consecutive 256 MiB ranges (a whole-file request takes seconds, so a run
  would hold few); MB/s is every byte wrk received (the unfinished last response included) over the run. wrk reads
  8 KiB at a time, so the client's CPU counts too; one \`curl\` download of the whole file is shown beside it.
- **(b) Random 1 MiB ranges**: \`wrk -t${THREADS} -c${CONNECTIONS} -d${RANDOM_SECONDS}s --timeout 10s -s random-range.lua URL -- SIZE ${RANDOM_RANGE} ${SEED} random\`:
  unaligned offsets drawn by LuaJIT's PRNG seeded with ${SEED} + the wrk thread's number, so every server gets the same
  sequence per thread; requests/s, MB/s (headers included, 0.03 %), and wrk's latency percentiles.
- **(c) Time to first byte, warm**: one keep-alive connection from a Node client in a fresh process, ${TTFB_REQUESTS} sequential GETs
  (after ${TTFB_WARMUP} not counted) of \`bytes=0-65535\` (vvf: header bytes it holds in memory), and of 64 KiB at random offsets
  (vvf: reads of the DASH files); the time from sending the request to the response head, client included. p50 and
  p99 of each round; the median of the rounds.
- **Server CPU**: user + system time of the server's processes (nginx master and workers; the node process, all
  threads) during each wrk run, per GB sent.

## Results

${table}

Per round, in the order ${SERVERS.join(' / ')}:

| round | (a) MB/s | (b) requests/s | (b) p99 ms | (c) first 64 KiB p99 ms | (c) random 64 KiB p99 ms |
| --- | --- | --- | --- | --- | --- |
${perRound}
`;
  const previous = await readFile(RESULTS_SERVE, 'utf8').catch(() => '');
  const notesAt = previous.indexOf('\n## Notes');
  await writeFile(RESULTS_SERVE, notesAt >= 0 ? `${md}${previous.slice(notesAt)}` : md);
  log(`wrote ${relative(ROOT, RESULTS_SERVE)}`);

  // A summary in RESULTS.md, after its "## Notes": bench/run.ts keeps everything from "## Notes" on when it rewrites the file.
  const nginxOf = (k: keyof Figures, fmt: (x: number) => string) => fmt(best(k));
  const section = `## Serving (vvf issue 4)

\`make bench-serve\` (bench/serve.ts), ${started.toISOString().slice(0, 10)}: \`vvf serve\` serving the one-hour virtual file, against nginx
serving the same ${size} bytes from a file (the better of \`tcp_nopush\` on and off), page cache warm, wrk over
loopback on ${cpus().length} cores. Setup, method, every figure and the analysis: [RESULTS-serve.md](RESULTS-serve.md).

| | nginx | vvf | vvf / nginx | target | |
| --- | ---: | ---: | ---: | ---: | --- |
| single stream (wrk, 256 MiB ranges) | ${nginxOf('stream', mbps)} | ${mbps(v.stream)} | ${ratio(streamRatio)} | ≥ ${THROUGHPUT_TARGET}× | **${pass(streamRatio >= THROUGHPUT_TARGET)}** |
| random 1 MiB ranges, ${CONNECTIONS} connections | ${nginxOf('rps', (x) => x.toFixed(0))} req/s, ${nginxOf('randomRate', mbps)} | ${v.rps.toFixed(0)} req/s, ${mbps(v.randomRate)}, p99 ${msOf(v.randomP99)} | ${ratio(rpsRatio)} | ≥ ${THROUGHPUT_TARGET}× | **${pass(rpsRatio >= THROUGHPUT_TARGET)}** |
| time to first byte p99, \`bytes=0-65535\` / random 64 KiB | ${msOf(Math.min(f.nginx.firstP99, f['nginx-nopush'].firstP99))} / ${msOf(Math.min(f.nginx.randomTtfbP99, f['nginx-nopush'].randomTtfbP99))} | ${msOf(v.firstP99)} / ${msOf(v.randomTtfbP99)} | | < ${TTFB_TARGET_MS} ms | **${pass(ttfbOk)}** |
`;
  const results = await readFile(RESULTS, 'utf8').catch(() => '');
  const heading = '\n## Serving (vvf issue 4)';
  const at = results.indexOf(heading);
  let updated: string;
  if (at >= 0) {
    const next = results.indexOf('\n## ', at + heading.length);
    updated = `${results.slice(0, at + 1)}${section}${next >= 0 ? results.slice(next) : ''}`;
  } else {
    updated = `${results.replace(/\n*$/, '\n')}\n${section}`;
  }
  await writeFile(RESULTS, updated);
  log(`updated the "Serving (vvf issue 4)" section of ${relative(ROOT, RESULTS)}`);
}

const [sub, ...rest] = process.argv.slice(2);
if (sub === '--ttfb-client') {
  await ttfbClient(rest);
} else if (sub === '--node-static') {
  await nodeStatic(rest);
} else {
  await main();
  // wrk and the servers are gone; pooled descriptors could still hold the loop open.
  process.exit(0);
}
