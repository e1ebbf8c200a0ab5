// The upload route an encode coordinator gives its server: only with a signature made with the
// shared key, only to paths it expects, and a file counts only once its size and SHA-256 are
// the declared ones — nothing else leaves a byte under the folder. `vvf serve` has no such route.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { uploadHeaders } from '../../src/catalog/upload-auth.js';
import { startServer, type VvfServer } from '../../src/server/app.js';
import { defaultServeConfig } from '../../src/server/config.js';

const KEY = 'shared-key-for-upload-tests';
const dir = mkdtempSync(join(tmpdir(), 'vvf-upload-'));
const BODY = Buffer.from('encoded bytes of a chunk, as a worker sends them back');
const SHA = createHash('sha256').update(BODY).digest('hex');
const uploaded: string[] = [];
let server: VvfServer;
let plain: VvfServer;

before(async () => {
  mkdirSync(join(dir, 'chunks', '360p'), { recursive: true });
  const expected = new Set(['chunks/360p/0001.mp4', 'chunks/360p/0002.mp4', 'chunks/360p/0003.mp4']);
  server = await startServer(
    { ...defaultServeConfig, port: 0, roots: [dir] },
    { log: () => {}, upload: { dir, key: KEY, accept: (p) => expected.has(p), uploaded: (p) => uploaded.push(p) } },
  );
  plain = await startServer({ ...defaultServeConfig, port: 0, roots: [dir] }, { log: () => {} });
});
after(async () => {
  await Promise.allSettled([server?.close(), plain?.close()]);
});

/** A PUT as node sends it (fetch does not let a caller set Content-Length). */
function put(url: string, body: Buffer, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'PUT', headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        text += c;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    // The server may answer before it reads the body: that is a refusal, not a failure of the test.
    req.on('error', (e: NodeJS.ErrnoException) => (e.code === 'EPIPE' || e.code === 'ECONNRESET' ? undefined : reject(e)));
    req.end(body);
  });
}

function signed(path: string, opts: { key?: string; size?: number; sha256?: string; expires?: number } = {}) {
  const size = opts.size ?? BODY.length;
  return {
    'content-length': String(size),
    ...uploadHeaders(opts.key ?? KEY, {
      path,
      size,
      sha256: opts.sha256 ?? SHA,
      expires: opts.expires ?? Math.floor(Date.now() / 1000) + 60,
    }),
  };
}

/** Every file under the folder, `.partial` leftovers included. */
function filesUnder(root: string): string[] {
  return readdirSync(root, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name).slice(root.length + 1))
    .sort();
}

test('a signed upload of an expected path is written whole, once its size and checksum hold', async () => {
  const path = '/upload/chunks/360p/0001.mp4';
  const r = await put(`${server.url}${path}`, BODY, signed(path));
  assert.equal(r.status, 201, r.body);
  assert.deepEqual(JSON.parse(r.body), { path: 'chunks/360p/0001.mp4', size: BODY.length, sha256: SHA });
  assert.deepEqual(readFileSync(join(dir, 'chunks', '360p', '0001.mp4')), BODY);
  assert.deepEqual(uploaded, ['chunks/360p/0001.mp4']);
});

test('a wrong key, a wrong checksum, a short body, a path not expected or outside: refused, nothing written', async () => {
  const before = filesUnder(dir);
  const path = '/upload/chunks/360p/0002.mp4';
  const url = `${server.url}${path}`;
  const wrongKey = await put(url, BODY, signed(path, { key: 'another key' }));
  assert.equal(wrongKey.status, 401, wrongKey.body);
  assert.match(wrongKey.body, /UNAUTHORIZED/);
  const unsigned = await put(url, BODY, { 'content-length': String(BODY.length) });
  assert.equal(unsigned.status, 401);
  const expired = await put(url, BODY, signed(path, { expires: Math.floor(Date.now() / 1000) - 1 }));
  assert.equal(expired.status, 401);
  assert.match(expired.body, /expired/);

  // Signed for other bytes: the body's hash is not the declared one.
  const otherSha = createHash('sha256').update('something else').digest('hex');
  const wrongSum = await put(url, BODY, signed(path, { sha256: otherSha }));
  assert.equal(wrongSum.status, 422, wrongSum.body);
  assert.match(wrongSum.body, /UPLOAD_MISMATCH/);
  // A flipped byte, with the original's signature and checksum.
  const flipped = Buffer.from(BODY);
  flipped[3] = (flipped[3] ?? 0) ^ 1;
  const corrupt = await put(url, flipped, signed(path));
  assert.equal(corrupt.status, 422, corrupt.body);

  // Signed for one path, sent to another: the signature does not hold there.
  const moved = await put(`${server.url}/upload/chunks/360p/0003.mp4`, BODY, signed(path));
  assert.equal(moved.status, 401);
  // Signed, but not a path the coordinator expects now.
  const unexpected = '/upload/chunks/360p/0009.mp4';
  assert.equal((await put(`${server.url}${unexpected}`, BODY, signed(unexpected))).status, 403);
  // Out of the folder, however it is spelled: refused before anything is opened.
  for (const p of [
    '/upload/../x.mp4',
    '/upload/chunks/%2e%2e/%2e%2e/x.mp4',
    '/upload/chunks/..%2f..%2fx.mp4',
    '/upload/.hidden',
  ]) {
    const r = await put(`${server.url}${p}`, BODY, signed(new URL(p, 'http://h').pathname));
    assert.ok(r.status === 400 || r.status === 403 || r.status === 404, `${p}: ${r.status} ${r.body}`);
  }
  // A body that stops short of its declared size: the client goes away mid-upload.
  await new Promise<void>((resolve) => {
    const req = request(url, { method: 'PUT', headers: signed(path, { size: BODY.length + 100 }) });
    req.on('error', () => resolve());
    req.on('close', () => resolve());
    req.write(BODY, () => setTimeout(() => req.destroy(), 100));
  });
  await new Promise((r) => setTimeout(r, 200));
  assert.deepEqual(filesUnder(dir), before, 'no file and no leftover');
  assert.equal(existsSync(join(dir, '..', 'x.mp4')), false);
  assert.deepEqual(uploaded, ['chunks/360p/0001.mp4']);
});

test('vvf serve has no upload route', async () => {
  const path = '/upload/chunks/360p/0002.mp4';
  const r = await put(`${plain.url}${path}`, BODY, signed(path));
  assert.equal(r.status, 404);
  assert.deepEqual(filesUnder(dir).includes('chunks/360p/0002.mp4'), false);
});
