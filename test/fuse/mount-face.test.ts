// The FUSE face as users run it: `vvf serve --mount` in its own process, one catalog for
// HTTP and the mount. Files registered over HTTP appear in the mount, read the same bytes
// as over HTTP, ffmpeg sees the sources' packets through it (also after -ss), many readers
// at once, deleted files disappear, and SIGTERM leaves no mount behind.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { ensureFixtures } from '../../scripts/fixtures.js';
import { decodeErrors, framemd5 } from '../helpers/media.js';
import { forceUnmount, isMounted, run } from './fuse-helpers.js';

let child: ChildProcess;
let url = '';
let mnt = '';
let root = '';
let work = '';

/** Waits for `ok`, polling; fails after `ms`. */
async function until(what: string, ok: () => boolean | Promise<boolean>, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`not within ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function register(recipe: unknown): Promise<{ id: string; size: number; etag: string }> {
  const res = await fetch(`${url}/v`, { method: 'POST', body: JSON.stringify(recipe) });
  assert.ok(res.status === 201 || res.status === 200, await res.clone().text());
  return (await res.json()) as { id: string; size: number; etag: string };
}

before(async () => {
  const fixtures = await ensureFixtures();
  work = mkdtempSync(join(tmpdir(), 'vvf-mount-face-'));
  root = join(work, 'media');
  mnt = join(work, 'mnt');
  mkdirSync(root);
  mkdirSync(mnt);
  cpSync(fixtures.find((f) => f.name === 'h264-aac-faststart')!.input, join(root, 'talk.mp4'));
  cpSync(dirname(fixtures.find((f) => f.name === 'dash-template-number')!.input), join(root, 'dash'), { recursive: true });
  child = spawn(
    process.execPath,
    ['--import', 'tsx', 'src/cli/main.ts', 'serve', '--port', '0', '--store', 'none', '--root', root, '--mount', mnt],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  let buffered = '';
  let mounted = false;
  child.stdout!.on('data', (d: Buffer) => {
    buffered += d.toString();
    for (let nl = buffered.indexOf('\n'); nl >= 0; nl = buffered.indexOf('\n')) {
      const line = JSON.parse(buffered.slice(0, nl)) as { msg: string; url?: string };
      buffered = buffered.slice(nl + 1);
      if (line.msg === 'vvf serve listening') url = line.url!;
      if (line.msg === 'vvf mount ready') mounted = true;
    }
  });
  await until(`vvf serve --mount to start (${stderr})`, () => mounted && url !== '', 20_000);
});

after(async () => {
  if (child.exitCode === null) child.kill('SIGKILL');
  await forceUnmount(mnt);
});

test('a file registered over HTTP appears in the mount with its exact size and the same bytes', async () => {
  const whole = await register({ tracks: ['talk.mp4'] });
  const path = join(mnt, 'by-id', `${whole.id}.mp4`);
  await until('the file in the mount', () => existsSync(path));
  assert.equal(statSync(path).size, whole.size);
  assert.equal(statSync(join(mnt, 'talk.mp4')).size, whole.size, 'named after its source too');
  const ls = await run('ls', ['-l', mnt]);
  assert.match(ls.stdout, new RegExp(`\\s${whole.size}\\s.*talk\\.mp4`));
  const overHttp = Buffer.from(await (await fetch(`${url}/v/${whole.id}.mp4`)).arrayBuffer());
  const materialized = join(work, 'talk-materialized.mp4');
  writeFileSync(materialized, overHttp);
  const cmp = await run('cmp', [path, materialized]);
  assert.equal(cmp.code, 0, cmp.stdout + cmp.stderr);
  const xattr = await run('python3', ['-c', `import os,sys; print(os.getxattr(sys.argv[1], 'user.vvf.etag').decode())`, path]);
  assert.equal(xattr.stdout.trim(), whole.etag);
});

test('ffmpeg through the mount sees the sources’ packets, also from the middle with -ss, and decodes cleanly', async () => {
  const dash = await register({
    tracks: [
      { source: 'dash/manifest.mpd', kind: 'video' },
      { source: 'dash/manifest.mpd', kind: 'audio' },
    ],
  });
  const path = join(mnt, 'by-id', `${dash.id}.mp4`);
  await until('the DASH file in the mount', () => existsSync(path));
  // The same packets as the progressive form served over HTTP, stream by stream...
  const copy = join(work, 'dash-materialized.mp4');
  writeFileSync(copy, Buffer.from(await (await fetch(`${url}/v/${dash.id}.mp4`)).arrayBuffer()));
  for (const stream of [0, 1]) assert.deepEqual(await framemd5(path, stream), await framemd5(copy, stream));
  // ...and as the talk.mp4 source for the whole-file recipe.
  const whole = await register({ tracks: ['talk.mp4'] });
  const wholePath = join(mnt, 'by-id', `${whole.id}.mp4`);
  for (const stream of [0, 1])
    assert.deepEqual(await framemd5(wholePath, stream), await framemd5(join(root, 'talk.mp4'), stream));
  const seek = (file: string) =>
    run('ffmpeg', ['-v', 'error', '-ss', '2', '-i', file, '-map', '0', '-c', 'copy', '-f', 'framemd5', '-'], 30_000);
  const [throughMount, direct] = await Promise.all([seek(path), seek(copy)]);
  assert.equal(throughMount.code, 0, throughMount.stderr);
  assert.ok(throughMount.stdout.split('\n').filter((l) => /^\d/.test(l)).length > 10);
  assert.equal(throughMount.stdout, direct.stdout);
  assert.equal(await decodeErrors(path), '');
});

test('eight readers at once, on the same file and on different ones, each get every byte right', async () => {
  const a = await register({ tracks: ['talk.mp4'] });
  const b = await register({ tracks: ['talk.mp4'], start: 1, end: 4 });
  const paths = [a, b].map((f) => join(mnt, 'by-id', `${f.id}.mp4`));
  await until('both files', () => paths.every((p) => existsSync(p)));
  const expected = await Promise.all(
    [a, b].map(async (f) =>
      createHash('sha256')
        .update(Buffer.from(await (await fetch(`${url}/v/${f.id}.mp4`)).arrayBuffer()))
        .digest('hex'),
    ),
  );
  const readers = Array.from({ length: 8 }, (_, i) => run('sha256sum', [paths[i % 3 === 0 ? 1 : 0]!]));
  const sums = (await Promise.all(readers)).map((r) => r.stdout.split(' ')[0]);
  for (const [i, sum] of sums.entries()) assert.equal(sum, expected[i % 3 === 0 ? 1 : 0], `reader ${i}`);
});

test('the mount’s requests are in /metrics; a deleted file disappears from the mount', async () => {
  const clip = await register({ tracks: ['talk.mp4'], start: 0, end: 2 });
  const path = join(mnt, 'by-id', `${clip.id}.mp4`);
  await until('the clip', () => existsSync(path));
  await readFile(path);
  const metrics = await (await fetch(`${url}/metrics`)).text();
  assert.match(metrics, /vvf_fuse_requests_total\{opcode="READ"\} [1-9]/);
  assert.match(metrics, /vvf_fuse_read_bytes_total [1-9]/);
  assert.match(metrics, /vvf_http_requests_total/);
  assert.equal((await fetch(`${url}/v/${clip.id}`, { method: 'DELETE' })).status, 204);
  await until('the clip gone from the mount', () => !existsSync(path));
});

test('SIGTERM stops both faces and leaves no mount', async () => {
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await Promise.race([exited, new Promise((_, reject) => setTimeout(() => reject(new Error('no exit in 10 s')), 10_000))]);
  assert.equal(isMounted(mnt), false);
});
