// Writes are authenticated (issue 11, G.17): with VVF_ADMIN_TOKEN, POST and DELETE /v need
// it as a bearer token; without one, only loopback clients may write (a client reaching the
// server over another interface may read, not write). `vvf sign` makes URLs that expire
// unless told `--expires never`.
import assert from 'node:assert/strict';
import { networkInterfaces } from 'node:os';
import { after, before, test } from 'node:test';
import { verifySignedPath } from '../../src/catalog/signed-url.js';
import { startServer, type VvfServer } from '../../src/server/app.js';
import { defaultServeConfig } from '../../src/server/config.js';
import { fixtureRoot, runVvf } from './server-helpers.js';

const TOKEN = 'admin-token-for-tests-0123456789';
const RECIPE = JSON.stringify({ tracks: ['dash/manifest.mpd'] });
let root: string;
let guarded: VvfServer;
let open: VvfServer;

/** This host's address on a non-loopback interface, if it has one. */
const external = Object.values(networkInterfaces())
  .flat()
  .find((a) => a !== undefined && !a.internal && a.family === 'IPv4')?.address;

before(async () => {
  ({ root } = await fixtureRoot('dash-template-number', 'dash'));
  guarded = await startServer({ ...defaultServeConfig, port: 0, roots: [root], adminToken: TOKEN }, { log: () => {} });
  // Every interface, so that a client can come from loopback or from the network.
  open = await startServer({ ...defaultServeConfig, host: '0.0.0.0', port: 0, roots: [root] }, { log: () => {} });
});

after(async () => {
  await Promise.allSettled([guarded?.close(), open?.close()]);
});

test('with a token: POST and DELETE need Authorization: Bearer <token>, 401 with a challenge otherwise', async () => {
  for (const authorization of [
    undefined,
    'Bearer wrong',
    `Basic ${Buffer.from(`x:${TOKEN}`).toString('base64')}`,
    `Bearer ${TOKEN}x`,
  ]) {
    const res = await fetch(`${guarded.url}/v`, {
      method: 'POST',
      body: RECIPE,
      headers: authorization ? { authorization } : {},
    });
    assert.equal(res.status, 401, String(authorization));
    assert.equal(res.headers.get('www-authenticate'), 'Bearer realm="vvf"');
    assert.equal(((await res.json()) as { error: string }).error, 'UNAUTHORIZED');
  }
  const ok = await fetch(`${guarded.url}/v`, { method: 'POST', body: RECIPE, headers: { authorization: `Bearer ${TOKEN}` } });
  assert.equal(ok.status, 201);
  const { id, url } = (await ok.json()) as { id: string; url: string };
  // Reads need nothing.
  assert.equal((await fetch(url, { headers: { range: 'bytes=0-9' } })).status, 206);
  assert.equal((await fetch(`${guarded.url}/v`)).status, 200);

  assert.equal((await fetch(`${guarded.url}/v/${id}`, { method: 'DELETE' })).status, 401);
  assert.equal((await fetch(url, { headers: { range: 'bytes=0-9' } })).status, 206, 'still there');
  const deleted = await fetch(`${guarded.url}/v/${id}`, { method: 'DELETE', headers: { authorization: `bearer ${TOKEN}` } });
  assert.equal(deleted.status, 204);
});

test('without a token: loopback clients may write, others get 403 but may still read', {
  skip: external === undefined,
}, async () => {
  const port = new URL(open.url).port;
  const local = await fetch(`http://127.0.0.1:${port}/v`, { method: 'POST', body: RECIPE });
  assert.equal(local.status, 201);
  const { id } = (await local.json()) as { id: string };

  const remote = `http://${external}:${port}`;
  const refused = await fetch(`${remote}/v`, { method: 'POST', body: JSON.stringify({ tracks: ['dash/manifest.mpd'], end: 2 }) });
  assert.equal(refused.status, 403);
  assert.match(((await refused.json()) as { message: string }).message, /loopback clients only/);
  assert.equal((await fetch(`${remote}/v/${id}`, { method: 'DELETE' })).status, 403);
  assert.equal((await fetch(`${remote}/v/${id}.mp4`, { headers: { range: 'bytes=0-9' } })).status, 206, 'reads are open');
  assert.equal((await fetch(`http://127.0.0.1:${port}/v/${id}`, { method: 'DELETE' })).status, 204);
});

test('vvf sign: a finite lifetime by default (said on stderr), --expires never to opt out', async () => {
  const env = { VVF_SIGNING_KEY: 'k1' };
  const recipe = `${root}/r.json`;
  await import('node:fs').then((fs) => fs.writeFileSync(recipe, RECIPE));
  const payload = (url: string) =>
    JSON.parse(Buffer.from(new URL(url).pathname.split('/')[2]!.split('.')[0]!, 'base64url').toString()) as { e?: number };

  const byDefault = await runVvf(['sign', recipe, '--base', 'http://h:1'], env);
  assert.equal(byDefault.code, 0, byDefault.stderr);
  const e = payload(byDefault.stdout.trim()).e;
  assert.ok(e !== undefined, 'the default URL expires');
  assert.ok(Math.abs(e - (Date.now() / 1000 + 86_400)) < 60, 'in 24 hours');
  assert.match(byDefault.stderr, /expires at .*the default, 24 hours/);
  verifySignedPath(new URL(byDefault.stdout.trim()).pathname, 'k1');

  const never = await runVvf(['sign', recipe, '--expires', 'never'], env);
  assert.equal(never.code, 0, never.stderr);
  assert.equal(payload(`http://h${never.stdout.trim()}`).e, undefined);
  assert.match(never.stderr, /never expires/);

  const bad = await runVvf(['sign', recipe, '--expires', 'soon'], env);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--expires must be a positive number of seconds, or never/);
});
