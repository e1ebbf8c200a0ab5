// CORS (issue 11, G.16): configured origins get Access-Control-Allow-Origin and the headers a
// player needs to use ranges; a preflight OPTIONS is answered; other origins get no grant.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startServer, type VvfServer } from '../../src/server/app.js';
import { defaultServeConfig, loadServeConfig } from '../../src/server/config.js';
import { fixtureRoot } from './server-helpers.js';

const PLAYER = 'https://player.example';
let listed: VvfServer;
let open: VvfServer;
let fileUrl: string;

before(async () => {
  const { root } = await fixtureRoot('dash-template-number', 'dash');
  listed = await startServer({ ...defaultServeConfig, port: 0, roots: [root], corsOrigins: [PLAYER] }, { log: () => {} });
  open = await startServer({ ...defaultServeConfig, port: 0, roots: [root], corsOrigins: ['*'] }, { log: () => {} });
  const reg = await fetch(`${listed.url}/v`, { method: 'POST', body: JSON.stringify({ tracks: ['dash/manifest.mpd'] }) });
  fileUrl = ((await reg.json()) as { url: string }).url;
  await fetch(`${open.url}/v`, { method: 'POST', body: JSON.stringify({ tracks: ['dash/manifest.mpd'] }) });
});

after(async () => {
  await Promise.allSettled([listed?.close(), open?.close()]);
});

test('a range request from an allowed origin is granted, with Content-Range, Content-Length, Accept-Ranges and ETag exposed', async () => {
  const res = await fetch(fileUrl, { headers: { origin: PLAYER, range: 'bytes=0-99' } });
  assert.equal(res.status, 206);
  assert.equal(res.headers.get('access-control-allow-origin'), PLAYER);
  assert.match(res.headers.get('vary') ?? '', /Origin/);
  const exposed = (res.headers.get('access-control-expose-headers') ?? '').split(/,\s*/).map((h) => h.toLowerCase());
  for (const h of ['content-range', 'content-length', 'accept-ranges', 'etag']) assert.ok(exposed.includes(h), h);
  // Errors carry the grant too, so that a page can read why.
  const missing = await fetch(`${listed.url}/v/nope.mp4`, { headers: { origin: PLAYER } });
  assert.equal(missing.status, 404);
  assert.equal(missing.headers.get('access-control-allow-origin'), PLAYER);
});

test('another origin gets no grant; a request without Origin gets none either', async () => {
  const other = await fetch(fileUrl, { headers: { origin: 'https://evil.example', range: 'bytes=0-9' } });
  assert.equal(other.status, 206);
  assert.equal(other.headers.get('access-control-allow-origin'), null);
  assert.equal(other.headers.get('access-control-expose-headers'), null);
  const plain = await fetch(fileUrl, { headers: { range: 'bytes=0-9' } });
  assert.equal(plain.headers.get('access-control-allow-origin'), null);
});

test('preflight OPTIONS: allowed methods and headers (Range, If-Range, Authorization) for an allowed origin only', async () => {
  const preflight = (url: string, origin: string) =>
    fetch(url, {
      method: 'OPTIONS',
      headers: { origin, 'access-control-request-method': 'GET', 'access-control-request-headers': 'range, if-range' },
    });
  const ok = await preflight(fileUrl, PLAYER);
  assert.equal(ok.status, 204);
  assert.equal(ok.headers.get('access-control-allow-origin'), PLAYER);
  assert.match(ok.headers.get('access-control-allow-methods') ?? '', /GET/);
  assert.match(ok.headers.get('access-control-allow-headers') ?? '', /Range/);
  assert.match(ok.headers.get('access-control-allow-headers') ?? '', /If-Range/);
  assert.match(ok.headers.get('access-control-allow-headers') ?? '', /Authorization/);
  assert.ok(Number(ok.headers.get('access-control-max-age')) > 0);

  const refused = await preflight(fileUrl, 'https://evil.example');
  assert.equal(refused.status, 204);
  assert.equal(refused.headers.get('access-control-allow-origin'), null);
});

test('`*` grants any origin with `*`; the list comes from --cors or VVF_CORS', async () => {
  const list = (await (await fetch(`${open.url}/v`)).json()) as { files: { url: string }[] };
  const res = await fetch(list.files[0]!.url, { headers: { origin: 'https://anyone.example', range: 'bytes=0-0' } });
  assert.equal(res.headers.get('access-control-allow-origin'), '*');
  assert.match(res.headers.get('access-control-expose-headers') ?? '', /Content-Range/);
  assert.deepEqual(loadServeConfig({ env: { VVF_CORS: `${PLAYER},https://b.example` } }).corsOrigins, [
    PLAYER,
    'https://b.example',
  ]);
  assert.deepEqual(loadServeConfig({ flags: { corsOrigins: ['*'] } }).corsOrigins, ['*']);
});
