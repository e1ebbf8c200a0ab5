// SourcePolicy: local files only under the roots (no `..`, no symlink escape), URLs only on
// allowed origins, also for every segment a DASH manifest names.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fsp, { cp, mkdir, mkdtemp, readFile, realpath, rm, symlink, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { syncBuiltinESMExports } from 'node:module';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, mock, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { ensureFixtures } from '../../scripts/fixtures.js';
import { openMovie } from '../../src/demux/open-movie.js';
import { VvfError } from '../../src/errors.js';
import type { Movie } from '../../src/model/movie.js';
import { FileSource } from '../../src/sources/file-source.js';
import { SourcePolicy } from '../../src/sources/source-policy.js';
import { type StaticServer, serveFolder } from '../helpers/static-server.js';

const fast = { retries: 0, timeoutMs: 3000, idleTimeoutMs: 3000 };

/** Asserts the promise rejects with a VvfError of `code`, and returns that error. */
async function rejectsWith(p: Promise<unknown>, code: string): Promise<VvfError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof VvfError, String(e));
    assert.equal(e.code, code, e.message);
    return e;
  }
  assert.fail(`expected ${code}, but it succeeded`);
}

let base = '';
let root = '';
const content = randomBytes(4096);
const inner = randomBytes(1000);

before(async () => {
  // The real path, so that keys (real paths) compare equal to paths built here.
  base = await realpath(await mkdtemp(join(tmpdir(), 'vvf-policy-')));
  root = join(base, 'root');
  await mkdir(join(root, 'sub'), { recursive: true });
  await mkdir(join(base, 'root2'));
  await mkdir(join(base, 'outside'));
  await writeFile(join(root, 'a.bin'), content);
  await writeFile(join(root, 'sub', 'b.bin'), inner);
  await writeFile(join(base, 'root2', 'secret.bin'), 'root2 secret');
  await writeFile(join(base, 'outside', 'secret.bin'), 'outside secret');
  // Links leading out of the root, relative and absolute, to a file, a folder and nothing.
  await symlink('../outside/secret.bin', join(root, 'link-out'));
  await symlink(join(base, 'outside', 'secret.bin'), join(root, 'abs-link-out'));
  await symlink(join(base, 'outside', 'missing.bin'), join(root, 'link-out-missing'));
  await symlink(join(base, 'outside'), join(root, 'dir-link-out'));
  await symlink('../root2/secret.bin', join(root, 'link-sibling'));
  await symlink('sub/link-up', join(root, 'chain')); // chain → sub/link-up → ../../outside/secret.bin
  await symlink('../../outside/secret.bin', join(root, 'sub', 'link-up'));
  // Links that stay inside.
  await symlink('sub/b.bin', join(root, 'link-in'));
  await symlink(join(root, 'sub', 'b.bin'), join(root, 'abs-link-in'));
  await symlink('../root/a.bin', join(root, 'out-and-back'));
  await symlink('sub', join(root, 'dir-link-in'));
  await symlink('loop-b', join(root, 'loop-a'));
  await symlink('loop-a', join(root, 'loop-b'));
  // A root configured through a link to it.
  await symlink(root, join(base, 'root-link'));
});

after(async () => {
  await rm(base, { recursive: true, force: true });
});

describe('local files', () => {
  test('a file inside the root opens, by relative path (against the root), absolute path and file: URL', async () => {
    const policy = new SourcePolicy({ roots: [root], origins: [] });
    for (const spec of ['a.bin', './a.bin', 'sub/../a.bin', join(root, 'a.bin'), pathToFileURL(join(root, 'a.bin')).href]) {
      assert.equal(await policy.check(spec), join(root, 'a.bin'), spec);
      const s = await policy.open(spec);
      try {
        assert.equal(s.key, join(root, 'a.bin'));
        assert.deepEqual(await s.read(100, 200), new Uint8Array(content.subarray(100, 300)));
      } finally {
        await s.close();
      }
    }
    const b = await policy.open('sub/b.bin');
    assert.deepEqual(await b.read(0, inner.length), new Uint8Array(inner));
    await b.close();
  });

  test('relative paths resolve against the first root, not the working directory', async () => {
    const policy = new SourcePolicy({ roots: [join(root, 'sub'), root], origins: [] });
    assert.equal(await policy.check('b.bin'), join(root, 'sub', 'b.bin'));
    // a.bin is in the second root, but a relative name means the first one.
    await rejectsWith(policy.check('a.bin'), 'SOURCE_NOT_FOUND');
    assert.equal(await policy.check(join(root, 'a.bin')), join(root, 'a.bin'));
  });

  test('.. that leaves the root is refused: raw, in a file: URL, and percent-encoded', async () => {
    const policy = new SourcePolicy({ roots: [root], origins: [] });
    const specs = [
      '../outside/secret.bin',
      'sub/../../outside/secret.bin',
      `${root}/../outside/secret.bin`,
      `${root}/sub/../../root2/secret.bin`,
      '../root2/secret.bin',
      `file://${root}/../outside/secret.bin`,
      `file://${root}/%2e%2e/outside/secret.bin`,
      `file://${root}/%2E%2e/outside/secret.bin`,
      `file://${root}/sub/.%2e/%2e%2e/outside/secret.bin`,
      `file://${root}/..%2foutside/secret.bin`,
      `file://${root}/%2e%2e%2foutside/secret.bin`,
    ];
    for (const spec of specs) {
      await rejectsWith(policy.check(spec), 'SOURCE_FORBIDDEN');
      await rejectsWith(policy.open(spec), 'SOURCE_FORBIDDEN');
    }
  });

  test('absolute paths outside, and a sibling folder sharing the root as a prefix, are refused', async () => {
    const policy = new SourcePolicy({ roots: [root], origins: [] });
    for (const spec of ['/etc/passwd', join(base, 'outside', 'secret.bin'), join(base, 'root2', 'secret.bin'), base, '/']) {
      await rejectsWith(policy.open(spec), 'SOURCE_FORBIDDEN');
    }
    // The root itself is inside, but is not a file.
    await rejectsWith(policy.open(root), 'SOURCE_UNREACHABLE');
    await rejectsWith(policy.check(root), 'SOURCE_UNREACHABLE');
    // With a trailing separator in the configuration the sibling is still outside.
    const slashed = new SourcePolicy({ roots: [`${root}/`], origins: [] });
    await rejectsWith(slashed.open(join(base, 'root2', 'secret.bin')), 'SOURCE_FORBIDDEN');
    assert.equal(await slashed.check('a.bin'), join(root, 'a.bin'));
  });

  test('symbolic links leading outside are refused, whether or not their target exists', async () => {
    const policy = new SourcePolicy({ roots: [root], origins: [] });
    const details = new Set<string>();
    for (const spec of [
      'link-out',
      'abs-link-out',
      'link-out-missing',
      'dir-link-out/secret.bin',
      'dir-link-out/missing.bin',
      'link-sibling',
      'chain',
    ]) {
      details.add((await rejectsWith(policy.open(spec), 'SOURCE_FORBIDDEN')).detail);
      await rejectsWith(policy.check(join(root, spec)), 'SOURCE_FORBIDDEN');
    }
    // One answer for all: nothing says whether the outside target exists.
    assert.deepEqual([...details], ['path is outside the allowed roots']);
  });

  test('symbolic links that stay inside open the real file', async () => {
    const policy = new SourcePolicy({ roots: [root], origins: [] });
    for (const spec of ['link-in', 'abs-link-in', 'dir-link-in/b.bin']) {
      const s = await policy.open(spec);
      assert.equal(s.key, join(root, 'sub', 'b.bin'), spec);
      assert.deepEqual(await s.read(0, 10), new Uint8Array(inner.subarray(0, 10)));
      await s.close();
    }
    assert.equal(await policy.check('out-and-back'), join(root, 'a.bin'));
    await rejectsWith(policy.open('loop-a'), 'SOURCE_UNREACHABLE');
  });

  test('a root configured through a link accepts both spellings, so sources reopen by their key', async () => {
    const policy = new SourcePolicy({ roots: [join(base, 'root-link')], origins: [] });
    const s = await policy.open('a.bin');
    assert.equal(s.key, join(root, 'a.bin'));
    await s.close();
    const again = await policy.open(s.key);
    assert.equal(again.key, s.key);
    await again.close();
    assert.equal(await policy.check(join(base, 'root-link', 'sub', 'b.bin')), join(root, 'sub', 'b.bin'));
    await rejectsWith(policy.open(join(base, 'root-link', '..', 'outside', 'secret.bin')), 'SOURCE_FORBIDDEN');
  });

  test('a missing file inside is SOURCE_NOT_FOUND; outside, missing or not, it is SOURCE_FORBIDDEN alike', async () => {
    const policy = new SourcePolicy({ roots: [root], origins: [] });
    await rejectsWith(policy.open('nope.bin'), 'SOURCE_NOT_FOUND');
    await rejectsWith(policy.open('sub/nope/deeper.bin'), 'SOURCE_NOT_FOUND');
    await rejectsWith(policy.open('a.bin/under-a-file'), 'SOURCE_NOT_FOUND');
    const there = await rejectsWith(policy.open(join(base, 'outside', 'secret.bin')), 'SOURCE_FORBIDDEN');
    const absent = await rejectsWith(policy.open(join(base, 'outside', 'missing.bin')), 'SOURCE_FORBIDDEN');
    assert.equal(there.detail, absent.detail);
    assert.doesNotMatch(there.message, /ENOENT|exist/i);
    // A root that does not exist holds nothing, and says so the same way.
    const gone = new SourcePolicy({ roots: [join(base, 'no-such-root')], origins: [] });
    await rejectsWith(gone.open('a.bin'), 'SOURCE_UNREACHABLE');
    await rejectsWith(gone.open(join(root, 'a.bin')), 'SOURCE_FORBIDDEN');
  });

  test('outside paths are refused without a single file-system call', async () => {
    const policy = new SourcePolicy({ roots: [root], origins: [] });
    await policy.check('a.bin'); // the roots' real paths are learned once, here
    const spies = (['lstat', 'stat', 'readlink', 'realpath', 'open', 'access', 'readdir'] as const).map((name) =>
      mock.method(fsp, name),
    );
    syncBuiltinESMExports();
    try {
      for (const spec of [
        join(base, 'outside', 'secret.bin'),
        join(base, 'outside', 'missing.bin'),
        join(base, 'root2', 'secret.bin'),
        '../outside/secret.bin',
        `file://${root}/%2e%2e/outside/secret.bin`,
        '/etc/shadow',
      ]) {
        await rejectsWith(policy.check(spec), 'SOURCE_FORBIDDEN');
      }
      assert.deepEqual(
        spies.map((s) => s.mock.callCount()),
        spies.map(() => 0),
      );
      // Links are followed without looking at what lies outside: only the link itself is read.
      await rejectsWith(policy.check('dir-link-out/secret.bin'), 'SOURCE_FORBIDDEN');
      assert.ok(
        spies.some((s) => s.mock.callCount() > 0),
        'the spies see the policy’s calls',
      );
      for (const call of spies.flatMap((s) => s.mock.calls)) {
        assert.ok(String(call.arguments[0]).startsWith(`${root}`), String(call.arguments[0]));
      }
    } finally {
      for (const s of spies) s.mock.restore();
      syncBuiltinESMExports();
    }
  });

  test('a path that changes between the check and the open is refused', async () => {
    const policy = new SourcePolicy({ roots: [root], origins: [] });
    const original = FileSource.open.bind(FileSource);
    // As if a link were swapped in after the check: FileSource resolves somewhere else.
    const swapped = mock.method(FileSource, 'open', () => original(join(base, 'outside', 'secret.bin')));
    try {
      await rejectsWith(policy.open('a.bin'), 'SOURCE_FORBIDDEN');
    } finally {
      swapped.mock.restore();
    }
    // Swapped in for FileSource's open and back before the check: the inode gives it away.
    const outside = await original(join(base, 'outside', 'secret.bin'));
    const impostor = mock.method(FileSource, 'open', async () =>
      Object.assign(Object.create(FileSource.prototype) as FileSource, {
        key: join(root, 'a.bin'),
        validator: outside.validator,
        size: outside.size,
        close: async () => {},
      }),
    );
    try {
      const e = await rejectsWith(policy.open('a.bin'), 'SOURCE_FORBIDDEN');
      assert.match(e.detail, /changed/);
    } finally {
      impostor.mock.restore();
      await outside.close();
    }
    const s = await policy.open('a.bin');
    assert.equal(s.key, join(root, 'a.bin'));
    await s.close();
  });

  test('a FIFO inside the root is refused at once instead of blocking the open', async () => {
    const fifo = join(root, 'pipe');
    execFileSync('mkfifo', [fifo]);
    try {
      const policy = new SourcePolicy({ roots: [root], origins: [] });
      const e = await rejectsWith(policy.open('pipe'), 'SOURCE_UNREACHABLE');
      assert.match(e.detail, /regular file/);
    } finally {
      await rm(fifo);
    }
  });

  test('no roots means no local files; NUL and unusable file: URLs are refused', async () => {
    const none = new SourcePolicy({ roots: [], origins: [] });
    await rejectsWith(none.open('a.bin'), 'SOURCE_FORBIDDEN');
    await rejectsWith(none.open(join(root, 'a.bin')), 'SOURCE_FORBIDDEN');
    const policy = new SourcePolicy({ roots: [root], origins: [] });
    for (const spec of ['a.bin\0.txt', `${root}/a.bin\0`, `file://${root}/a.bin%00`, `file://evil.example${root}/a.bin`]) {
      const e = await rejectsWith(policy.open(spec), 'SOURCE_FORBIDDEN');
      assert.ok(!e.message.includes('\0'));
    }
    assert.throws(
      () => new SourcePolicy({ roots: [''], origins: [] }),
      (e) => e instanceof VvfError && e.code === 'USAGE',
    );
  });
});

/** An HTTP server that only redirects: `/to?<url>` answers 302 to `<url>`. */
async function redirector(): Promise<{ url: string; requests: number; close(): Promise<void> }> {
  const state = { requests: 0 };
  const server: Server = createServer((req, res) => {
    state.requests++;
    const u = new URL(req.url ?? '/', 'http://x');
    res.writeHead(302, { location: decodeURIComponent(u.search.slice(1)) }).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    get requests() {
      return state.requests;
    },
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

describe('URLs', () => {
  let allowed: StaticServer;
  let other: StaticServer;
  let hop: Awaited<ReturnType<typeof redirector>>;
  let policy: SourcePolicy;
  before(async () => {
    allowed = await serveFolder(root);
    other = await serveFolder(root);
    hop = await redirector();
    policy = new SourcePolicy({ roots: [root], origins: [`${allowed.url}/`, hop.url], http: fast });
  });
  after(async () => {
    await allowed.close();
    await other.close();
    await hop.close();
  });

  test('a URL on an allowed origin opens', async () => {
    const s = await policy.open(`${allowed.url}/a.bin`);
    try {
      assert.equal(s.key, `${allowed.url}/a.bin`);
      assert.deepEqual(await s.read(10, 20), new Uint8Array(content.subarray(10, 30)));
    } finally {
      await s.close();
    }
    // Scheme and host are compared as the URL parser spells them.
    const upper = `HTTP://127.0.0.1:${new URL(allowed.url).port}/sub/b.bin`;
    assert.equal(await policy.check(upper), `${allowed.url}/sub/b.bin`);
    assert.ok(allowed.requests > 0);
  });

  test('another port, host or scheme is refused before any request is sent', async () => {
    const port = new URL(allowed.url).port;
    const before = { allowed: allowed.requests, other: other.requests };
    const specs = [
      `${other.url}/a.bin`,
      `http://localhost:${port}/a.bin`,
      `https://127.0.0.1:${port}/a.bin`,
      `http://127.0.0.1/a.bin`,
      `http://[::1]:${port}/a.bin`,
      `ftp://127.0.0.1:${port}/a.bin`,
      `gopher://127.0.0.1:${port}/a.bin`,
      `http:\\\\127.0.0.1:${new URL(other.url).port}\\a.bin`,
      'http://',
    ];
    for (const spec of specs) {
      await rejectsWith(policy.open(spec), 'SOURCE_FORBIDDEN');
      await rejectsWith(policy.check(spec), 'SOURCE_FORBIDDEN');
    }
    assert.deepEqual({ allowed: allowed.requests, other: other.requests }, before);
  });

  test('user information in a URL is refused, and not echoed', async () => {
    const port = new URL(allowed.url).port;
    const before = { allowed: allowed.requests, other: other.requests };
    for (const spec of [
      `http://user:hunter2@127.0.0.1:${port}/a.bin`,
      `http://user@127.0.0.1:${port}/a.bin`,
      `http://127.0.0.1:${port}@127.0.0.1:${new URL(other.url).port}/a.bin`,
    ]) {
      const e = await rejectsWith(policy.open(spec), 'SOURCE_FORBIDDEN');
      assert.doesNotMatch(e.message, /hunter2/);
    }
    assert.deepEqual({ allowed: allowed.requests, other: other.requests }, before);
  });

  test('a redirect to an origin that is not allowed is refused; one to an allowed origin is followed', async () => {
    const away = `${hop.url}/to?${encodeURIComponent(`${other.url}/a.bin`)}`;
    const otherBefore = other.requests;
    const e = await rejectsWith(policy.open(away), 'SOURCE_FORBIDDEN');
    assert.match(e.detail, /redirect/);
    // HttpSource asks the policy before following: no request reaches the other origin.
    assert.equal(other.requests - otherBefore, 0);

    const home = `${hop.url}/to?${encodeURIComponent(`${allowed.url}/a.bin`)}`;
    const s = await policy.open(home);
    assert.deepEqual(await s.read(0, 16), new Uint8Array(content.subarray(0, 16)));
    await s.close();
  });

  test('origins are configured exactly: default ports fold, wildcards and paths are refused', async () => {
    const p = new SourcePolicy({ roots: [], origins: ['https://CDN.example:443', 'http://media.example:80/'] });
    assert.equal(await p.check('https://cdn.example/v/a.mp4'), 'https://cdn.example/v/a.mp4');
    assert.equal(await p.check('http://media.example:80/x'), 'http://media.example/x');
    for (const spec of [
      'https://cdn.example:8443/a',
      'http://cdn.example/a',
      'https://media.example/a',
      'https://x.cdn.example/a',
    ]) {
      await rejectsWith(p.check(spec), 'SOURCE_FORBIDDEN');
    }
    const none = new SourcePolicy({ roots: [root], origins: [] });
    await rejectsWith(none.check('https://cdn.example/a'), 'SOURCE_FORBIDDEN');
    for (const origin of [
      '*',
      'https://*.example.com',
      'https://cdn.example/path',
      'ftp://cdn.example',
      'https://u:p@cdn.example',
      'cdn.example',
      'https://cdn.example/?q',
    ]) {
      assert.throws(
        () => new SourcePolicy({ roots: [], origins: [origin] }),
        (e) => e instanceof VvfError && e.code === 'USAGE',
        origin,
      );
    }
  });
});

describe('DASH manifests through the policy', () => {
  let fixtureDir = '';
  let allowed: StaticServer;
  let other: StaticServer;
  let policy: SourcePolicy;
  const open = (s: string) => policy.open(s);

  /** A copy of the fixture's manifest with `baseUrl` put before the Period. */
  async function manifestWithBase(dir: string, baseUrl: string): Promise<string> {
    const xml = await readFile(join(fixtureDir, 'manifest.mpd'), 'utf8');
    assert.ok(xml.includes('<Period'));
    await mkdir(dir, { recursive: true });
    const path = join(dir, 'manifest.mpd');
    await writeFile(path, xml.replace('<Period', `<BaseURL>${baseUrl}</BaseURL><Period`));
    return path;
  }

  function summary(m: Movie): string[] {
    return m.tracks.map((t) => `${t.codec} ${t.samples.count} ${t.samples.decodeTime[t.samples.count - 1]}`);
  }

  before(async () => {
    const f = (await ensureFixtures()).find((x) => x.name === 'shaka-live');
    assert.ok(f, 'shaka-live fixture');
    fixtureDir = f.dir;
    await cp(fixtureDir, join(root, 'dash'), { recursive: true });
    await cp(fixtureDir, join(base, 'outside', 'dash'), { recursive: true });
    allowed = await serveFolder(root);
    other = await serveFolder(root);
    policy = new SourcePolicy({ roots: [root], origins: [allowed.url], http: fast });
  });
  after(async () => {
    await allowed.close();
    await other.close();
  });

  test('a manifest and its segments inside the root open', async () => {
    const reference = await openMovie(join(fixtureDir, 'manifest.mpd'));
    const movie = await openMovie(join(root, 'dash', 'manifest.mpd'), { openSource: open });
    assert.equal(movie.tracks.length, 2);
    assert.deepEqual(summary(movie), summary(reference));
    assert.ok(movie.sources.length > 2);
    for (const s of movie.sources) assert.ok(s.key.startsWith(join(root, 'dash') + '/'), s.key);
    await Promise.all(movie.sources.map((s) => s.close()));
  });

  test('a manifest whose segments lie outside the root is refused', async () => {
    const outsideDash = join(base, 'outside', 'dash');
    const cases = [
      await manifestWithBase(join(root, 'evil-relative'), '../../outside/dash/'),
      await manifestWithBase(join(root, 'evil-encoded'), '%2e%2e/%2E%2E/outside/dash/'),
      await manifestWithBase(join(root, 'evil-absolute'), `${pathToFileURL(outsideDash).href}/`),
      await manifestWithBase(join(root, 'evil-link'), '../dir-link-out/dash/'),
    ];
    for (const manifest of cases) {
      // Without a policy the manifest is good: the refusal below is the policy's doing.
      const unrestricted = await openMovie(manifest);
      assert.equal(unrestricted.tracks.length, 2, manifest);
      await Promise.all(unrestricted.sources.map((s) => s.close()));
      await rejectsWith(openMovie(manifest, { openSource: open }), 'SOURCE_FORBIDDEN');
    }
    // And a manifest outside the root is refused before it is read.
    await rejectsWith(openMovie(join(outsideDash, 'manifest.mpd'), { openSource: open }), 'SOURCE_FORBIDDEN');
  });

  test('a served manifest opens; one pointing at another origin sends it nothing', async () => {
    const movie = await openMovie(`${allowed.url}/dash/manifest.mpd`, { openSource: open });
    assert.equal(movie.tracks.length, 2);
    for (const s of movie.sources) assert.ok(s.key.startsWith(`${allowed.url}/dash/`), s.key);
    await Promise.all(movie.sources.map((s) => s.close()));

    await manifestWithBase(join(root, 'remote-evil'), `${other.url}/dash/`);
    const before = other.requests;
    await rejectsWith(openMovie(`${allowed.url}/remote-evil/manifest.mpd`, { openSource: open }), 'SOURCE_FORBIDDEN');
    assert.equal(other.requests, before);
  });
});
