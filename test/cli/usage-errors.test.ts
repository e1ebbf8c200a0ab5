// Usage errors that say what would have worked (vvf issue 11, F.12): a clip past the end
// once made an empty file, and an unknown representation did not list the known ones.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ensureFixtures } from '../../scripts/fixtures.js';

function vvf(...args: string[]): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], (e, _stdout, stderr) =>
      resolve({ code: e ? Number((e as { code?: number }).code ?? 1) : 0, stderr }),
    );
  });
}

test('a clip that starts past the end of the media is a usage error naming the duration, and writes nothing', async () => {
  const fixture = (await ensureFixtures()).find((f) => f.name === 'h264-aac-faststart')!;
  const out = join(mkdtempSync(join(tmpdir(), 'vvf-usage-')), 'clip.mp4');
  const r = await vvf('compose', '--input', fixture.input, '--clip', '95-100', '-o', out);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /^vvf: USAGE: the clip starts at 95 s, at or after the end of the media \(5\.0\d\d s\)\n$/);
  assert.equal(existsSync(out), false);
  // A clip inside the media still works.
  assert.equal((await vvf('compose', '--input', fixture.input, '--clip', '1-2', '-o', out)).code, 0);
});

test('an unknown representation lists the ones the manifest has', async () => {
  const fixture = (await ensureFixtures()).find((f) => f.name === 'dash-template-number')!;
  const r = await vvf('inspect', fixture.input, '--representation', 'nope');
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /no representation with id "nope"; the manifest has "0", "1"/);
});
