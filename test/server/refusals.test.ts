// What the server refuses and how it says so (issue 11, F.12): a missing source is the
// client's 404, malformed percent-encoding a 400, messages stay short whatever the input
// holds, and a server that cannot start says why in one line.
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, test } from 'node:test';
import { startServer, type VvfServer } from '../../src/server/app.js';
import { defaultServeConfig } from '../../src/server/config.js';
import { fixtureRoot, runVvf } from './server-helpers.js';

let server: VvfServer;
let root: string;
const logs: Record<string, unknown>[] = [];

before(async () => {
  ({ root } = await fixtureRoot('dash-template-time', 'dash'));
  server = await startServer({ ...defaultServeConfig, port: 0, roots: [root] }, { log: (e) => logs.push(e) });
});

after(async () => {
  await server.close();
});

/** A GET with the path sent exactly as written (fetch would normalize it). */
function rawGet(path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const u = new URL(server.url);
    request({ host: u.hostname, port: u.port, path, method: 'GET' }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => {
        body += d.toString();
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    })
      .on('error', reject)
      .end();
  });
}

test('a recipe naming a missing local file is 404 SOURCE_NOT_FOUND, not 502', async () => {
  for (const tracks of [['dash/nope.mp4'], ['nope-dir/x.mp4'], ['dash/manifest.mpd/under-a-file.mp4']]) {
    const res = await fetch(`${server.url}/v`, { method: 'POST', body: JSON.stringify({ tracks }) });
    const body = (await res.json()) as { error: string };
    assert.equal(res.status, 404, JSON.stringify(body));
    assert.equal(body.error, 'SOURCE_NOT_FOUND');
  }
  const dash = await rawGet('/dash/dash/missing.mpd.mp4');
  assert.equal(dash.status, 404, dash.body);
});

test('malformed percent-encoding in /dash/ paths is 400, not 500', async () => {
  for (const path of ['/dash/%ZZ.mpd.mp4', '/dash/%c0%ae%c0%ae/x.mpd.mp4', '/dash/a%.mpd.mp4', '/dash/%ff.mpd.mp4']) {
    const r = await rawGet(path);
    assert.equal(r.status, 400, `${path}: ${r.body}`);
    assert.equal((JSON.parse(r.body) as { error: string }).error, 'USAGE');
  }
  assert.ok(!logs.some((l) => l.msg === 'internal error'), 'no internal error logged');
  assert.equal((await fetch(`${server.url}/healthz`)).status, 200);
});

test('error messages are capped: a 100 KB name makes neither a 100 KB body nor a 100 KB log line', async () => {
  const long = 'a'.repeat(100_000);
  const before = logs.length;
  const res = await fetch(`${server.url}/v`, { method: 'POST', body: JSON.stringify({ tracks: [`${long}.mp4`] }) });
  const text = await res.text();
  assert.equal(res.status, 404);
  assert.ok(text.length < 3000, `body of ${text.length} characters`);
  assert.match(text, /more characters/);
  const line = JSON.stringify(logs.slice(before).find((l) => l.method === 'POST'));
  assert.ok(line.length < 5000, `log line of ${line.length} characters`);
});

test('a port in use, or a --root that does not exist, is one line at start and a non-zero exit', async () => {
  const port = new URL(server.url).port;
  const taken = await runVvf(['serve', '--port', port, '--root', root, '--store', 'none']);
  assert.notEqual(taken.code, 0);
  assert.equal(taken.stderr.trim().split('\n').length, 1, taken.stderr);
  assert.match(taken.stderr, /^vvf: USAGE: cannot listen on 127\.0\.0\.1:\d+: the address is in use/);

  const missing = await runVvf(['serve', '--port', '0', '--root', `${root}/no-such-dir`, '--store', 'none']);
  assert.notEqual(missing.code, 0);
  assert.equal(missing.stderr.trim().split('\n').length, 1, missing.stderr);
  assert.match(missing.stderr, /^vvf: USAGE: root .*no-such-dir cannot be used: it does not exist/);
});

test('answers show recipe paths relative to their root, never the server path (F.14)', async () => {
  const posted = await fetch(`${server.url}/v`, { method: 'POST', body: JSON.stringify({ tracks: ['dash/manifest.mpd'] }) });
  const text = await posted.text();
  assert.ok(posted.status === 201 || posted.status === 200, text);
  assert.ok(!text.includes(root), `no server path in ${text}`);
  const body = JSON.parse(text) as { recipe: { pieces: { tracks: { source: string }[] }[] } };
  assert.equal(body.recipe.pieces[0]!.tracks[0]!.source, 'dash/manifest.mpd');

  const listing = await (await fetch(`${server.url}/v`)).text();
  assert.ok(!listing.includes(root), `no server path in ${listing}`);
  assert.match(listing, /"source":"dash\/manifest\.mpd"/);

  // Asking for a track the source does not have names the source relative to its root.
  const missing = await fetch(`${server.url}/v`, {
    method: 'POST',
    body: JSON.stringify({ tracks: [{ source: 'dash/manifest.mpd', track: 99 }] }),
  });
  const error = await missing.text();
  assert.equal(missing.status, 400, error);
  assert.ok(!error.includes(root), `no server path in ${error}`);
  assert.match(error, /dash\/manifest\.mpd has no track 99/);
  const page = await (await fetch(`${server.url}/`)).text();
  assert.ok(!page.includes(root), 'no server path on the page');
});
