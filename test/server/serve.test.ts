// vvf serve over loopback: range conformance against the materialized bytes with Node's
// fetch and curl, conditional requests, ffprobe over HTTP, the source policy, and
// failures before and after a response starts.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { ensureFixtures, type Fixture } from '../../scripts/fixtures.js';
import { parseRecipe } from '../../src/compose/recipe.js';
import { startServer, type VvfServer } from '../../src/server/app.js';
import { defaultServeConfig } from '../../src/server/config.js';
import { compileRecipe } from '../../src/virtual/compile.js';
import { framemd5 } from '../helpers/media.js';

const run = promisify(execFile);
let server: VvfServer;
let root: string;
let fixture: Fixture;
let expected: Buffer;
let url: string;
const logs: Record<string, unknown>[] = [];

before(async () => {
  fixture = (await ensureFixtures()).find((f) => f.name === 'dash-template-time')!;
  root = mkdtempSync(join(tmpdir(), 'vvf-serve-'));
  cpSync(dirname(fixture.input), join(root, 'dash'), { recursive: true });
  server = await startServer({ ...defaultServeConfig, port: 0, roots: [root] }, { log: (e) => logs.push(e) });
  const res = await fetch(`${server.url}/v`, { method: 'POST', body: JSON.stringify({ tracks: ['dash/manifest.mpd'] }) });
  assert.equal(res.status, 201);
  const body = (await res.json()) as { id: string; url: string; size: number };
  url = body.url;
  const { file } = await compileRecipe(parseRecipe({ tracks: [join(root, 'dash/manifest.mpd')] }));
  expected = Buffer.from(await file.read(0, file.size));
  await file.close();
  assert.equal(body.size, expected.length);
});

after(async () => {
  await server.close();
});

async function get(headers: Record<string, string> = {}, method = 'GET') {
  const res = await fetch(url, { method, headers });
  return { status: res.status, headers: res.headers, body: Buffer.from(await res.arrayBuffer()) };
}

describe('ranges, as nginx serves static files', () => {
  test('registering the same recipe again gives the same file', async () => {
    const res = await fetch(`${server.url}/v`, { method: 'POST', body: JSON.stringify({ tracks: ['dash/manifest.mpd'] }) });
    assert.equal(res.status, 200);
    assert.equal(((await res.json()) as { url: string }).url, url);
    const list = (await (await fetch(`${server.url}/v`)).json()) as { files: { url: string }[] };
    assert.deepEqual(
      list.files.map((f) => f.url),
      [url],
    );
  });

  test('whole file, and HEAD with the same headers', async () => {
    const full = await get();
    assert.equal(full.status, 200);
    assert.ok(full.body.equals(expected));
    assert.equal(full.headers.get('content-length'), String(expected.length));
    assert.equal(full.headers.get('accept-ranges'), 'bytes');
    assert.equal(full.headers.get('content-type'), 'video/mp4');
    assert.match(full.headers.get('etag') ?? '', /^"vvf-[A-Za-z0-9_-]+"$/);
    assert.ok(full.headers.get('last-modified'));
    const head = await get({}, 'HEAD');
    assert.equal(head.status, 200);
    assert.equal(head.body.length, 0);
    for (const h of ['content-length', 'etag', 'last-modified', 'content-type', 'accept-ranges', 'cache-control']) {
      assert.equal(head.headers.get(h), full.headers.get(h), h);
    }
  });

  const cases: [string, () => [number, number]][] = [
    ['bytes=0-1', () => [0, 1]],
    ['bytes=0-0', () => [0, 0]],
    ['bytes=100-', () => [100, size() - 1]],
    ['bytes=-500', () => [size() - 500, size() - 1]],
    ['bytes=5000-10000000000', () => [5000, size() - 1]],
    ['bytes=1000-200000', () => [1000, 200000]],
  ];
  for (const [range, span] of cases) {
    test(range, async () => {
      const [a, b] = span();
      const r = await get({ range });
      assert.equal(r.status, 206);
      assert.equal(r.headers.get('content-range'), `bytes ${a}-${b}/${size()}`);
      assert.equal(r.headers.get('content-length'), String(b - a + 1));
      assert.ok(r.body.equals(expected.subarray(a, b + 1)));
    });
  }

  test('unsatisfiable: 416 with bytes */size', async () => {
    const r = await get({ range: `bytes=${size()}-` });
    assert.equal(r.status, 416);
    assert.equal(r.headers.get('content-range'), `bytes */${size()}`);
  });

  test('invalid ranges are ignored: 200 with the whole file', async () => {
    for (const range of ['bytes=5-2', 'items=0-5', 'bytes=abc']) {
      const r = await get({ range });
      assert.equal(r.status, 200, range);
      assert.equal(r.body.length, size());
    }
  });

  test('several ranges: multipart/byteranges', async () => {
    const r = await get({ range: 'bytes=0-9,2000-2099,-16' });
    assert.equal(r.status, 206);
    const type = r.headers.get('content-type') ?? '';
    const boundary = /multipart\/byteranges; boundary=(\S+)/.exec(type)?.[1];
    assert.ok(boundary, type);
    assert.equal(r.headers.get('content-length'), String(r.body.length));
    const text = r.body.toString('latin1');
    const parts = text.split(`--${boundary}`).slice(1, -1);
    assert.equal(parts.length, 3);
    const want: [number, number][] = [
      [0, 9],
      [2000, 2099],
      [size() - 16, size() - 1],
    ];
    parts.forEach((part, i) => {
      const [a, b] = want[i]!;
      const [head, body] = [part.slice(0, part.indexOf('\r\n\r\n')), part.slice(part.indexOf('\r\n\r\n') + 4, -2)];
      assert.match(head, new RegExp(`Content-Range: bytes ${a}-${b}/${size()}`, 'i'));
      assert.match(head, /Content-Type: video\/mp4/i);
      assert.ok(Buffer.from(body, 'latin1').equals(expected.subarray(a, b + 1)), `part ${i}`);
    });
    assert.ok(text.endsWith(`--${boundary}--\r\n`));
  });

  test('conditional requests: If-None-Match, If-Range', async () => {
    const etag = (await get({}, 'HEAD')).headers.get('etag')!;
    assert.equal((await get({ 'if-none-match': etag })).status, 304);
    assert.equal((await get({ 'if-none-match': '"other"' })).status, 200);
    const honoured = await get({ range: 'bytes=0-99', 'if-range': etag });
    assert.equal(honoured.status, 206);
    const stale = await get({ range: 'bytes=0-99', 'if-range': '"stale"' });
    assert.equal(stale.status, 200);
    assert.equal(stale.body.length, size());
  });

  test('curl with ranges', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vvf-curl-'));
    const out = join(dir, 'part');
    const { stdout } = await run('curl', ['-s', '-D', '-', '-r', '1000-1999', '-o', out, url]);
    assert.match(stdout, /^HTTP\/1\.1 206/);
    assert.match(stdout, new RegExp(`content-range: bytes 1000-1999/${size()}`, 'i'));
    const { stdout: whole } = await run('curl', ['-s', url], { encoding: 'buffer', maxBuffer: 64 << 20 });
    assert.ok(Buffer.from(whole).equals(expected));
  });

  test('ffprobe and ffmpeg read the file over HTTP', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vvf-probe-'));
    const local = join(dir, 'local.mp4');
    writeFileSync(local, expected);
    for (const stream of [0, 1]) {
      assert.deepEqual(await framemd5(url, stream), await framemd5(local, stream));
    }
    // A seek reads from the middle with ranges.
    const { stdout } = await run('ffmpeg', [
      '-v',
      'error',
      '-ss',
      '2.5',
      '-i',
      url,
      '-map',
      '0:v',
      '-frames:v',
      '5',
      '-f',
      'framecrc',
      '-',
    ]);
    assert.equal(stdout.split('\n').filter((l) => l && !l.startsWith('#')).length, 5);
  });
});

describe('sources and failures', () => {
  test('a recipe reaching outside the roots is refused', async () => {
    const res = await fetch(`${server.url}/v`, { method: 'POST', body: JSON.stringify({ tracks: ['../../etc/passwd'] }) });
    assert.equal(res.status, 403);
    assert.equal(((await res.json()) as { error: string }).error, 'SOURCE_FORBIDDEN');
  });

  test('origin down before the response starts: 502 JSON; failing mid-body: the connection is cut', async () => {
    // An origin serving the fixture's files, which can be told to fail.
    let failing: 'none' | 'all' | 'late' | 'slow' | 'changed' = 'none';
    // More than one streaming chunk (1 MiB), so a late segment fails after the response started.
    const big = (await ensureFixtures()).find((f) => f.name === 'dash-high-bitrate')!;
    const files = dirname(big.input);
    const lastSegment = readdirSync(files)
      .filter((n) => /^chunk-stream0-\d+\.m4s$/.test(n))
      .sort()
      .pop()!;
    const { serveFolder } = await import('../helpers/static-server.js');
    const folder = await serveFolder(files);
    const proxy: Server = createServer(async (req, res) => {
      const late = failing === 'late' && (req.url ?? '').endsWith(lastSegment);
      if (failing === 'all' || late) {
        res.socket?.destroy();
        return;
      }
      if (failing === 'slow') {
        // Answers nothing for longer than the server's source timeout.
        setTimeout(() => res.socket?.destroy(), 3000).unref();
        return;
      }
      const upstream = await fetch(`${folder.url}${req.url}`, { headers: req.headers.range ? { range: req.headers.range } : {} });
      const headers: Record<string, string> = {};
      upstream.headers.forEach((v, k) => {
        headers[k] = v;
      });
      // The origin's content changed: another validator for the same URL.
      if (failing === 'changed' && headers.etag) headers.etag = headers.etag.replace(/"$/, '-v2"');
      res.writeHead(upstream.status, headers);
      res.end(Buffer.from(await upstream.arrayBuffer()));
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    const origin = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
    const remote = await startServer(
      { ...defaultServeConfig, port: 0, origins: [origin], sourceTimeoutMs: 1000 },
      { log: () => {} },
    );
    try {
      const reg = await fetch(`${remote.url}/v`, {
        method: 'POST',
        body: JSON.stringify({ tracks: [`${origin}/manifest.mpd`] }),
      });
      assert.equal(reg.status, 201, await reg.clone().text());
      const registered = (await reg.json()) as { url: string; size: number; etag: string };
      const fileUrl = registered.url;
      const { file } = await compileRecipe(parseRecipe({ tracks: [big.input] }));
      const bigBytes = Buffer.from(await file.read(0, file.size));
      await file.close();
      const ok = await fetch(fileUrl);
      assert.ok(Buffer.from(await ok.arrayBuffer()).equals(bigBytes), 'served from the origin: the same bytes');

      failing = 'late';
      // The first chunk (header and early samples) reads fine, the last video segment does not:
      // the 200 is already out, so the connection is cut rather than the body ended short.
      const res = await fetch(fileUrl);
      assert.equal(res.status, 200);
      const outcome = await res.arrayBuffer().then(
        (bytes) => `complete ${bytes.byteLength}`,
        () => 'cut',
      );
      assert.equal(outcome, 'cut', 'a body is never ended short as if complete');

      failing = 'all';
      const down = await fetch(fileUrl, { headers: { range: `bytes=${registered.size - 1000}-` } });
      assert.equal(down.status, 502);
      assert.equal(down.headers.get('content-type'), 'application/json');

      failing = 'slow';
      const started = Date.now();
      const slow = await fetch(fileUrl, { headers: { range: `bytes=${registered.size - 2000}-` } });
      assert.equal(slow.status, 504, await slow.clone().text());
      assert.ok(Date.now() - started < 10_000, 'answered within the timeout and its retries');

      // The origin's validators change, its bytes do not: the read that notices compiles the
      // recipe again, and the same layout is served under the same etag (issue 11, E.10).
      failing = 'changed';
      const changed = await fetch(fileUrl, { headers: { range: `bytes=${registered.size - 3000}-` } });
      assert.equal(changed.status, 206, await changed.clone().text());
      assert.equal(changed.headers.get('etag'), registered.etag);
      assert.ok(Buffer.from(await changed.arrayBuffer()).equals(bigBytes.subarray(registered.size - 3000)));
      // The server stays up and serves other files.
      assert.equal((await fetch(`${remote.url}/healthz`)).status, 200);
      assert.equal((await get({ range: 'bytes=0-9' })).status, 206);
    } finally {
      await remote.close();
      await new Promise<void>((r) => proxy.close(() => r()));
      proxy.closeAllConnections();
      await folder.close();
    }
  });

  test('error bodies name a source by its last folder and file name; the log has the whole error', async () => {
    const answer = await fetch(`${server.url}/v`, {
      method: 'POST',
      body: JSON.stringify({ tracks: ['gone/missing.mp4'] }),
    });
    const text = await answer.text();
    // A recipe naming a file that is not there is the client's mistake: 404, not a failing source's 502.
    assert.equal(answer.status, 404, text);
    assert.ok(!text.includes(root), `no server path in ${text}`);
    const body = JSON.parse(text) as { error: string; source: string; message: string };
    assert.equal(body.error, 'SOURCE_NOT_FOUND');
    assert.equal(body.source, 'gone/missing.mp4');
    assert.ok(body.message.includes('gone/missing.mp4'), body.message);
    const entry = logs.find((l) => l.status === 404 && l.method === 'POST');
    assert.ok(entry, 'the failed request is logged');
    const logged = entry.error as { code: string; source: string };
    assert.equal(logged.code, 'SOURCE_NOT_FOUND');
    assert.equal(logged.source, join(root, 'gone/missing.mp4'), 'the log names the whole path');
  });

  test('logs are structured JSON with request id, range, bytes and time', () => {
    const entry = logs.find((l) => l.range === 'bytes=0-1');
    assert.ok(entry);
    assert.equal(entry.status, 206);
    assert.equal(entry.bytes, 2);
    assert.equal(typeof entry.req, 'string');
    assert.equal(typeof entry.ms, 'number');
  });
});

function size(): number {
  return expected.length;
}
