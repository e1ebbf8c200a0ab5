// Compiled recipes over sources that change or fail: a source whose validator no longer
// matches gives SOURCE_CHANGED; a short (or long) read gives an error, never zero-filled
// or misplaced bytes; the etag follows the sources' validators.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { copyFile, cp, mkdtemp, readFile, rm, stat, truncate, utimes, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, normalize } from 'node:path';
import type { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { ensureFixtures, type Fixture } from '../../scripts/fixtures.js';
import { parseRecipe } from '../../src/compose/recipe.js';
import { VvfError } from '../../src/errors.js';
import { openSource } from '../../src/sources/open-source.js';
import type { Source } from '../../src/sources/source.js';
import { compileRecipe } from '../../src/virtual/compile.js';
import { resolveWith } from '../../src/virtual/source-ref.js';
import { type ExtentInfo, VirtualFile } from '../../src/virtual/virtual-file.js';
import { assertSameBytes, isCode, sourceLike } from './virtual-helpers.js';

let dir = '';
let fixtures: Fixture[] = [];
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vvf-recipe-sources-'));
  fixtures = await ensureFixtures();
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

function fixture(name: string): Fixture {
  const f = fixtures.find((x) => x.name === name);
  assert.ok(f, name);
  return f;
}

/** A private copy of the progressive fixture, free to change. */
async function copyOfMp4(name: string): Promise<string> {
  const path = join(dir, name);
  await copyFile(fixture('h264-aac-faststart').input, path);
  return path;
}

const RECIPE = (source: string) => parseRecipe({ tracks: [source], start: '0.5', end: '3.7' });

/** The first extent read from a source whose key satisfies `match`, past the header. */
function sourceExtent(file: VirtualFile, match: (key: string) => boolean = () => true): ExtentInfo {
  for (const e of file.extents()) {
    if (e.kind === 'source' && match(file.sources[e.sourceIndex!]!.key)) return e;
  }
  assert.fail('no such extent');
}

/** A stream's bytes until it ends or fails. */
async function collectUntilError(stream: Readable): Promise<{ bytes: Buffer; error: unknown }> {
  const chunks: Buffer[] = [];
  try {
    for await (const chunk of stream) chunks.push(chunk as Buffer);
  } catch (error) {
    return { bytes: Buffer.concat(chunks), error };
  }
  return { bytes: Buffer.concat(chunks), error: undefined };
}

/** Sources opened by key, counted. */
function countingOpener(open: (key: string) => Promise<Source> = (key) => openSource(key)) {
  const opened: Source[] = [];
  return {
    opened,
    reads: () => opened.reduce((n, s) => n + s.readCount, 0),
    open: async (key: string): Promise<Source> => {
      const s = await open(key);
      opened.push(s);
      return s;
    },
  };
}

/** Moves a file's mtime by `seconds` (the validator of a local file includes it). */
async function touch(path: string, seconds: number): Promise<void> {
  const st = await stat(path);
  await utimes(path, st.atime, new Date(st.mtimeMs + seconds * 1000));
}

describe('local sources', () => {
  test('a serialized compiled recipe loads without touching a source and reads the same bytes', async () => {
    const path = await copyOfMp4('reload.mp4');
    const compiled = await compileRecipe(RECIPE(path));
    const { file } = compiled;
    const bytes = await file.read(0, file.size);
    const serialized = file.serialize();
    await compiled.close();

    const counting = countingOpener();
    const loaded = VirtualFile.deserialize(serialized, resolveWith(counting.open));
    assert.equal(counting.opened.length, 0, 'no source opened by deserialize');
    assert.equal(loaded.size, file.size);
    assert.equal(loaded.etag, file.etag);
    // The header is held in memory: reading it opens nothing either.
    const { start } = sourceExtent(loaded);
    assertSameBytes(await loaded.read(0, start), bytes.subarray(0, start), 'header');
    assert.equal(counting.opened.length, 0, 'the header reads no source');
    assertSameBytes(await loaded.read(0, loaded.size), bytes, 'whole file');
    assert.equal(counting.opened.length, 1, 'one source, opened once');
    assert.ok(counting.reads() > 0);
    await loaded.close();
  });

  test('a source rewritten with other bytes of the same size gives SOURCE_CHANGED after deserialize', async () => {
    const path = await copyOfMp4('rewritten.mp4');
    const compiled = await compileRecipe(RECIPE(path));
    const { file } = compiled;
    const bytes = await file.read(0, file.size);
    const serialized = file.serialize();
    const mdat = sourceExtent(file);
    await compiled.close();

    // Same size and inode, other content (the moov is first: the end of the file is mdat), later mtime.
    const content = await readFile(path);
    for (let i = content.length - 20_000; i < content.length; i++) content[i] = content[i]! ^ 0x5a;
    await writeFile(path, content);
    await touch(path, 5);
    assert.equal((await stat(path)).size, content.length);

    const loaded = VirtualFile.deserialize(
      serialized,
      resolveWith((key) => openSource(key)),
    );
    assertSameBytes(await loaded.read(0, 100), bytes.subarray(0, 100), 'held header bytes still read');
    const inside = mdat.start + 10;
    await assert.rejects(loaded.read(inside, 1000), isCode('SOURCE_CHANGED'));
    await assert.rejects(loaded.read(inside, 1000), isCode('SOURCE_CHANGED'), 'and again on the next read');
    const { bytes: streamed, error } = await collectUntilError(loaded.stream());
    assert.ok(error instanceof VvfError && error.code === 'SOURCE_CHANGED', String(error));
    assert.ok(streamed.length <= mdat.start, `${streamed.length} bytes streamed, none from the changed source`);
    await loaded.close();
  });

  test('a source truncated under a live file fails the read and the stream, never short or zero-filled', async () => {
    const path = await copyOfMp4('truncated.mp4');
    const compiled = await compileRecipe(RECIPE(path));
    const { file } = compiled;
    const bytes = await file.read(0, file.size);
    // Cut the source where the file's last run of samples starts.
    let last = sourceExtent(file);
    for (const e of file.extents()) if (e.kind === 'source') last = e;
    await truncate(path, last.sourceOffset!);

    await assert.rejects(file.read(last.start, last.end - last.start), (e) => {
      assert.ok(e instanceof VvfError, String(e));
      assert.ok(['SOURCE_CHANGED', 'SOURCE_RANGE', 'SOURCE_BAD_RESPONSE'].includes(e.code), e.message);
      return true;
    });
    const { bytes: streamed, error } = await collectUntilError(file.stream(0, file.size, { chunkSize: 64 * 1024 }));
    assert.ok(error instanceof VvfError, `the stream fails (${String(error)})`);
    assert.ok(streamed.length < file.size, 'the stream did not end as if complete');
    assertSameBytes(streamed, bytes.subarray(0, streamed.length), 'what came before the error');
    await compiled.close();
  });

  test('a source answering short or long fails the read and the stream', async () => {
    const path = await copyOfMp4('lying.mp4');
    let lie: 'short' | 'long' | undefined;
    // Opens the real file; once `lie` is set, answers one byte short or long.
    const lying = async (spec: string): Promise<Source> => {
      const real = await openSource(spec);
      return sourceLike(real, {
        read: async (offset, length) => {
          if (lie === 'long' && offset + length < real.size) return real.read(offset, length + 1);
          const b = await real.read(offset, length);
          return lie === 'short' && length > 0 ? b.subarray(0, length - 1) : b;
        },
      });
    };
    const compiled = await compileRecipe(RECIPE(path), { openSource: lying });
    const { file } = compiled;
    const bytes = await file.read(0, file.size);
    const mdat = sourceExtent(file);
    for (const mode of ['short', 'long'] as const) {
      lie = mode;
      await assert.rejects(file.read(mdat.start, 4096), isCode('SOURCE_BAD_RESPONSE'), mode);
      await assert.rejects(file.read(0, file.size), isCode('SOURCE_BAD_RESPONSE'), mode);
      const { bytes: streamed, error } = await collectUntilError(file.stream(0, file.size, { chunkSize: 10_000 }));
      assert.ok(error instanceof VvfError && error.code === 'SOURCE_BAD_RESPONSE', `${mode}: ${String(error)}`);
      assert.ok(streamed.length <= mdat.start, `${mode}: ${streamed.length} bytes before the error, all header`);
      assertSameBytes(streamed, bytes.subarray(0, streamed.length), `${mode}: what came before the error`);
    }
    lie = undefined;
    assertSameBytes(await file.read(0, file.size), bytes, 'an honest source reads again');
    await compiled.close();
  });

  test('the etag is the same for the same inputs and changes with a source validator', async () => {
    const path = await copyOfMp4('etag.mp4');
    const compile = async () => {
      const c = await compileRecipe(RECIPE(path));
      const out = {
        etag: c.file.etag,
        size: c.file.size,
        bytes: await c.file.read(0, c.file.size),
        serialized: c.file.serialize(),
      };
      await c.close();
      return out;
    };
    const a = await compile();
    const b = await compile();
    assert.equal(b.etag, a.etag, 'same inputs, same etag');
    assert.equal(b.size, a.size);
    assertSameBytes(b.serialized, a.serialized, 'same compiled form');
    await touch(path, 7);
    const c = await compile();
    assert.notEqual(c.etag, a.etag, 'a touched source changes the etag');
    assert.equal(c.size, a.size);
    assertSameBytes(c.bytes, a.bytes, 'the bytes are the same: only the validator moved');
    // Another recipe over the same source is another file.
    const other = await compileRecipe(parseRecipe({ tracks: [path], start: '0.5', end: '3.6' }));
    assert.notEqual(other.file.etag, c.etag);
    await other.close();
  });
});

/**
 * A loopback origin for a folder that answers single byte ranges with a strong ETag (a
 * hash of the content), and can be told to serve other bytes for a path or to cut a
 * path's bodies short.
 */
interface Origin {
  url: string;
  swap(path: string, bytes: Buffer): void;
  cut(path: string, on: boolean): void;
  close(): Promise<void>;
}

async function serveOrigin(root: string): Promise<Origin> {
  const swapped = new Map<string, Buffer>();
  const cut = new Set<string>();
  const server: Server = createServer(async (req, res) => {
    const name = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    const path = normalize(join(root, name));
    if (!path.startsWith(root)) {
      res.writeHead(403).end();
      return;
    }
    let body: Buffer;
    try {
      body = swapped.get(name) ?? (await readFile(path));
    } catch {
      res.writeHead(404).end();
      return;
    }
    const etag = `"${createHash('sha256').update(body).digest('hex').slice(0, 20)}"`;
    const m = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
    if (!m) {
      res.writeHead(200, { 'content-length': body.length, etag, 'accept-ranges': 'bytes' }).end(body);
      return;
    }
    const start = Number(m[1]);
    const end = Math.min(m[2] ? Number(m[2]) : body.length - 1, body.length - 1);
    if (start >= body.length || end < start) {
      res.writeHead(416, { 'content-range': `bytes */${body.length}` }).end();
      return;
    }
    const part = body.subarray(start, end + 1);
    res.writeHead(206, { 'content-length': part.length, 'content-range': `bytes ${start}-${end}/${body.length}`, etag });
    if (cut.has(name) && part.length > 1) {
      // Half the body promised, then the connection drops.
      res.write(part.subarray(0, part.length >> 1), () => res.destroy());
      return;
    }
    res.end(part);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    swap: (path, bytes) => swapped.set(path, bytes),
    cut: (path, on) => (on ? cut.add(path) : cut.delete(path)),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

describe('DASH over HTTP', () => {
  const SEGMENT = 'seg-0-25600.m4s';
  let root = '';
  let origin: Origin;
  before(async () => {
    root = join(dir, 'dash');
    await cp(fixture('dash-template-time').dir, root, { recursive: true });
    origin = await serveOrigin(root);
  });
  after(() => origin.close());

  const recipe = (manifest: string) => parseRecipe({ tracks: [manifest], start: '1.5', end: '4.5' });
  const http = (spec: string) => openSource(spec, { retries: 0 });

  test('compiled from URLs, the file has the bytes it has compiled from the local files', async () => {
    const local = await compileRecipe(recipe(join(root, 'manifest.mpd')));
    const remote = await compileRecipe(recipe(`${origin.url}/manifest.mpd`), { openSource: http });
    try {
      assert.equal(remote.file.size, local.file.size);
      assert.ok(remote.file.sources.every((s) => s.key.startsWith(origin.url)));
      assert.ok(
        remote.file.sources.some((s) => s.key.endsWith(`/${SEGMENT}`)),
        'the recipe reads the segment we change',
      );
      assertSameBytes(await remote.file.read(0, remote.file.size), await local.file.read(0, local.file.size));
      // Same bytes from other sources: another identity.
      assert.notEqual(remote.file.etag, local.file.etag);
    } finally {
      await local.close();
      await remote.close();
    }
  });

  test('a segment that changes on the server gives SOURCE_CHANGED, live or reloaded; the others still read', async () => {
    const remote = await compileRecipe(recipe(`${origin.url}/manifest.mpd`), { openSource: http });
    const { file } = remote;
    const bytes = await file.read(0, file.size);
    const serialized = file.serialize();
    const changed = sourceExtent(file, (k) => k.endsWith(`/${SEGMENT}`));
    const other = sourceExtent(file, (k) => !k.endsWith(`/${SEGMENT}`));
    const original = await readFile(join(root, SEGMENT));
    const altered = Buffer.from(original);
    for (let i = altered.length - 1000; i < altered.length; i++) altered[i] = altered[i]! ^ 0xff;
    origin.swap(`/${SEGMENT}`, altered);
    try {
      // The live file's open source sees the new ETag on its next answer.
      await assert.rejects(file.read(changed.start, changed.end - changed.start), isCode('SOURCE_CHANGED'));
      assertSameBytes(await file.read(other.start, other.end - other.start), bytes.subarray(other.start, other.end));
      const { error } = await collectUntilError(file.stream());
      assert.ok(error instanceof VvfError && error.code === 'SOURCE_CHANGED', String(error));
      // Reloaded: the segment's validator no longer matches when it opens.
      const counting = countingOpener(http);
      const loaded = VirtualFile.deserialize(serialized, resolveWith(counting.open));
      assert.equal(counting.opened.length, 0);
      await assert.rejects(loaded.read(changed.start, 10), isCode('SOURCE_CHANGED'));
      assertSameBytes(await loaded.read(other.start, other.end - other.start), bytes.subarray(other.start, other.end));
      await loaded.close();
    } finally {
      origin.swap(`/${SEGMENT}`, original);
      await remote.close();
    }
  });

  test('a body cut short fails the read with SOURCE_BAD_RESPONSE, never zero-filled', async () => {
    const remote = await compileRecipe(recipe(`${origin.url}/manifest.mpd`), { openSource: http });
    const { file } = remote;
    const bytes = await file.read(0, file.size);
    const target = sourceExtent(file, (k) => k.endsWith(`/${SEGMENT}`));
    origin.cut(`/${SEGMENT}`, true);
    try {
      await assert.rejects(file.read(target.start, target.end - target.start), isCode('SOURCE_BAD_RESPONSE'));
      const { bytes: streamed, error } = await collectUntilError(file.stream(0, file.size, { chunkSize: 16 * 1024 }));
      assert.ok(error instanceof VvfError && error.code === 'SOURCE_BAD_RESPONSE', String(error));
      assert.ok(streamed.length <= target.start, `${streamed.length} bytes before the error, none of the cut segment`);
      assertSameBytes(streamed, bytes.subarray(0, streamed.length), 'what came before the error');
      origin.cut(`/${SEGMENT}`, false);
      assertSameBytes(await file.read(0, file.size), bytes, 'reads again once the server answers in full');
    } finally {
      origin.cut(`/${SEGMENT}`, false);
      await remote.close();
    }
  });
});
