// `vvf serve --register X` where X cannot be registered is a failed start: the process prints
// the error in one line, closes the server and the catalog, and exits non-zero. It once logged
// the error and kept serving without the file.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { SqliteStore } from '../../src/store/sqlite-store.js';
import { fixtureRoot, runVvf } from '../server/server-helpers.js';

/** The URL the server logged it listened on. */
function listenedOn(stdout: string): string {
  const line = stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { msg: string; url?: string })
    .find((l) => l.msg === 'vvf serve listening');
  assert.ok(line?.url, `no listening line in ${stdout}`);
  return line.url;
}

test('a recipe that cannot be registered stops the server: one error line, exit 1, port closed, store closed', async () => {
  const { root, fixture } = await fixtureRoot('h264-aac-faststart', 'media');
  const good = join(root, 'good.json');
  const missing = join(root, 'missing.json');
  writeFileSync(good, JSON.stringify({ tracks: [`media/${fixture.input.split('/').pop()}`] }));
  writeFileSync(missing, JSON.stringify({ tracks: ['media/no-such-file.mp4'] }));
  const store = join(root, 'store.sqlite');

  const started = performance.now();
  const run = await runVvf(['serve', '--port', '0', '--root', root, '--store', store, '--register', good, '--register', missing]);
  const ms = performance.now() - started;
  assert.equal(run.code, 1, run.stderr);
  assert.ok(ms < 15_000, `exited after ${ms} ms (the run is killed at 20 s)`);
  const lines = run.stderr.trim().split('\n');
  assert.match(lines[lines.length - 1]!, /^vvf: SOURCE_NOT_FOUND: .*no-such-file\.mp4/);
  assert.ok(
    lines.some((l) => /good\.json is served as/.test(l)),
    'the recipe before it was registered',
  );
  assert.match(run.stdout, /"msg":"cannot register, stopping"/);

  // Nothing listens any more.
  await assert.rejects(fetch(`${listenedOn(run.stdout)}/healthz`));
  // The store was closed cleanly and keeps what was registered before the failure.
  const after = SqliteStore.open(store);
  try {
    assert.equal((await after.list()).length, 1);
  } finally {
    await after.close();
  }
});

test('a recipe file that is not JSON (exit 2), or not there (exit 1), stops the server too', async () => {
  const { root } = await fixtureRoot('h264-aac-faststart', 'media');
  const broken = join(root, 'broken.json');
  writeFileSync(broken, '{"tracks": [');
  for (const [recipe, code, error] of [
    [broken, 2, 'USAGE'],
    [join(root, 'absent.json'), 1, 'SOURCE_UNREACHABLE'],
  ] as const) {
    const run = await runVvf(['serve', '--port', '0', '--root', root, '--store', 'none', '--register', recipe]);
    assert.equal(run.code, code, run.stderr);
    const lines = run.stderr.trim().split('\n');
    assert.match(lines[lines.length - 1]!, new RegExp(`^vvf: ${error}: .*recipe`));
    await assert.rejects(fetch(`${listenedOn(run.stdout)}/healthz`));
  }
});
