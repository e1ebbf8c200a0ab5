// The same inputs read over HTTP (a loopback origin) give the same model as from files.
import assert from 'node:assert/strict';
import { dirname, relative } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ensureFixtures, type Fixture } from '../../scripts/fixtures.js';
import { openMovie } from '../../src/demux/open-movie.js';
import type { Movie } from '../../src/model/movie.js';
import { type StaticServer, serveFolder } from '../helpers/static-server.js';

let server: StaticServer;
let fixtures: Fixture[];
let root: string;

before(async () => {
  fixtures = await ensureFixtures();
  root = dirname(dirname(fixtures[0]!.input));
  server = await serveFolder(root);
});
after(async () => {
  await server.close();
});

async function closeAll(m: Movie): Promise<void> {
  await Promise.all(m.sources.map((s) => s.close()));
}

function sameSamples(a: Movie, b: Movie): void {
  assert.equal(a.tracks.length, b.tracks.length);
  a.tracks.forEach((t, i) => {
    const u = b.tracks[i]!;
    assert.equal(t.codec, u.codec);
    assert.equal(t.samples.count, u.samples.count);
    for (const col of ['offset', 'size', 'decodeTime', 'compositionOffset', 'duration', 'sync', 'descriptionIndex'] as const) {
      assert.deepEqual(t.samples[col], u.samples[col], `track ${t.id} ${col}`);
    }
    // Sources line up one to one: the same file under a URL.
    for (let k = 0; k < t.samples.count; k += Math.max(1, Math.floor(t.samples.count / 50))) {
      const fa = a.sources[t.samples.sourceIndex[k]!]!.key;
      const fb = b.sources[u.samples.sourceIndex[k]!]!.key;
      assert.equal(relative(root, fa), decodeURIComponent(new URL(fb).pathname).slice(1));
    }
  });
}

describe('HTTP inputs', () => {
  for (const name of [
    'h264-aac-moov-last',
    'frag-plain',
    'dash-template-time',
    'dash-single-file',
    'segment-list',
    'shaka-live',
  ]) {
    test(name, async () => {
      const f = fixtures.find((x) => x.name === name);
      assert.ok(f, `fixture ${name}`);
      const local = await openMovie(f.input);
      const url = `${server.url}/${relative(root, f.input).split('/').map(encodeURIComponent).join('/')}`;
      const remote = await openMovie(url);
      try {
        sameSamples(local, remote);
        assert.ok(remote.sources.every((s) => s.key.startsWith('http://')));
      } finally {
        await closeAll(local);
        await closeAll(remote);
      }
    });
  }
});
