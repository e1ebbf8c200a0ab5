// A real browser against vvf serve: Debian's Chromium (driven by playwright-core) opens the index
// page, plays a progressive file made from a DASH presentation, and seeks to its middle.
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { ensureFixtures } from '../../scripts/fixtures.js';
import { startServer } from '../../src/server/app.js';
import { defaultServeConfig } from '../../src/server/config.js';
import { CHROMIUM, type ChromiumContext, launchChromium, WAIT_MS } from '../helpers/chromium.js';

const SCREENSHOT = '/tmp/vvf-page.png';
/**
 * The 4-second 720p DASH fixture played this many times over, one progressive file of about
 * 53 MB: its middle lies well past what Chromium buffers ahead after a second of play
 * (about 8 MB, 20 MB at most seen in flight), so the seek has to ask for it.
 */
const PIECES = 16;

test('Chromium plays the progressive file from the index page and seeks to its middle with range requests', {
  timeout: 60_000,
}, async () => {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: \`make system-deps\` installs Debian's chromium`);
  const fixture = (await ensureFixtures()).find((f) => f.name === 'dash-high-bitrate');
  assert.ok(fixture, 'fixture dash-high-bitrate');
  const root = mkdtempSync(join(tmpdir(), 'vvf-chromium-'));
  const profile = mkdtempSync(join(tmpdir(), 'vvf-chromium-profile-'));
  cpSync(dirname(fixture.input), join(root, 'dash'), { recursive: true });
  const logs: Record<string, unknown>[] = [];
  // Chromium's HTTP cache would otherwise keep (and answer ranges from) a response it read on
  // past what the player asked for; without it every byte played is a request the server sees.
  const config = { ...defaultServeConfig, port: 0, roots: [root], cacheControl: 'no-store' };
  const server = await startServer(config, { log: (e) => logs.push(e) });
  // Requests as they arrive (the log has them only once answered or cut).
  const arrivals: { path: string; range: string | undefined }[] = [];
  server.server.on('request', (req: IncomingMessage) => arrivals.push({ path: req.url ?? '', range: req.headers.range }));
  let context: ChromiumContext | undefined;
  try {
    const recipe = { pieces: Array.from({ length: PIECES }, () => ({ tracks: ['dash/manifest.mpd'] })) };
    const posted = await fetch(`${server.url}/v`, { method: 'POST', body: JSON.stringify(recipe) });
    assert.equal(posted.status, 201);
    const { id, size } = (await posted.json()) as { id: string; size: number };
    const path = `/v/${id}.mp4`;

    const index = await fetch(`${server.url}/`);
    assert.equal(index.status, 200);
    assert.equal(index.headers.get('content-type'), 'text/html; charset=utf-8');
    const html = await index.text();
    assert.ok(html.includes(`src="${path}"`), 'the page has a <video> source for the file');
    assert.ok(!html.includes(root), 'the page shows no absolute server path');

    context = await launchChromium(profile);
    const page = context.pages()[0] ?? (await context.newPage());
    page.setDefaultTimeout(WAIT_MS);
    const browserRanges: string[] = [];
    page.on('request', (r) => {
      const range = r.headers().range;
      if (r.url().endsWith(path) && range) browserRanges.push(range);
    });
    await page.goto(`${server.url}/`, { waitUntil: 'load' });

    // The page: the file's section, its tracks and codecs, a byte map with a header run and source runs.
    const section = page.locator(`section[data-id="${id}"]`);
    assert.equal(await section.count(), 1);
    const tracksText = (await section.locator('table.tracks td').allTextContents()).join(' ');
    assert.match(tracksText, /video\s+avc1\.[0-9a-f]{6}\s+1280×720/);
    assert.match(tracksText, /audio\s+mp4a\.40\.2\s+48000 Hz/);
    assert.equal(await section.locator('svg rect[data-kind="header"]').count(), 1, 'the header is on the map');
    assert.ok((await section.locator('svg rect[data-kind^="source-"]').count()) >= PIECES, 'source runs are on the map');
    // Page scripts are strings: the project's TypeScript has no DOM types.
    const video = `document.querySelector(${JSON.stringify(`section[data-id="${id}"] video`)})`;
    assert.equal(await page.evaluate(`${video}.canPlayType(${video}.dataset.type)`), 'probably', 'Chromium plays H.264 + AAC');

    // Play from the start, muted so that no user gesture is needed.
    await page.evaluate(`${video}.play()`);
    await page.waitForFunction(`${video}.currentTime > 1 && ${video}.videoWidth > 0`, undefined, { timeout: WAIT_MS });
    const playing = (await page.evaluate(
      `(() => { const v = ${video}; return { width: v.videoWidth, height: v.videoHeight, duration: v.duration, error: v.error && v.error.message }; })()`,
    )) as { width: number; height: number; duration: number; error: string | null };
    assert.equal(playing.error, null);
    assert.equal(playing.width, 1280);
    assert.equal(playing.height, 720);
    assert.ok(Math.abs(playing.duration - 4 * PIECES) < 0.2, `duration ${playing.duration}`);
    const beforeSeek = arrivals.length;
    assert.ok(
      arrivals.some((a) => a.path === path && a.range !== undefined),
      'playback started with a range request',
    );

    // Seek to the middle: it lands there and playback goes on past it.
    const middle = playing.duration / 2;
    await page.evaluate(
      `(() => { const v = ${video}; window.vvfSeeked = null; v.addEventListener('seeked', () => { window.vvfSeeked = v.currentTime; }, { once: true }); v.currentTime = ${middle}; })()`,
    );
    await page.waitForFunction('window.vvfSeeked !== null', undefined, { timeout: WAIT_MS });
    const landed = (await page.evaluate('window.vvfSeeked')) as number;
    assert.ok(Math.abs(landed - middle) < 0.1, `seeked to ${middle}, landed at ${landed}`);
    await page.waitForFunction(`${video}.currentTime > ${middle + 0.5} && !${video}.paused`, undefined, { timeout: WAIT_MS });
    assert.equal(await page.evaluate(`${video}.error`), null);

    await page.screenshot({ path: SCREENSHOT, fullPage: true });

    // The seek asked the server for bytes from about the middle of the file.
    const seekRanges = arrivals
      .slice(beforeSeek)
      .filter((a) => a.path === path && a.range !== undefined)
      .map((a) => a.range!);
    const starts = seekRanges.map((r) => Number(/^bytes=(\d+)-/.exec(r)?.[1] ?? Number.NaN));
    assert.ok(
      starts.some((s) => s > size / 4 && s < (size * 3) / 4),
      `range requests after the seek: ${JSON.stringify(seekRanges)}, file of ${size} bytes`,
    );
    assert.ok(browserRanges.length >= 2, `the page made range requests: ${JSON.stringify(browserRanges)}`);
    // Every range request answered in full got a 206 (the player cuts the others short on purpose).
    const answered = logs.filter((e) => e.path === path && typeof e.range === 'string' && e.msg === 'request');
    assert.ok(
      answered.every((e) => e.status === 206),
      JSON.stringify(answered.map((e) => [e.range, e.status])),
    );
    assert.ok(!logs.some((e) => e.level === 'error'), 'no internal error');
  } finally {
    await context?.close().catch(() => {});
    await server.close();
    rmSync(profile, { recursive: true, force: true });
    rmSync(root, { recursive: true, force: true });
  }
});
