// Round trips (issue 9, item 6): a source served as a DASH or HLS presentation by `vvf serve`,
// read back by vvf over HTTP into a progressive file, gives per stream exactly the source's packets
// and timestamps.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ensureFixtures } from '../../scripts/fixtures.js';
import { startServer, type VvfServer } from '../../src/server/app.js';
import { defaultServeConfig } from '../../src/server/config.js';
import { framemd5, samePackets } from '../helpers/media.js';
import { writeRecipeFile } from '../helpers/recipe-file.js';

const dir = mkdtempSync(join(tmpdir(), 'vvf-round-trip-'));
let server: VvfServer;

before(async () => {
  const fixtures = await ensureFixtures();
  const root = fixtures[0]!.input.replace(/\/[^/]+\/[^/]+$/, '');
  server = await startServer({ ...defaultServeConfig, port: 0, roots: [root] }, { log: () => {} });
});
after(() => server.close());

/** The progressive file vvf makes of every track of `source`, written to disk. */
function progressiveOf(source: string, name: string): Promise<string> {
  return writeRecipeFile({ tracks: [{ source }] }, join(dir, `${name}.mp4`));
}

describe('source → DASH/HLS served by vvf → progressive: the same packets and timestamps', async () => {
  for (const f of await ensureFixtures()) {
    test(f.name, async () => {
      const r = await fetch(`${server.url}/v`, {
        method: 'POST',
        body: JSON.stringify({ layout: 'cmaf', segment: 1, tracks: [{ source: f.input }] }),
      });
      const { id } = (await r.json()) as { id: string };
      // What vvf itself makes of the source: for a progressive source, the whole framemd5 (times absolute) must match.
      const direct = await progressiveOf(f.input, `${f.name}-direct`);
      for (const manifest of ['manifest.mpd', 'manifest-single.mpd', 'manifest.m3u8', 'manifest-single.m3u8']) {
        const back = await progressiveOf(`${server.url}/v/${id}/${manifest}`, `${f.name}-${manifest}`);
        const rank = { video: 0, audio: 0 };
        for (const stream of f.streams) {
          const spec = `${stream.kind === 'video' ? 'v' : 'a'}:${rank[stream.kind]++}` as const;
          const theirs = await framemd5(stream.probeFile, stream.probeStreamIndex, { ignoreEditlist: true });
          const ours = await framemd5(back, spec, { ignoreEditlist: true });
          assert.equal(samePackets(ours, theirs, { lastKnown: false }), undefined, `${stream.kind} through ${manifest}`);
          // Edit lists applied, as players see it: the same presentation timestamps as the direct file's.
          assert.deepEqual(
            await framemd5(back, spec),
            await framemd5(direct, spec),
            `${stream.kind} through ${manifest}, edits applied`,
          );
        }
      }
    });
  }
});
