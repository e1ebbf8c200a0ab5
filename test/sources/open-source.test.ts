import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { VvfError } from '../../src/errors.js';
import { FileSource } from '../../src/sources/file-source.js';
import { HttpSource } from '../../src/sources/http-source.js';
import { openSource } from '../../src/sources/open-source.js';

function isCode(code: string) {
  return (e: unknown) => e instanceof VvfError && e.code === code;
}

test('paths and file: URLs open FileSources', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'vvf-open-source-'));
  try {
    const path = join(dir, 'a b.bin');
    await writeFile(path, 'abcdef');
    for (const spec of [path, relative(process.cwd(), path), pathToFileURL(path).href]) {
      const s = await openSource(spec);
      assert.ok(s instanceof FileSource, spec);
      assert.equal(s.key, path);
      assert.equal(Buffer.from(await s.read(2, 3)).toString(), 'cde');
      await s.close();
    }
    await assert.rejects(openSource(join(dir, 'missing.bin')), isCode('SOURCE_NOT_FOUND'));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('http: URLs open HttpSources with the given options', async () => {
  const tokens: unknown[] = [];
  const server = createServer((req, res) => {
    tokens.push(req.headers['x-token']);
    res.writeHead(206, { 'content-range': 'bytes 0-0/10', 'content-length': 1 });
    res.end('a');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v.mp4`;
    const s = await openSource(url, { headers: { 'x-token': 't' } });
    assert.ok(s instanceof HttpSource);
    assert.equal(s.size, 10);
    assert.deepEqual(tokens, ['t']);
    await s.close();
  } finally {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
});

test('other URL schemes are USAGE errors', async () => {
  await assert.rejects(openSource('s3://bucket/key.mp4'), isCode('USAGE'));
  await assert.rejects(openSource('file://remote-host/x.mp4'), isCode('USAGE'));
});
