// The server as a process: restart on the same SQLite store, graceful shutdown.
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, writeFileSync } from 'node:fs';
import { get as httpGet } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { ensureFixtures } from '../../scripts/fixtures.js';
import { startServer } from '../../src/server/app.js';
import { defaultServeConfig } from '../../src/server/config.js';
import { serveProcess, stop } from './server-helpers.js';

test('a second server process on the same SQLite file serves a known file with zero source reads', async () => {
  const fixture = (await ensureFixtures()).find((f) => f.name === 'dash-template-number')!;
  const root = mkdtempSync(join(tmpdir(), 'vvf-life-'));
  cpSync(dirname(fixture.input), join(root, 'dash'), { recursive: true });
  const recipe = join(root, 'recipe.json');
  writeFileSync(recipe, JSON.stringify({ tracks: [join(root, 'dash/manifest.mpd')] }));
  const store = join(mkdtempSync(join(tmpdir(), 'vvf-life-store-')), 'metadata.sqlite');

  const first = await serveProcess(['--root', root, '--store', store, '--register', recipe], 1);
  const fileUrl = first.files[0]!;
  let original: Buffer;
  try {
    original = Buffer.from(await (await fetch(fileUrl)).arrayBuffer());
  } finally {
    await stop(first.child);
  }
  const second = await serveProcess(['--root', root, '--store', store], 0);
  try {
    const sameFile = fileUrl.replace(first.url, second.url);
    const head = await fetch(sameFile, { headers: { range: 'bytes=0-2047' } });
    assert.equal(head.status, 206);
    assert.ok(Buffer.from(await head.arrayBuffer()).equals(original.subarray(0, 2048)));
    const metrics = await (await fetch(`${second.url}/metrics`)).text();
    assert.doesNotMatch(metrics, /vvf_source_read_seconds_count [1-9]/, 'no source was read: nothing was parsed');
    assert.match(metrics, /vvf_http_requests_total\{method="GET",status="206"\} 1/);
    assert.ok(Buffer.from(await (await fetch(sameFile)).arrayBuffer()).equals(original));
  } finally {
    await stop(second.child);
  }
});

test('graceful shutdown finishes in-flight responses and takes no new ones', async () => {
  const fixture = (await ensureFixtures()).find((f) => f.name === 'dash-high-bitrate')!;
  const root = mkdtempSync(join(tmpdir(), 'vvf-life-'));
  cpSync(dirname(fixture.input), join(root, 'dash'), { recursive: true });
  const server = await startServer({ ...defaultServeConfig, port: 0, roots: [root] }, { log: () => {} });
  const reg = await fetch(`${server.url}/v`, { method: 'POST', body: JSON.stringify({ tracks: ['dash/manifest.mpd'] }) });
  const { url, size } = (await reg.json()) as { url: string; size: number };
  // A slow client: the response is in flight when the server is told to stop.
  const received = new Promise<number>((resolve, reject) => {
    httpGet(url, { agent: false }, (res) => {
      let n = 0;
      res.pause();
      res.on('data', (chunk: Buffer) => {
        n += chunk.length;
      });
      res.on('end', () => resolve(n));
      res.on('error', reject);
      setTimeout(() => res.resume(), 300);
    }).on('error', reject);
  });
  await new Promise((r) => setTimeout(r, 100));
  const closing = server.close();
  await assert.rejects(fetch(`${server.url}/healthz`), 'no new connections while stopping');
  assert.equal(await received, size, 'the in-flight response finished whole');
  await closing;
});
