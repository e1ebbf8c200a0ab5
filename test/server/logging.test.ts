// Log levels (issue 11, G.18): every line has a level; --log-level / VVF_LOG_LEVEL drops the
// less severe ones; a request's line is info, warn when cut short, error for a 5xx.
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { startServer } from '../../src/server/app.js';
import { defaultServeConfig } from '../../src/server/config.js';
import { LOG_LEVELS } from '../../src/server/log.js';
import { fixtureRoot, runVvf, serveProcess, stop } from './server-helpers.js';

test('each level keeps its own lines and the more severe ones', async () => {
  const { root } = await fixtureRoot('dash-template-number', 'dash');
  const seen: Record<string, Record<string, unknown>[]> = {};
  const servers = await Promise.all(
    LOG_LEVELS.map(async (level) => {
      seen[level] = [];
      const config = { ...defaultServeConfig, port: 0, roots: [root], logLevel: level };
      return startServer(config, { log: (e) => seen[level]!.push(e) });
    }),
  );
  try {
    const files: { url: string; size: number }[] = [];
    for (const server of servers) {
      const reg = await fetch(`${server.url}/v`, { method: 'POST', body: JSON.stringify({ tracks: ['dash/manifest.mpd'] }) });
      files.push((await reg.json()) as { url: string; size: number });
      await (await fetch(`${server.url}/v/nothing.mp4`)).arrayBuffer();
    }
    // Every media segment replaced by a folder: the file is compiled again (its sources changed)
    // and that fails on a source that cannot be read (502), an error line.
    for (const name of readdirSync(join(root, 'dash')).filter((n) => n.startsWith('chunk-'))) {
      rmSync(join(root, 'dash', name));
      mkdirSync(join(root, 'dash', name));
    }
    // Sources are stat'ed at most once a second.
    await new Promise((r) => setTimeout(r, 1100));
    for (const { url, size } of files) {
      const res = await fetch(url, { headers: { range: `bytes=${size - 100}-` } });
      await res.arrayBuffer().catch(() => undefined);
      assert.equal(res.status, 502);
    }
  } finally {
    await Promise.all(servers.map((s) => s.close()));
  }
  for (const lines of Object.values(seen))
    for (const l of lines) assert.ok(LOG_LEVELS.includes(l.level as never), JSON.stringify(l));
  const levels = (level: string) => [...new Set(seen[level]!.map((l) => l.level))].sort();
  assert.deepEqual(levels('debug'), ['debug', 'error', 'info']);
  assert.ok(seen.debug!.some((l) => l.msg === 'request start'));
  assert.deepEqual(levels('info'), ['error', 'info']);
  assert.ok(seen.info!.some((l) => l.msg === 'request' && l.status === 404 && l.level === 'info'));
  assert.deepEqual(levels('warn'), ['error']);
  assert.deepEqual(levels('error'), ['error']);
  assert.ok(seen.error!.every((l) => l.status === 502 && (l.error as { code: string }).code === 'SOURCE_UNREACHABLE'));
});

test('vvf serve --log-level and VVF_LOG_LEVEL; every stdout line is JSON with a level', async () => {
  const { root } = await fixtureRoot('dash-template-number', 'dash');
  const running = await serveProcess(['--root', root, '--store', 'none'], 0, { VVF_LOG_LEVEL: 'debug' });
  try {
    await (await fetch(`${running.url}/healthz`)).arrayBuffer();
    await new Promise((r) => setTimeout(r, 200));
    assert.ok(running.logs.some((l) => l.level === 'debug' && l.msg === 'request start'));
    for (const l of running.logs) assert.ok(LOG_LEVELS.includes(l.level as never), JSON.stringify(l));
  } finally {
    await stop(running.child);
  }
  const bad = await runVvf(['serve', '--port', '0', '--log-level', 'loud', '--store', 'none']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /^vvf: USAGE: --logLevel: logLevel must be "debug" or "info" or "warn" or "error"/);
});
