// Real players against vvf serve: dash.js, hls.js and Shaka Player, each on the player page in Debian's Chromium,
// play a cmaf presentation of a two-rendition ladder with audio, seek to its middle and switch renditions through
// their own APIs; the player page and its scripts as HTTP answers.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  ensureLadderFixture,
  LADDER_FPS,
  LADDER_GOP_FRAMES,
  LADDER_SECONDS,
  type LadderFixture,
} from '../../scripts/ladder-fixtures.js';
import { startServer, type VvfServer } from '../../src/server/app.js';
import { defaultServeConfig } from '../../src/server/config.js';
import { PLAYERS, type PlayerAsset, type PlayerName, playerInstalled, playerScriptPath } from '../../src/server/players.js';
import { CHROMIUM, type ChromiumContext, launchChromium, WAIT_MS } from '../helpers/chromium.js';

const GOP_SECONDS = LADDER_GOP_FRAMES / LADDER_FPS;
/** The recipe's segment duration (one GOP). */
const SEGMENT_SECONDS = 2;
/**
 * Seconds the players buffer ahead (the page's `buffer`): a few segments of the 20, so that the
 * switches and the seek ask for segments, as in a long presentation, rather than find them buffered.
 */
const BUFFER_SECONDS = 4;
/**
 * Where buffering may start at the latest: a few frames (an HLS player may start at the first
 * frame's composition time, after B-frame reordering), far less than a GOP.
 */
const START_TOLERANCE = 0.25;
/** The ladder's renditions as the presentation names them: recipe order, kind letter and rank. */
const RENDITIONS = {
  v1: { width: 640, height: 360 },
  v2: { width: 320, height: 180 },
} as const;
type RenditionId = keyof typeof RENDITIONS;

/**
 * How each player reports the picture height of the rendition it plays now, in its own API (the
 * page's adapter is not trusted for this): dash.js's current representation, hls.js's current
 * level, Shaka's active variant track.
 */
const REPORTED_HEIGHT: Record<PlayerName, string> = {
  dashjs: `(() => { const r = window.vvfPlayer.getCurrentRepresentationForType('video'); return r ? r.height : null; })()`,
  hlsjs: `(() => { const h = window.vvfPlayer; const l = h.levels[h.currentLevel]; return l ? l.height : null; })()`,
  shaka: `(() => { const t = window.vvfPlayer.getVariantTracks().find((t) => t.active); return t ? t.height : null; })()`,
};

/**
 * Forces a rendition through each player's own API, ABR off: dash.js stops switching video
 * by itself and replaces what it buffered; hls.js's currentLevel switches at once, flushing;
 * Shaka with ABR disabled selects the variant of that picture (with the audio it plays) and
 * clears its buffer.
 */
function forceRendition(player: PlayerName, id: RenditionId): string {
  const { height } = RENDITIONS[id];
  switch (player) {
    case 'dashjs':
      return `(() => { const p = window.vvfPlayer;
        p.updateSettings({ streaming: { abr: { autoSwitchBitrate: { video: false } } } });
        p.setRepresentationForTypeById('video', ${JSON.stringify(id)}, true); })()`;
    case 'hlsjs':
      return `(() => { const h = window.vvfPlayer;
        const i = h.levels.findIndex((l) => l.height === ${height});
        if (i < 0) throw new Error('no level of height ${height}');
        h.currentLevel = i; })()`;
    case 'shaka':
      return `(() => { const p = window.vvfPlayer;
        p.configure({ abr: { enabled: false } });
        const tracks = p.getVariantTracks();
        const now = tracks.find((t) => t.active);
        const t = tracks.find((t) => t.height === ${height} && (!now || t.audioId === now.audioId));
        if (!t) throw new Error('no variant of height ${height}');
        p.selectVariantTrack(t, true); })()`;
  }
}

const VIDEO = `document.querySelector('video')`;

interface PageEvent {
  type: string;
  detail: string;
  fatal: boolean;
  currentTime: number;
}

function installedVersion(pkg: string): string {
  return (JSON.parse(readFileSync(join('node_modules', pkg, 'package.json'), 'utf8')) as { version: string }).version;
}

let ladder: LadderFixture;
let server: VvfServer;
let id: string;
let context: ChromiumContext | undefined;
let profile: string;
const logs: Record<string, unknown>[] = [];
/** Paths of the requests the server received, in order of arrival. */
const arrivals: string[] = [];

before(async () => {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: \`make system-deps\` installs Debian's chromium`);
  ladder = await ensureLadderFixture();
  // no-store: Chromium's cache answers nothing, so that every segment a player plays is a request the server sees.
  server = await startServer(
    { ...defaultServeConfig, port: 0, roots: [ladder.dir], cacheControl: 'no-store' },
    { log: (e) => logs.push(e) },
  );
  server.server.on('request', (req: IncomingMessage) => arrivals.push(req.url ?? ''));
  const recipe = {
    layout: 'cmaf',
    segment: SEGMENT_SECONDS,
    tracks: [
      { source: ladder.high, kind: 'video' },
      { source: ladder.low, kind: 'video' },
      { source: ladder.high, kind: 'audio' },
    ],
  };
  const posted = await fetch(`${server.url}/v`, { method: 'POST', body: JSON.stringify(recipe) });
  assert.equal(posted.status, 201, await posted.clone().text());
  id = ((await posted.json()) as { id: string }).id;
  profile = mkdtempSync(join(tmpdir(), 'vvf-players-profile-'));
  context = await launchChromium(profile);
});

after(async () => {
  await context?.close().catch(() => {});
  await server?.close();
  if (profile) rmSync(profile, { recursive: true, force: true });
});

describe('the player page and its scripts over HTTP', () => {
  test('the default player page of a cmaf presentation is dash.js on its MPD; every URL in it is relative', async () => {
    const r = await fetch(`${server.url}/v/${id}/player.html`);
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('content-type'), 'text/html; charset=utf-8');
    const html = await r.text();
    assert.match(html, /<script src="\.\.\/\.\.\/assets\/dash\.all\.min\.js"><\/script>/);
    assert.match(html, /"manifest":"manifest\.mpd"/);
    for (const player of ['dashjs', 'hlsjs', 'shaka']) assert.ok(html.includes(`player.html?player=${player}`), player);
    assert.ok(!/(src|href)="\//.test(html), 'no absolute URL: the page works under a path prefix');
    assert.match(html, /<td>v1<\/td><td>video<\/td><td><code>avc1\.[0-9a-f]{6}<\/code><\/td><td>640×360 @ 24 fps<\/td>/);
    assert.match(html, /<td>a1<\/td><td>audio<\/td><td><code>mp4a\.40\.2<\/code><\/td><td>48000 Hz, 2 ch<\/td>/);
    const head = await fetch(`${server.url}/v/${id}/player.html?player=hlsjs&manifest=manifest-single.m3u8`, {
      method: 'HEAD',
    });
    assert.equal(head.status, 200);
    assert.equal(await head.text(), '');
  });

  test('a player, a manifest or a file the page cannot play is refused with a reason', async () => {
    const cases: [string, number, RegExp][] = [
      [`/v/${id}/player.html?player=vlc`, 400, /player must be one of dashjs, hlsjs, shaka/],
      [`/v/${id}/player.html?buffer=-1`, 400, /buffer must be seconds, more than 0 and at most 600/],
      [`/v/${id}/player.html?player=dashjs&manifest=manifest.m3u8`, 404, /dash\.js plays manifest\.mpd, manifest-single\.mpd/],
      [`/v/${id}/player.html?player=hlsjs&manifest=v1.m3u8`, 404, /hls\.js plays manifest\.m3u8, manifest-single\.m3u8/],
      ['/v/nosuchfile/player.html', 404, /no virtual file nosuchfile/],
      ['/assets/flash.swf', 404, /no asset flash\.swf \(assets: dash\.all\.min\.js, hls\.min\.js, shaka-player\.compiled\.js\)/],
    ];
    for (const [path, status, message] of cases) {
      const r = await fetch(`${server.url}${path}`);
      assert.equal(r.status, status, path);
      assert.match(((await r.json()) as { message: string }).message, message, path);
    }
    // A progressive file has no player page: it plays in the index page's <video>.
    const progressive = await fetch(`${server.url}/v`, {
      method: 'POST',
      body: JSON.stringify({ tracks: [{ source: ladder.low }] }),
    });
    const pid = ((await progressive.json()) as { id: string }).id;
    const r = await fetch(`${server.url}/v/${pid}/player.html`);
    assert.equal(r.status, 404);
    assert.match(((await r.json()) as { message: string }).message, /is a progressive file: play \/v\/[\w-]+\.mp4/);
  });

  test('an hls presentation plays with hls.js by default, and Shaka on request; dash.js has nothing to play', async () => {
    const posted = await fetch(`${server.url}/v`, {
      method: 'POST',
      body: JSON.stringify({ layout: 'hls', tracks: [{ source: ladder.low, kind: 'video' }] }),
    });
    const hid = ((await posted.json()) as { id: string }).id;
    const html = await (await fetch(`${server.url}/v/${hid}/player.html`)).text();
    assert.match(html, /<script src="\.\.\/\.\.\/assets\/hls\.min\.js"><\/script>/);
    assert.match(html, /"manifest":"manifest\.m3u8"/);
    assert.ok(!html.includes('player=dashjs'), 'no dash.js link');
    const shaka = await (await fetch(`${server.url}/v/${hid}/player.html?player=shaka`)).text();
    assert.match(shaka, /"manifest":"manifest\.m3u8"/);
    const dash = await fetch(`${server.url}/v/${hid}/player.html?player=dashjs`);
    assert.equal(dash.status, 404);
    assert.match(
      ((await dash.json()) as { message: string }).message,
      /dash\.js plays dash manifests; [\w-]+ is a hls presentation \(players: hlsjs, shaka\)/,
    );
  });

  test('each player script is served from node_modules, with an etag', async () => {
    for (const player of Object.values(PLAYERS)) {
      const r = await fetch(`${server.url}/assets/${player.asset}`);
      assert.equal(r.status, 200, player.asset);
      assert.equal(r.headers.get('content-type'), 'text/javascript; charset=utf-8');
      const body = Buffer.from(await r.arrayBuffer());
      assert.deepEqual(body, readFileSync(playerScriptPath(player)!), `${player.asset} is the installed file`);
      const etag = r.headers.get('etag');
      assert.ok(etag);
      const again = await fetch(`${server.url}/assets/${player.asset}`, { headers: { 'if-none-match': etag } });
      assert.equal(again.status, 304);
    }
  });

  test('a player whose package is missing is not offered', () => {
    const missing: PlayerAsset = { ...PLAYERS.shaka, pkg: 'vvf-no-such-player-package' };
    assert.equal(playerScriptPath(missing), undefined);
    assert.equal(playerInstalled(missing), false);
    assert.ok(Object.values(PLAYERS).every(playerInstalled), 'dashjs, hls.js and shaka-player are installed');
  });

  test('the index page lists the presentation: its renditions, manifests and player pages', async () => {
    const html = await (await fetch(`${server.url}/`)).text();
    const section = html.slice(html.indexOf(`<section class="file presentation" id="file-${id}"`));
    assert.ok(section.length < html.length, 'a section for the presentation');
    const own = section.slice(0, section.indexOf('</section>'));
    assert.ok(!own.includes('<video'), 'no <video> for a package');
    assert.match(own, /<h2><a href="\/v\/[\w-]+\/player\.html">[^<]+<\/a> <span class="layout">cmaf<\/span><\/h2>/);
    for (const m of ['manifest.mpd', 'manifest.m3u8', 'manifest-single.mpd', 'manifest-single.m3u8']) {
      assert.ok(own.includes(`href="/v/${id}/${m}"`), m);
    }
    assert.ok(own.includes(`href="/v/${id}/player.html?player=hlsjs"`));
    assert.ok(own.includes(`href="/v/${id}/player.html?player=shaka"`));
    assert.match(
      own,
      /<td>v2<\/td><td>video<\/td><td><code>avc1\.[0-9a-f]{6}<\/code><\/td><td>320×180 @ 24 fps<\/td><td>[\d.]+ kb\/s<\/td>/,
    );
    assert.match(own, /<td>10<\/td><\/tr>/, 'ten 2 s segments');
  });
});

describe('real players in Chromium play, seek and switch renditions', () => {
  for (const name of ['dashjs', 'hlsjs', 'shaka'] as const) {
    const player = PLAYERS[name];
    test(`${player.label} ${installedVersion(player.pkg)}`, { timeout: 120_000 }, async () => {
      assert.ok(context);
      const page = await context.newPage();
      page.setDefaultTimeout(WAIT_MS);
      const pageErrors: string[] = [];
      page.on('pageerror', (e) => pageErrors.push(e.message));
      const wait = (condition: string) => page.waitForFunction(condition, undefined, { timeout: WAIT_MS });
      const events = async () => (await page.evaluate('window.vvfEvents')) as PageEvent[];
      const segmentsOf = (rendition: RenditionId, from: number) =>
        arrivals.slice(from).filter((p) => new RegExp(`^/v/${id}/${rendition}/\\d+\\.m4s$`).test(p));
      const reported = async () => (await page.evaluate(REPORTED_HEIGHT[name])) as number | null;
      const firstLog = logs.length;
      try {
        await page.goto(`${server.url}/v/${id}/player.html?player=${name}&buffer=${BUFFER_SECONDS}`, { waitUntil: 'load' });
        await wait('window.vvf && window.vvf.ready').catch(async (e: unknown) => {
          throw new Error(`${player.label} never got ready: ${JSON.stringify(await events())} ${pageErrors.join('; ')}`, {
            cause: e,
          });
        });
        assert.equal(await page.evaluate('window.vvf.version.replace(/^v/, "")'), installedVersion(player.pkg));

        // Playback starts, with picture and sound.
        await page.evaluate(`${VIDEO}.play()`);
        await wait(`${VIDEO}.currentTime > 1 && ${VIDEO}.videoWidth > 0 && ${VIDEO}.webkitAudioDecodedByteCount > 0`);
        // From the start: a player that cannot use the first segment jumps the gap it leaves, and plays on.
        const buffered = (await page.evaluate(
          `(() => { const b = ${VIDEO}.buffered; return b.length > 0 ? b.start(0) : null; })()`,
        )) as number | null;
        assert.ok(
          buffered !== null && buffered < START_TOLERANCE,
          `the start is buffered: buffered from ${buffered} s, the player skipped part of the first segment (${JSON.stringify(
            (await events()).slice(0, 6),
          )})`,
        );
        const duration = (await page.evaluate(`${VIDEO}.duration`)) as number;
        assert.ok(Math.abs(duration - LADDER_SECONDS) < 0.5, `duration ${duration}`);

        // A switch forced through the player's API to the rendition it does not play now.
        const startHeight = await reported();
        assert.ok(startHeight === 360 || startHeight === 180, `playing a rendition of the ladder: ${startHeight}`);
        const target: RenditionId = startHeight === 360 ? 'v2' : 'v1';
        const back: RenditionId = target === 'v1' ? 'v2' : 'v1';
        let mark = arrivals.length;
        let from = (await page.evaluate(`${VIDEO}.currentTime`)) as number;
        await page.evaluate(forceRendition(name, target));
        await wait(`${VIDEO}.videoWidth === ${RENDITIONS[target].width} && ${VIDEO}.currentTime > ${from + 0.5}`);
        assert.equal(await reported(), RENDITIONS[target].height, `${player.label} reports ${target}`);
        assert.equal(await page.evaluate('window.vvf.rendition()'), target, 'the page shows the rendition');
        assert.ok(segmentsOf(target, mark).length > 0, `${target} segments requested after the switch`);

        // A seek to the middle lands within a GOP of it, and playback goes on from there.
        const middle = duration / 2;
        mark = arrivals.length;
        await page.evaluate(
          `(() => { const v = ${VIDEO}; window.vvfSeeked = null;
            v.addEventListener('seeked', () => { window.vvfSeeked = v.currentTime; }, { once: true });
            v.currentTime = ${middle}; })()`,
        );
        await wait('window.vvfSeeked !== null');
        const landed = (await page.evaluate('window.vvfSeeked')) as number;
        assert.ok(Math.abs(landed - middle) <= GOP_SECONDS, `seeked to ${middle}, landed at ${landed}`);
        await wait(`${VIDEO}.currentTime > ${landed + 0.5} && !${VIDEO}.paused`);
        assert.equal(await page.evaluate(`${VIDEO}.videoWidth`), RENDITIONS[target].width, 'still the forced rendition');
        const middleSegment = Math.floor(middle / SEGMENT_SECONDS) + 1;
        assert.ok(
          segmentsOf(target, mark).includes(`/v/${id}/${target}/${middleSegment}.m4s`),
          `the segment at the middle (${target}/${middleSegment}.m4s) was asked for after the seek: ${segmentsOf(target, mark).join(' ')}`,
        );

        // And back, through the page's rendition menu (the page calls the same API).
        mark = arrivals.length;
        from = (await page.evaluate(`${VIDEO}.currentTime`)) as number;
        await page.locator('#rendition').selectOption(back);
        await wait(`${VIDEO}.videoWidth === ${RENDITIONS[back].width} && ${VIDEO}.currentTime > ${from + 0.5}`);
        assert.equal(await reported(), RENDITIONS[back].height, `${player.label} reports ${back}`);
        assert.ok(segmentsOf(back, mark).length > 0, `${back} segments requested after the second switch`);

        const all = await events();
        assert.deepEqual(
          all.filter((e) => e.type === 'error'),
          [],
          'no error event from the player or the <video>',
        );
        assert.deepEqual(pageErrors, [], 'no script error on the page');
        assert.ok(
          all.some((e) => e.type === 'resize' && e.detail === `${RENDITIONS[target].width}x${RENDITIONS[target].height}`),
        );
        assert.equal(await page.evaluate(`${VIDEO}.error`), null);
        await page.screenshot({ path: `/tmp/vvf-player-${name}.png`, fullPage: true });
      } finally {
        await page.close().catch(() => {});
      }
      const served = logs.slice(firstLog);
      assert.ok(!served.some((e) => e.level === 'error'), 'no internal error on the server');
      const failed = served.filter((e) => typeof e.path === 'string' && e.path.startsWith(`/v/${id}/`) && e.status !== 200);
      assert.deepEqual(
        failed.map((e) => [e.path, e.status]),
        [],
        'every part the player asked for was answered 200',
      );
    });
  }
});
