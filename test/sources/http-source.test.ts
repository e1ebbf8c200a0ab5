import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { VvfError } from '../../src/errors.js';
import { HttpSource } from '../../src/sources/http-source.js';

const data = randomBytes(64 * 1024);
const fast = { retryDelayMs: 5, timeoutMs: 2000, idleTimeoutMs: 2000 };

function isCode(code: string, message?: RegExp) {
  return (e: unknown) => {
    assert.ok(e instanceof VvfError, String(e));
    assert.equal(e.code, code, e.message);
    if (message !== undefined) assert.match(e.message, message);
    return true;
  };
}

interface TestServer {
  url: string;
  connections: number;
  requests: IncomingHttpHeaders[];
  close(): Promise<void>;
}

type Handler = (req: IncomingMessage, res: ServerResponse, n: number) => void;

/** A real HTTP server on 127.0.0.1; `n` counts requests from 0. */
async function startServer(handler: Handler): Promise<TestServer> {
  const state: TestServer = {
    url: '',
    connections: 0,
    requests: [],
    close: async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
  const server = createServer((req, res) => {
    state.requests.push(req.headers);
    handler(req, res, state.requests.length - 1);
  });
  server.on('connection', () => state.connections++);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/data.mp4`;
  return state;
}

/** Answers a range request for `body` the way a correct server does. */
function serveRange(req: IncomingMessage, res: ServerResponse, body: Uint8Array, headers: Record<string, string> = {}): void {
  const m = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '');
  if (m === null) {
    res.writeHead(200, { 'content-length': body.length, ...headers }).end(body);
    return;
  }
  const start = Number(m[1]);
  const end = Math.min(Number(m[2]), body.length - 1);
  if (start >= body.length) {
    res.writeHead(416, { 'content-range': `bytes */${body.length}`, ...headers }).end();
    return;
  }
  res
    .writeHead(206, { 'content-range': `bytes ${start}-${end}/${body.length}`, 'content-length': end - start + 1, ...headers })
    .end(body.subarray(start, end + 1));
}

test('random ranges come back exact, over one keep-alive connection', async () => {
  const server = await startServer((req, res) => serveRange(req, res, data, { etag: '"v1"' }));
  try {
    const s = await HttpSource.open(server.url);
    assert.equal(s.size, data.length);
    assert.equal(s.validator, '"v1"');
    assert.equal(s.key, server.url);
    let bytes = 0;
    let seed = 7;
    for (let i = 0; i < 40; i++) {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      const offset = seed % data.length;
      const length = 1 + (seed % Math.min(5000, data.length - offset));
      assert.deepEqual(await s.read(offset, length), new Uint8Array(data.subarray(offset, offset + length)));
      bytes += length;
    }
    assert.deepEqual(await s.read(data.length - 3, 3), new Uint8Array(data.subarray(data.length - 3)));
    assert.equal((await s.read(data.length, 0)).length, 0);
    assert.equal(s.readCount, 42);
    assert.equal(s.bytesRead, bytes + 3);
    assert.equal(server.requests.length, 42, 'open + 41 range reads (the empty read sends nothing)');
    assert.equal(server.connections, 1);
    assert.ok(server.requests.every((h) => h['accept-encoding'] === 'identity'));
    await assert.rejects(s.read(data.length - 1, 2), isCode('SOURCE_RANGE'));
    await s.close();
    await assert.rejects(s.read(0, 1), isCode('USAGE'));
  } finally {
    await server.close();
  }
});

test('validator falls back to Last-Modified, then size', async () => {
  const lm = 'Tue, 01 Oct 2024 10:00:00 GMT';
  const withLm = await startServer((req, res) => serveRange(req, res, data, { 'last-modified': lm, etag: 'W/"weak"' }));
  const bare = await startServer((req, res) => serveRange(req, res, data));
  try {
    assert.equal((await HttpSource.open(withLm.url, fast)).validator, `${data.length}-${lm}`);
    assert.equal((await HttpSource.open(bare.url, fast)).validator, `${data.length}`);
  } finally {
    await withLm.close();
    await bare.close();
  }
});

test('a server answering 200 to a range request is SOURCE_BAD_RESPONSE', async () => {
  const server = await startServer((_req, res) => {
    res.writeHead(200, { 'content-length': data.length }).end(data);
  });
  try {
    await assert.rejects(HttpSource.open(server.url, fast), isCode('SOURCE_BAD_RESPONSE', /range requests are required/));
  } finally {
    await server.close();
  }
});

test('a server that starts ignoring ranges after open is SOURCE_BAD_RESPONSE', async () => {
  const server = await startServer((req, res, n) => {
    if (n === 0) serveRange(req, res, data);
    else res.writeHead(200, { 'content-length': data.length }).end(data);
  });
  try {
    const s = await HttpSource.open(server.url, fast);
    await assert.rejects(s.read(10, 10), isCode('SOURCE_BAD_RESPONSE', /HTTP 200/));
  } finally {
    await server.close();
  }
});

test('a changed ETag, a changed size or a 412 is SOURCE_CHANGED', async () => {
  let etag = '"one"';
  let body: Uint8Array = data;
  let fail412 = false;
  const server = await startServer((req, res) => {
    if (fail412) res.writeHead(412).end();
    else serveRange(req, res, body, { etag });
  });
  try {
    const s = await HttpSource.open(server.url, fast);
    assert.equal((await s.read(0, 4)).length, 4);
    etag = '"two"';
    await assert.rejects(s.read(0, 4), isCode('SOURCE_CHANGED', /ETag/));
    etag = '"one"';
    body = data.subarray(0, 1000);
    await assert.rejects(s.read(0, 4), isCode('SOURCE_CHANGED', /size is now 1000/));
    await assert.rejects(s.read(2000, 4), isCode('SOURCE_CHANGED', /HTTP 416/));
    body = data;
    fail412 = true;
    await assert.rejects(s.read(0, 4), isCode('SOURCE_CHANGED', /412/));
  } finally {
    await server.close();
  }
});

test('a body shorter than Content-Length is an error after retries, never short data', async () => {
  const server = await startServer((req, res, n) => {
    if (n === 0) {
      serveRange(req, res, data);
      return;
    }
    res.writeHead(206, { 'content-range': 'bytes 0-999/65536', 'content-length': 1000 });
    res.write(data.subarray(0, 400), () => res.socket?.destroy());
  });
  try {
    const s = await HttpSource.open(server.url, { ...fast, retries: 1 });
    await assert.rejects(s.read(0, 1000), isCode('SOURCE_BAD_RESPONSE', /400 of 1000/));
    assert.equal(server.requests.length, 3, 'open, then the read and one retry');
    assert.equal(s.bytesRead, 0);
  } finally {
    await server.close();
  }
});

test('a 206 for another range than asked is SOURCE_BAD_RESPONSE', async () => {
  const server = await startServer((req, res, n) => {
    if (n === 0) serveRange(req, res, data);
    else res.writeHead(206, { 'content-range': 'bytes 0-9/65536', 'content-length': 10 }).end(data.subarray(0, 10));
  });
  try {
    const s = await HttpSource.open(server.url, fast);
    await assert.rejects(s.read(100, 10), isCode('SOURCE_BAD_RESPONSE', /asked for bytes 100-109, got 0-9/));
  } finally {
    await server.close();
  }
});

test('a compressed answer is SOURCE_BAD_RESPONSE', async () => {
  const server = await startServer((req, res) => serveRange(req, res, data, { 'content-encoding': 'gzip' }));
  try {
    await assert.rejects(HttpSource.open(server.url, fast), isCode('SOURCE_BAD_RESPONSE', /Content-Encoding gzip/));
  } finally {
    await server.close();
  }
});

test('a server that never answers is SOURCE_TIMEOUT within about timeoutMs per attempt', async () => {
  const server = await startServer(() => {});
  try {
    const started = Date.now();
    await assert.rejects(
      HttpSource.open(server.url, { timeoutMs: 300, retries: 1, retryDelayMs: 5 }),
      isCode('SOURCE_TIMEOUT', /no response within 300 ms/),
    );
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= 590 && elapsed < 1200, `took ${elapsed} ms for two attempts`);
    assert.equal(server.requests.length, 2);
  } finally {
    await server.close();
  }
});

test('a body that stalls is SOURCE_TIMEOUT after idleTimeoutMs', async () => {
  const server = await startServer((req, res, n) => {
    if (n === 0) {
      serveRange(req, res, data);
      return;
    }
    res.writeHead(206, { 'content-range': 'bytes 0-999/65536', 'content-length': 1000 });
    res.write(data.subarray(0, 10));
  });
  try {
    const s = await HttpSource.open(server.url, { ...fast, idleTimeoutMs: 150, retries: 0 });
    const started = Date.now();
    await assert.rejects(s.read(0, 1000), isCode('SOURCE_TIMEOUT', /stalled/));
    assert.ok(Date.now() - started < 1000);
  } finally {
    await server.close();
  }
});

test('connection refused is SOURCE_UNREACHABLE', async () => {
  const server = await startServer(() => {});
  const url = server.url;
  await server.close();
  await assert.rejects(HttpSource.open(url, { retries: 1, retryDelayMs: 5 }), isCode('SOURCE_UNREACHABLE', /ECONNREFUSED/));
});

test('404 is SOURCE_UNREACHABLE', async () => {
  const server = await startServer((_req, res) => res.writeHead(404).end('no'));
  try {
    await assert.rejects(HttpSource.open(server.url, fast), isCode('SOURCE_UNREACHABLE', /404/));
  } finally {
    await server.close();
  }
});

test('a 503 is retried and the retry succeeds; persistent 5xx is SOURCE_BAD_RESPONSE', async () => {
  let failures = 0;
  const server = await startServer((req, res) => {
    if (failures > 0) {
      failures--;
      res.writeHead(503).end('busy');
    } else {
      serveRange(req, res, data);
    }
  });
  try {
    failures = 1;
    const s = await HttpSource.open(server.url, fast);
    assert.equal(server.requests.length, 2);
    failures = 1;
    assert.deepEqual(await s.read(500, 20), new Uint8Array(data.subarray(500, 520)));
    assert.equal(server.requests.length, 4);
    failures = 10;
    await assert.rejects(s.read(500, 20), isCode('SOURCE_BAD_RESPONSE', /HTTP 503/));
    assert.equal(server.requests.length, 7, 'one attempt and two retries');
  } finally {
    await server.close();
  }
});

test('open follows redirects; reads go to the final URL', async () => {
  const server = await startServer((req, res) => {
    if (req.url === '/start') res.writeHead(302, { location: '/data.mp4' }).end();
    else if (req.url === '/loop') res.writeHead(301, { location: '/loop' }).end();
    else serveRange(req, res, data);
  });
  try {
    const start = server.url.replace('/data.mp4', '/start');
    const s = await HttpSource.open(start, fast);
    assert.equal(s.key, start);
    assert.equal(s.url, server.url);
    assert.deepEqual(await s.read(1, 2), new Uint8Array(data.subarray(1, 3)));
    await assert.rejects(
      HttpSource.open(server.url.replace('/data.mp4', '/loop'), fast),
      isCode('SOURCE_BAD_RESPONSE', /redirects/),
    );
  } finally {
    await server.close();
  }
});

test('an empty resource (416 bytes */0) opens with size 0', async () => {
  const server = await startServer((req, res) => serveRange(req, res, new Uint8Array(0)));
  try {
    const s = await HttpSource.open(server.url, fast);
    assert.equal(s.size, 0);
    assert.equal((await s.read(0, 0)).length, 0);
  } finally {
    await server.close();
  }
});

test('close() aborts a read in flight', async () => {
  const server = await startServer((req, res, n) => {
    if (n === 0) serveRange(req, res, data);
    // otherwise never answer
  });
  try {
    const s = await HttpSource.open(server.url, fast);
    const pending = s.read(0, 10);
    setTimeout(() => void s.close(), 20);
    await assert.rejects(pending, isCode('USAGE', /closed/));
  } finally {
    await server.close();
  }
});

test('bad options and URLs are USAGE errors', async () => {
  await assert.rejects(HttpSource.open('ftp://example.com/x'), isCode('USAGE'));
  await assert.rejects(HttpSource.open('http://'), isCode('USAGE'));
  await assert.rejects(HttpSource.open('http://127.0.0.1:1/x', { timeoutMs: 0 }), isCode('USAGE'));
  await assert.rejects(HttpSource.open('http://127.0.0.1:1/x', { retries: -1 }), isCode('USAGE'));
});
