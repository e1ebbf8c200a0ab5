// Sources that change under a running server (issue 11, E.9 and E.10). With sendfile on and
// off, a source rewritten in place while ranges are served never yields a response that
// mixes versions without being cut; a source that is only touched keeps being served with
// the same etag; one whose layout changed is compiled again and served with a new etag,
// and only requests conditional on the old etag are told SOURCE_CHANGED.
import assert from 'node:assert/strict';
import { closeSync, copyFileSync, mkdirSync, openSync, readFileSync, utimesSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parseRecipe } from '../../src/compose/recipe.js';
import { startServer, type VvfServer } from '../../src/server/app.js';
import { defaultServeConfig, type ServeConfig } from '../../src/server/config.js';
import { kernelSender } from '../../src/server/kernel-send.js';
import { compileRecipe } from '../../src/virtual/compile.js';
import { fixtureRoot } from './server-helpers.js';

let root: string;
let versionA: Buffer;
let versionB: Buffer;
let other: Buffer;
const servers: VvfServer[] = [];

/** The bytes of the virtual file of `{tracks: [path]}` (compiled here, outside any server). */
async function virtualBytes(path: string): Promise<Buffer> {
  const { file, close } = await compileRecipe(parseRecipe({ tracks: [path] }));
  try {
    return Buffer.from(await file.read(0, file.size));
  } finally {
    await close();
  }
}

/** Where the top-level mdat's payload lies in an MP4. */
function mdatPayload(mp4: Buffer): [number, number] {
  for (let at = 0; at + 8 <= mp4.length; ) {
    const size = mp4.readUInt32BE(at);
    if (mp4.toString('latin1', at + 4, at + 8) === 'mdat') return [at + 8, at + size];
    at += size;
  }
  throw new Error('no mdat');
}

async function serve(config: Partial<ServeConfig>): Promise<VvfServer> {
  const server = await startServer({ ...defaultServeConfig, port: 0, roots: [root], ...config }, { log: () => {} });
  servers.push(server);
  return server;
}

async function register(server: VvfServer, source: string): Promise<{ url: string; etag: string; size: number }> {
  const res = await fetch(`${server.url}/v`, { method: 'POST', body: JSON.stringify({ tracks: [source] }) });
  assert.ok(res.status === 201 || res.status === 200, await res.clone().text());
  return (await res.json()) as { url: string; etag: string; size: number };
}

before(async () => {
  ({ root } = await fixtureRoot('h264-aac-faststart', 'media'));
  const a = join(root, 'media', 'h264-aac-faststart.mp4');
  versionA = readFileSync(a);
  // Version B: the same boxes (so the same layout), every sample byte different.
  versionB = Buffer.from(versionA);
  const [start, end] = mdatPayload(versionB);
  for (let i = start; i < end; i++) versionB[i] = versionB[i]! ^ 0xa5;
  mkdirSync(join(root, 'b'));
  writeFileSync(join(root, 'b', 'h264-aac-faststart.mp4'), versionB);
  other = readFileSync((await fixtureRoot('h264-aac-moov-last', 'x')).fixture.input);
});

after(async () => {
  await Promise.allSettled(servers.map((s) => s.close()));
});

describe('a source rewritten in place while it is served (E.9)', () => {
  for (const sendfile of ['auto', 'off'] as const) {
    test(`sendfile ${sendfile}: every whole response is one version, never a mix`, async (t) => {
      if (sendfile === 'auto' && kernelSender() === null)
        t.diagnostic('native addon not built: both runs copy through user space');
      const source = join(root, 'media', `rewritten-${sendfile}.mp4`);
      writeFileSync(source, versionA);
      const server = await serve({ sendfile });
      const { url, size } = await register(server, `media/rewritten-${sendfile}.mp4`);
      const expectedA = await virtualBytes(source);
      const expectedB = await virtualBytes(join(root, 'b', 'h264-aac-faststart.mp4'));
      assert.equal(expectedA.length, size);
      assert.ok(!expectedA.equals(expectedB));

      const fd = openSync(source, 'r+');
      // A first rewrite, noticed by the next request: the file is compiled again (same layout,
      // same etag) and, its sources having changed once, its bytes are copied from now on, each
      // read checked after it is made. (Before any change is seen, sendfile serves it: the kernel
      // reads the pages as it transmits, after any check vvf can make; see the README.)
      writeSync(fd, versionB, 0, versionB.length, 0);
      const seen = await fetch(url, { headers: { range: `bytes=${size - 1000}-` } });
      assert.equal(seen.status, 206);
      assert.ok(Buffer.from(await seen.arrayBuffer()).equals(expectedB.subarray(size - 1000)));
      // Then a writer flips the file between A and B in place (one pwrite each: same inode, same size).
      let flips = 1;
      const writer = setInterval(() => {
        const next = flips++ % 2 === 0 ? versionB : versionA;
        writeSync(fd, next, 0, next.length, 0);
      }, 25);
      const outcome = { whole: 0, a: 0, b: 0, mixed: 0, refused: 0, cut: 0 };
      const deadline = Date.now() + 4000;
      try {
        const client = async () => {
          while (Date.now() < deadline) {
            const start = Math.floor(Math.random() * (size - 1));
            const end = Math.min(size - 1, start + Math.floor(Math.random() * 200_000));
            let res: Response;
            try {
              res = await fetch(url, { headers: { range: `bytes=${start}-${end}` } });
            } catch {
              outcome.cut++;
              continue;
            }
            if (res.status !== 206) {
              assert.equal(res.status, 502, `status ${res.status}`);
              assert.equal(((await res.json()) as { error: string }).error, 'SOURCE_CHANGED');
              outcome.refused++;
              continue;
            }
            let body: Buffer;
            try {
              body = Buffer.from(await res.arrayBuffer());
            } catch {
              outcome.cut++;
              continue;
            }
            if (body.length !== end - start + 1) {
              outcome.cut++;
              continue;
            }
            outcome.whole++;
            if (body.equals(expectedA.subarray(start, end + 1))) outcome.a++;
            else if (body.equals(expectedB.subarray(start, end + 1))) outcome.b++;
            else outcome.mixed++;
          }
        };
        await Promise.all(Array.from({ length: 4 }, client));
      } finally {
        clearInterval(writer);
        closeSync(fd);
      }
      t.diagnostic(`${flips} rewrites; ${JSON.stringify(outcome)}`);
      assert.equal(outcome.mixed, 0, 'no whole response mixes versions');
      assert.ok(outcome.whole >= 10, 'responses went through between rewrites');
      assert.ok(outcome.a > 0 && outcome.b > 0, 'both versions were served, each whole');
    });
  }
});

describe('a source that changed is compiled again on the next request (E.10)', () => {
  for (const sendfile of ['auto', 'off'] as const) {
    test(`sendfile ${sendfile}: touched, the same etag and bytes; replaced, a new etag, SOURCE_CHANGED only for the old etag`, async () => {
      const name = `changed-${sendfile}.mp4`;
      const source = join(root, 'media', name);
      writeFileSync(source, versionA);
      const server = await serve({ sendfile });
      const first = await register(server, `media/${name}`);
      const original = Buffer.from(await (await fetch(first.url)).arrayBuffer());

      // touch: a new mtime and ctime, the same bytes. Served as before, under the same etag.
      const later = new Date(Date.now() + 5000);
      utimesSync(source, later, later);
      for (const range of ['bytes=1000-50000', undefined]) {
        const res = await fetch(first.url, range ? { headers: { range } } : {});
        assert.equal(res.status, range ? 206 : 200, await res.clone().text());
        assert.equal(res.headers.get('etag'), first.etag, 'the etag stays');
        const body = Buffer.from(await res.arrayBuffer());
        assert.ok(body.equals(range ? original.subarray(1000, 50001) : original));
      }
      const again = await register(server, `media/${name}`);
      assert.equal(again.etag, first.etag, 're-registering gives the same file');

      // Replaced by another video: compiled again, served with a new etag — even for a range of
      // header bytes only, which reads no source: the sources are stat'ed at most once a second.
      writeFileSync(source, other);
      await new Promise((r) => setTimeout(r, 1100));
      const fresh = await fetch(first.url, { headers: { range: 'bytes=0-99' } });
      assert.equal(fresh.status, 206, await fresh.clone().text());
      const newEtag = fresh.headers.get('etag');
      assert.ok(newEtag && newEtag !== first.etag, 'a new etag');
      const expected = await virtualBytes(source);
      assert.ok(Buffer.from(await fresh.arrayBuffer()).equals(expected.subarray(0, 100)));
      assert.ok(Buffer.from(await (await fetch(first.url)).arrayBuffer()).equals(expected));

      // Only a request conditional on the old etag is told the source changed.
      const ifMatch = await fetch(first.url, { headers: { 'if-match': first.etag, range: 'bytes=0-99' } });
      assert.equal(ifMatch.status, 412);
      assert.equal(((await ifMatch.json()) as { error: string }).error, 'SOURCE_CHANGED');
      // If-Range with the old etag: the whole new file (RFC 9110 §13.1.5), never a range of it.
      const ifRange = await fetch(first.url, { headers: { 'if-range': first.etag, range: 'bytes=0-99' } });
      assert.equal(ifRange.status, 200);
      assert.equal(ifRange.headers.get('etag'), newEtag);
      assert.ok(Buffer.from(await ifRange.arrayBuffer()).equals(expected));
      const current = await fetch(first.url, { headers: { 'if-match': newEtag, range: 'bytes=0-99' } });
      assert.equal(current.status, 206);
      const listed = (await (await fetch(`${server.url}/v`)).json()) as { files: { url: string; etag: string }[] };
      assert.equal(listed.files.find((f) => f.url === first.url)?.etag, newEtag);
    });
  }

  test('a touched source keeps the etag across a restart on the same SQLite store', async () => {
    const source = join(root, 'media', 'restart.mp4');
    copyFileSync(join(root, 'media', 'h264-aac-faststart.mp4'), source);
    const storePath = join(root, 'store.sqlite');
    const one = await serve({ storePath });
    const first = await register(one, 'media/restart.mp4');
    await one.close();
    const later = new Date(Date.now() + 10_000);
    utimesSync(source, later, later);
    const two = await serve({ storePath });
    const res = await fetch(first.url.replace(one.url, two.url), { headers: { range: 'bytes=0-9' } });
    assert.equal(res.status, 206);
    assert.equal(res.headers.get('etag'), first.etag);
  });
});
