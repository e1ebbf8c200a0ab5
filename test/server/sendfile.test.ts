// The sendfile path of serveFile (native/send-pieces.c): the same bytes as copying through
// user space for every kind of range, files cut short before and during a response, and
// clients that leave mid-body.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, readdirSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { type AddressInfo, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { kernelSender } from '../../src/server/kernel-send.js';
import { type ServeFileOptions, serveFile } from '../../src/server/serve-file.js';
import { FileSource } from '../../src/sources/file-source.js';
import type { VirtualFile } from '../../src/virtual/virtual-file.js';
import { VirtualFileBuilder } from '../../src/virtual/virtual-file-builder.js';
import { lookupResolver, prng, randInt } from '../virtual/virtual-helpers.js';

const MiB = 1 << 20;
let dir = '';
const servers: Server[] = [];

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'vvf-sendfile-'));
});
after(async () => {
  for (const s of servers) s.closeAllConnections();
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  rmSync(dir, { recursive: true, force: true });
});

/** Bytes that differ at every position (a byte counter would repeat every 256 bytes). */
function pattern(n: number, seed: number): Buffer {
  const b = Buffer.allocUnsafe(n + 3);
  for (let i = 0; i < n; i += 4) b.writeUInt32BE((Math.imul(i + 1, 2654435761) ^ seed) >>> 0, i);
  return b.subarray(0, n);
}

function writeData(name: string, n: number, seed: number): { path: string; data: Buffer } {
  const path = join(dir, name);
  const data = pattern(n, seed);
  writeFileSync(path, data);
  return { path, data };
}

/** A virtual file of held bytes and ranges of two local files, and its expected bytes. */
async function mixedFile(): Promise<{ file: VirtualFile; expected: Buffer; held: [number, number][] }> {
  const a = writeData('a.bin', 24 * MiB, 1);
  const b = writeData('b.bin', 3 * MiB, 2);
  const sources = [await FileSource.open(a.path), await FileSource.open(b.path)];
  const builder = new VirtualFileBuilder(sources);
  const parts: Buffer[] = [];
  const heldAt: [number, number][] = [];
  const held = (n: number, seed: number) => {
    const bytes = pattern(n, seed);
    heldAt.push([builder.size, builder.size + n]);
    builder.addBytes(bytes);
    parts.push(bytes);
  };
  const range = (i: number, offset: number, length: number) => {
    builder.addSourceRange(i, offset, length);
    parts.push((i === 0 ? a : b).data.subarray(offset, offset + length));
  };
  held(1000, 3);
  range(0, 0, 5 * MiB);
  held(10, 4);
  range(1, 0, MiB);
  range(0, 5 * MiB, 7 * MiB);
  range(1, MiB + 17, 100_000);
  held(4096, 5);
  range(1, 2 * MiB, MiB);
  range(0, 20 * MiB, 4 * MiB);
  return {
    file: builder.build({ format: 'test', resolve: lookupResolver(sources).resolve }),
    expected: Buffer.concat(parts),
    held: heldAt,
  };
}

async function serving(file: VirtualFile, opts: Partial<ServeFileOptions> = {}): Promise<{ url: string; sent: () => number }> {
  let sent = 0;
  const server = createServer((req, res) => {
    void serveFile(req, res, file, {
      cacheControl: 'no-cache',
      maxRanges: 16,
      lastModified: new Date(0),
      onSent: (n) => {
        sent += n;
      },
      ...opts,
    });
  });
  servers.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, sent: () => sent };
}

async function get(url: string, range?: string) {
  const res = await fetch(url, range ? { headers: { range } } : {});
  return { status: res.status, headers: res.headers, body: Buffer.from(await res.arrayBuffer()) };
}

describe('sendfile', { skip: kernelSender() === null ? 'native addon not built (npm run build:native)' : false }, () => {
  test('every kind of range gives the same bytes with and without sendfile, and sendfile carried them', async () => {
    const { file, expected, held } = await mixedFile();
    const on = await serving(file, { sendWindow: MiB });
    const off = await serving(file, { sendfile: false });
    const rng = prng(42);
    const ranges: [string | undefined, number, number][] = [
      [undefined, 0, expected.length],
      ['bytes=0-1', 0, 2],
      ['bytes=-5000', expected.length - 5000, expected.length],
      [`bytes=${1000 - 3}-${1000 + 5 * MiB + 20}`, 997, 1000 + 5 * MiB + 21],
      [`bytes=${expected.length - 4 * MiB - 100}-`, expected.length - 4 * MiB - 100, expected.length],
    ];
    for (let i = 0; i < 20; i++) {
      const start = randInt(rng, 0, expected.length - 1);
      const end = Math.min(expected.length, start + randInt(rng, 1, 3 * MiB));
      ranges.push([`bytes=${start}-${end - 1}`, start, end]);
    }
    // Ranges of held bytes alone are written as they are; every other body goes through sendfile.
    let bodies = 0;
    let heldOnly = 0;
    for (const [range, start, end] of ranges) {
      const a = await get(on.url, range);
      const b = await get(off.url, range);
      assert.equal(a.status, range ? 206 : 200, `${range}`);
      assert.equal(a.status, b.status);
      assert.equal(a.headers.get('content-length'), String(end - start));
      assert.equal(a.headers.get('content-range'), b.headers.get('content-range'));
      assert.ok(a.body.equals(expected.subarray(start, end)), `${range}: sendfile bytes`);
      assert.ok(b.body.equals(a.body), `${range}: copied bytes`);
      if (held.some(([a, b]) => a <= start && end <= b)) heldOnly++;
      else bodies += end - start;
    }
    assert.ok(heldOnly >= 1, 'bytes=0-1 is held bytes alone');
    assert.equal(on.sent(), bodies, 'every other body went out through sendfile');
    assert.equal(off.sent(), 0);
  });

  test('a file changed under its open descriptor: 502 SOURCE_CHANGED before the response', async () => {
    const c = writeData('c.bin', 4 * MiB, 6);
    const source = await FileSource.open(c.path);
    const builder = new VirtualFileBuilder([source]);
    builder.addBytes(pattern(100, 7));
    builder.addSourceRange(0, 0, 4 * MiB);
    const file = builder.build({ format: 'test', resolve: lookupResolver([source]).resolve });
    const { url } = await serving(file);
    assert.equal((await get(url, 'bytes=50-2000')).status, 206);
    truncateSync(c.path, MiB);
    for (const range of [`bytes=0-${2 * MiB}`, 'bytes=100-1100']) {
      const res = await get(url, range);
      assert.equal(res.status, 502, range);
      assert.equal(JSON.parse(res.body.toString()).error, 'SOURCE_CHANGED');
    }
    // Bytes vvf holds are still served.
    const held = await get(url, 'bytes=0-99');
    assert.equal(held.status, 206);
    assert.ok(held.body.equals(pattern(100, 7)));
  });

  test('a file cut short mid-body: the connection is cut, and what came before is right', async () => {
    const d = writeData('d.bin', 48 * MiB, 8);
    const source = await FileSource.open(d.path);
    const builder = new VirtualFileBuilder([source]);
    builder.addSourceRange(0, 0, 48 * MiB);
    const file = builder.build({ format: 'test', resolve: lookupResolver([source]).resolve });
    const { url } = await serving(file, { sendWindow: MiB });
    const { port } = new URL(url);
    const socket = connect(Number(port), '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    socket.once('data', (c: Buffer) => {
      chunks.push(c);
      socket.pause();
    });
    socket.on('data', (c: Buffer) => chunks.length > 0 && chunks[chunks.length - 1] !== c && chunks.push(c));
    await sleep(300);
    // The server is blocked on the full socket now, mid-file; cut the file on a page boundary.
    truncateSync(d.path, 16 * MiB);
    socket.resume();
    await once(socket, 'close');
    const all = Buffer.concat(chunks);
    const bodyAt = all.indexOf('\r\n\r\n') + 4;
    const head = all.subarray(0, bodyAt).toString();
    assert.match(head, /^HTTP\/1\.1 200/);
    assert.match(head, new RegExp(`content-length: ${48 * MiB}`, 'i'));
    const body = all.subarray(bodyAt);
    assert.ok(body.length < 48 * MiB, `cut short: ${body.length} bytes`);
    assert.ok(body.length > 0, 'some bytes came first');
    assert.ok(body.equals(d.data.subarray(0, body.length)), 'every byte that came is right');
  });

  test('pipelined requests on one connection: each answer whole and in order', async () => {
    const { file, expected } = await mixedFile();
    const { url } = await serving(file, { sendWindow: MiB });
    const { port } = new URL(url);
    const ranges: [number, number][] = [
      [0, 3 * MiB],
      [500, 600],
      [5 * MiB, 7 * MiB + 12_345],
      [expected.length - 2 * MiB, expected.length - 1],
    ];
    const socket = connect(Number(port), '127.0.0.1');
    // All requests at once, before any answer: Node queues the later responses behind the first.
    socket.write(ranges.map(([a, b]) => `GET / HTTP/1.1\r\nHost: x\r\nRange: bytes=${a}-${b}\r\n\r\n`).join(''));
    const chunks: Buffer[] = [];
    const want = ranges.reduce((n, [a, b]) => n + b - a + 1, 0);
    socket.on('data', (c: Buffer) => chunks.push(c));
    for (let i = 0; i < 200 && Buffer.concat(chunks).length < want; i++) await sleep(50);
    socket.destroy();
    let all = Buffer.concat(chunks);
    for (const [a, b] of ranges) {
      const end = all.indexOf('\r\n\r\n');
      assert.ok(end > 0, 'a response head');
      const head = all.subarray(0, end).toString();
      assert.match(head, /^HTTP\/1\.1 206/);
      assert.match(head, new RegExp(`content-range: bytes ${a}-${b}/${expected.length}`, 'i'));
      const body = all.subarray(end + 4, end + 4 + (b - a + 1));
      assert.ok(body.equals(expected.subarray(a, b + 1)), `bytes ${a}-${b}`);
      all = all.subarray(end + 4 + (b - a + 1));
    }
    assert.equal(all.length, 0, 'nothing after the last answer');
  });

  test('clients that leave mid-body leave no descriptor behind, and the server goes on', async () => {
    const { file, expected } = await mixedFile();
    const { url } = await serving(file, { sendWindow: 4 * MiB });
    const { port } = new URL(url);
    await get(url, 'bytes=0-0');
    const fds = () => readdirSync('/proc/self/fd').length;
    const before = fds();
    for (let i = 0; i < 5; i++) {
      const socket = connect(Number(port), '127.0.0.1');
      socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
      await once(socket, 'data');
      socket.destroy();
    }
    let now = fds();
    for (let i = 0; i < 50 && now > before; i++) {
      await sleep(50);
      now = fds();
    }
    assert.ok(now <= before, `descriptors: ${before} before, ${now} after`);
    const res = await get(url, 'bytes=1000-2000000');
    assert.ok(res.body.equals(expected.subarray(1000, 2_000_001)));
  });
});
