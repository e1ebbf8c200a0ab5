// Fragmented presentations served by `vvf serve`: every fixture through the DASH (template and
// single file) and HLS (segments and byte ranges) manifests gives ffmpeg, reading over HTTP,
// the source's packets; parts follow the rules of files (ranges, etags, signed URLs, CORS).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ensureFixtures, type Fixture } from '../../scripts/fixtures.js';
import { signRecipe } from '../../src/catalog/signed-url.js';
import { parseRecipe } from '../../src/compose/recipe.js';
import { startServer, type VvfServer } from '../../src/server/app.js';
import { defaultServeConfig } from '../../src/server/config.js';
import { presentationFiles } from '../../src/virtual/presentation-file.js';
import { presentationProblems } from '../helpers/manifest-rules.js';
import { decodeErrors, framemd5, samePackets } from '../helpers/media.js';

const KEY = 'presentation-test-key';
const MANIFESTS = ['manifest.mpd', 'manifest.m3u8', 'manifest-single.mpd', 'manifest-single.m3u8'];

let server: VvfServer;
let fixtures: Fixture[];

before(async () => {
  fixtures = await ensureFixtures();
  const root = fixtures[0]!.input.replace(/\/[^/]+\/[^/]+$/, '');
  server = await startServer(
    { ...defaultServeConfig, port: 0, roots: [root], signingKey: KEY, corsOrigins: ['*'] },
    { log: () => {} },
  );
});
after(() => server.close());

interface Described {
  id: string;
  url: string;
  layout?: string;
  manifests?: string[];
}

async function register(recipe: unknown): Promise<Described> {
  const r = await fetch(`${server.url}/v`, { method: 'POST', body: JSON.stringify(recipe) });
  assert.ok(r.status === 201 || r.status === 200, `register: ${r.status} ${await r.clone().text()}`);
  return (await r.json()) as Described;
}

describe('every fixture as a cmaf presentation: each manifest gives ffmpeg the source packets over HTTP', async () => {
  for (const f of await ensureFixtures()) {
    test(f.name, async () => {
      const d = await register({ layout: 'cmaf', segment: 1, tracks: [{ source: f.input }] });
      assert.deepEqual(
        d.manifests,
        MANIFESTS.map((m) => `${server.url}/v/${d.id}/${m}`),
      );
      // The served manifests keep the rules players rely on (MPD schema rules, RFC 8216).
      const index = (await presentationFiles((await server.catalog.get(d.id))!.file)).index;
      for (const form of ['segments', 'single'] as const) {
        const problems = await presentationProblems(index, form, async (name) => {
          const r = await fetch(`${server.url}/v/${d.id}/${name}`);
          assert.equal(r.status, 200, name);
          return r.text();
        });
        assert.deepEqual([...problems], [], `${form} manifests`);
      }
      const rank = { video: 0, audio: 0 };
      for (const stream of f.streams) {
        const spec = `${stream.kind === 'video' ? 'v' : 'a'}:${rank[stream.kind]++}` as const;
        const theirs = await framemd5(stream.probeFile, stream.probeStreamIndex, { ignoreEditlist: true });
        for (const m of MANIFESTS) {
          const ours = await framemd5(`${server.url}/v/${d.id}/${m}`, spec);
          const mismatch = samePackets(ours, theirs);
          assert.equal(mismatch, undefined, `${stream.kind} through ${m}: ${mismatch}`);
        }
      }
      for (const m of ['manifest.mpd', 'manifest.m3u8']) {
        assert.equal(await decodeErrors(`${server.url}/v/${d.id}/${m}`), '', `${m} decodes without errors`);
      }
    });
  }
});

describe('parts of a presentation are served like files', () => {
  let base: string;
  let recipe: unknown;
  before(async () => {
    recipe = { layout: 'dash', segment: 2, tracks: [{ source: fixtures[0]!.input }] };
    const d = await register(recipe);
    base = `${server.url}/v/${d.id}`;
  });

  test('ranges, etags and content types', async () => {
    const whole = await fetch(`${base}/v1/1.m4s`, { headers: { origin: 'https://player.example' } });
    assert.equal(whole.status, 200);
    assert.equal(whole.headers.get('content-type'), 'video/mp4');
    assert.equal(whole.headers.get('access-control-allow-origin'), '*');
    const body = Buffer.from(await whole.arrayBuffer());
    assert.equal(body.subarray(4, 8).toString(), 'styp');
    const etag = whole.headers.get('etag')!;
    const part = await fetch(`${base}/v1/1.m4s`, { headers: { range: 'bytes=10-99' } });
    assert.equal(part.status, 206);
    assert.deepEqual(Buffer.from(await part.arrayBuffer()), body.subarray(10, 100));
    assert.equal((await fetch(`${base}/v1/1.m4s`, { headers: { 'if-none-match': etag } })).status, 304);
    const second = await fetch(`${base}/v1/2.m4s`);
    assert.notEqual(second.headers.get('etag'), etag, 'each segment has its own etag');
    const mpd = await fetch(`${base}/manifest.mpd`);
    assert.equal(mpd.headers.get('content-type'), 'application/dash+xml');
    assert.match(await mpd.text(), /<MPD /);
    const head = await fetch(`${base}/a1.mp4`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('content-type'), 'audio/mp4');
  });

  test('what a presentation does not have is 404, with a message that says what it has', async () => {
    const hls = await fetch(`${base}/manifest.m3u8`);
    assert.equal(hls.status, 404, 'a dash layout offers no HLS playlists');
    for (const missing of ['v1/999.m4s', 'v9/init.mp4', 'v1/01.m4s', 'nothing']) {
      assert.equal((await fetch(`${base}/${missing}`)).status, 404, missing);
    }
    const whole = await fetch(`${base}.mp4`);
    assert.equal(whole.status, 404);
    assert.match(((await whole.json()) as { message: string }).message, /dash presentation.*manifests and segments are under/);
    assert.equal((await fetch(`${base}/v1/1.m4s`, { method: 'DELETE' })).status, 405);
  });

  test('a signed presentation: its directory path serves every part; a forged one is refused', async () => {
    const path = signRecipe(parseRecipe(recipe), KEY);
    assert.match(path, /\/$/);
    const mpd = await fetch(`${server.url}${path}manifest.mpd`);
    assert.equal(mpd.status, 200);
    const seg = await fetch(`${server.url}${path}v1/1.m4s`);
    assert.deepEqual(Buffer.from(await seg.arrayBuffer()), Buffer.from(await (await fetch(`${base}/v1/1.m4s`)).arrayBuffer()));
    const forged = path.replace(
      /\.([A-Za-z0-9_-]{43})\/$/,
      (_, sig: string) => `.${sig.startsWith('A') ? 'B' : 'A'}${sig.slice(1)}/`,
    );
    assert.equal((await fetch(`${server.url}${forged}manifest.mpd`)).status, 403);
    assert.equal(
      (await fetch(`${server.url}${signRecipe(parseRecipe({ tracks: [{ source: fixtures[0]!.input }] }), KEY)}`)).status,
      200,
      'progressive signed paths are unchanged',
    );
  });
});
