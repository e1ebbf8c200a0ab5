// Signed URLs served statelessly by any instance sharing the key; the /dash convenience
// form; Prometheus metrics.
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { ensureFixtures } from '../../scripts/fixtures.js';
import { signRecipe } from '../../src/catalog/signed-url.js';
import { parseRecipe } from '../../src/compose/recipe.js';
import { startServer, type VvfServer } from '../../src/server/app.js';
import { defaultServeConfig } from '../../src/server/config.js';

const KEY = 'test-signing-key-0123456789';
let a: VvfServer;
let b: VvfServer;
let keyless: VvfServer;
let root: string;

before(async () => {
  const fixture = (await ensureFixtures()).find((f) => f.name === 'shaka-live')!;
  root = mkdtempSync(join(tmpdir(), 'vvf-signed-'));
  cpSync(dirname(fixture.input), join(root, 'talk'), { recursive: true });
  const config = { ...defaultServeConfig, port: 0, roots: [root], signingKey: KEY };
  a = await startServer(config, { log: () => {} });
  b = await startServer(config, { log: () => {} });
  keyless = await startServer({ ...config, signingKey: undefined }, { log: () => {} });
});

after(async () => {
  await Promise.all([a.close(), b.close(), keyless.close()]);
});

async function bytes(url: string, init?: RequestInit): Promise<{ status: number; body: Buffer; type: string | null }> {
  const res = await fetch(url, init);
  return { status: res.status, body: Buffer.from(await res.arrayBuffer()), type: res.headers.get('content-type') };
}

test('a signed URL is served by any instance sharing the key, with no registration', async () => {
  const path = signRecipe(parseRecipe({ tracks: ['talk/manifest.mpd'], start: 1, end: 3 }), KEY);
  const fromA = await bytes(`${a.url}${path}`);
  const fromB = await bytes(`${b.url}${path}`);
  assert.equal(fromA.status, 200);
  assert.equal(fromA.type, 'video/mp4');
  assert.ok(fromA.body.length > 1000);
  assert.ok(fromA.body.equals(fromB.body));
  const ranged = await fetch(`${b.url}${path}`, { headers: { range: 'bytes=0-1' } });
  assert.equal(ranged.status, 206);
});

test('tampered, expired or unkeyed signed URLs are refused with 403', async () => {
  const recipe = parseRecipe({ tracks: ['talk/manifest.mpd'] });
  const path = signRecipe(recipe, KEY);
  const [, , payload, sig] = /^\/s\/(([^.]+))\.([^.]+)\.mp4$/.exec(path)!;
  const flipped = sig!.startsWith('A') ? `B${sig!.slice(1)}` : `A${sig!.slice(1)}`;
  const otherPayload = Buffer.from(JSON.stringify({ r: { tracks: ['../../etc/passwd'] } })).toString('base64url');
  for (const bad of [
    `/s/${payload}.${flipped}.mp4`,
    `/s/${otherPayload}.${sig}.mp4`,
    signRecipe(recipe, 'another-key'),
    signRecipe(recipe, KEY, { expiresAt: Date.now() / 1000 - 1 }),
  ]) {
    const r = await bytes(`${a.url}${bad}`);
    assert.equal(r.status, 403, bad);
    assert.equal(JSON.parse(r.body.toString()).error, 'SOURCE_FORBIDDEN');
  }
  const future = signRecipe(recipe, KEY, { expiresAt: Date.now() / 1000 + 60 });
  assert.equal((await bytes(`${a.url}${future}`)).status, 200);
  assert.equal((await bytes(`${keyless.url}${path}`)).status, 403);
});

test('/dash/{manifest}.mp4 serves the best video and audio, or chosen representations', async () => {
  const best = await bytes(`${a.url}/dash/talk/manifest.mpd.mp4`);
  assert.equal(best.status, 200);
  const reg = await fetch(`${a.url}/v`, {
    method: 'POST',
    body: JSON.stringify({
      tracks: [
        { source: 'talk/manifest.mpd', kind: 'video' },
        { source: 'talk/manifest.mpd', kind: 'audio' },
      ],
    }),
  });
  const registered = (await reg.json()) as { url: string };
  assert.ok(best.body.equals((await bytes(registered.url)).body), 'same bytes as the equivalent recipe');
  const chosen = await bytes(`${a.url}/dash/talk/manifest.mpd.mp4?video=0&audio=1`);
  assert.equal(chosen.status, 200);
  assert.ok(chosen.body.equals(best.body));
  const missing = await bytes(`${a.url}/dash/talk/manifest.mpd.mp4?video=nope`);
  assert.notEqual(missing.status, 200);
  const outside = await bytes(`${a.url}/dash/..%2F..%2Fetc%2Fx.mpd.mp4`);
  assert.equal(outside.status, 403);
});

test('/metrics counts requests, bytes, time to first byte, cache hits and source reads', async () => {
  await fetch(`${a.url}/dash/talk/manifest.mpd.mp4`, { headers: { range: 'bytes=0-99' } }).then((r) => r.arrayBuffer());
  const text = await (await fetch(`${a.url}/metrics`)).text();
  assert.match(text, /# TYPE vvf_http_requests_total counter/);
  assert.match(text, /vvf_http_requests_total\{method="GET",status="206"\} [1-9]/);
  assert.match(text, /vvf_http_time_to_first_byte_seconds_count [1-9]/);
  assert.match(text, /vvf_metadata_cache_total\{result="hit"\} [1-9]/);
  assert.match(text, /vvf_metadata_cache_total\{result="miss"\} [1-9]/);
  assert.match(text, /vvf_source_read_seconds_count [1-9]/);
  const bytesSent = Number(/vvf_http_response_bytes_total (\d+)/.exec(text)?.[1]);
  assert.ok(bytesSent > 100);
});

test('restart: a new server on the same SQLite file serves a known file with zero source reads', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vvf-store-'));
  const storePath = join(dir, 'metadata.sqlite');
  const config = { ...defaultServeConfig, port: 0, roots: [root], storePath };
  const first = await startServer(config, { log: () => {} });
  const reg = await fetch(`${first.url}/v`, { method: 'POST', body: JSON.stringify({ tracks: ['talk/manifest.mpd'] }) });
  const { id, size, etag } = (await reg.json()) as { id: string; size: number; etag: string };
  const original = Buffer.from(await (await fetch(`${first.url}/v/${id}.mp4`)).arrayBuffer());
  await first.close();

  const second = await startServer(config, { log: () => {} });
  try {
    const listed = (await (await fetch(`${second.url}/v`)).json()) as { files: { id: string; size: number; etag: string }[] };
    assert.deepEqual(
      listed.files.map((f) => [f.id, f.size, f.etag]),
      [[id, size, etag]],
    );
    // The header comes from the stored compiled form: no source is read for it.
    const head = await fetch(`${second.url}/v/${id}.mp4`, { headers: { range: 'bytes=0-1023' } });
    assert.equal(head.status, 206);
    assert.ok(Buffer.from(await head.arrayBuffer()).equals(original.subarray(0, 1024)));
    const metrics = await (await fetch(`${second.url}/metrics`)).text();
    assert.doesNotMatch(metrics, /vvf_source_read_seconds_count [1-9]/, 'no source read at all');
    const whole = Buffer.from(await (await fetch(`${second.url}/v/${id}.mp4`)).arrayBuffer());
    assert.ok(whole.equals(original));
  } finally {
    await second.close();
  }
});

test('restart after a source changed: compiled again, never served stale', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vvf-store-'));
  const data = mkdtempSync(join(tmpdir(), 'vvf-data-'));
  const fixture = (await ensureFixtures()).find((f) => f.name === 'h264-aac-faststart')!;
  cpSync(fixture.input, join(data, 'a.mp4'));
  const config = { ...defaultServeConfig, port: 0, roots: [data], storePath: join(dir, 'metadata.sqlite') };
  const first = await startServer(config, { log: () => {} });
  const reg = await fetch(`${first.url}/v`, { method: 'POST', body: JSON.stringify({ tracks: ['a.mp4'], start: 1, end: 2 }) });
  const { id, etag } = (await reg.json()) as { id: string; etag: string };
  await first.close();
  // Another encode in place of the source.
  cpSync((await ensureFixtures()).find((f) => f.name === 'h264-aac-moov-last')!.input, join(data, 'a.mp4'));
  const second = await startServer(config, { log: () => {} });
  try {
    const res = await fetch(`${second.url}/v/${id}.mp4`);
    assert.equal(res.status, 200);
    assert.notEqual(res.headers.get('etag'), etag, 'a new compiled form, with a new etag');
    await res.arrayBuffer();
  } finally {
    await second.close();
  }
});
