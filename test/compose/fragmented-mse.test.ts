// What a browser sees of the fragmented layout's edit list: Chromium's MSE parser applies the
// init segment's first edit, so H.264 with B-frames and AAC with priming both buffer from 0,
// through init + segments and through the single file (sidx first).
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ensureFixtures } from '../../scripts/fixtures.js';
import { FragmentedPresentation } from '../../src/compose/fragmented.js';
import { parseRecipe } from '../../src/compose/recipe.js';
import { openSource } from '../../src/sources/open-source.js';
import { compileRecipe, resolverFor, virtualFileFromLayout } from '../../src/virtual/compile.js';
import { type ChromiumContext, hasChromium, launchChromium, WAIT_MS } from '../helpers/chromium.js';

/** Runs in the page (a string: the library's TypeScript has no DOM types). */
const APPEND_IN_PAGE = `async ({ data, mime, wait }) => {
  if (!MediaSource.isTypeSupported(mime)) return 'unsupported ' + mime;
  const ms = new MediaSource();
  const video = document.createElement('video');
  video.src = URL.createObjectURL(ms);
  await new Promise((r) => ms.addEventListener('sourceopen', r, { once: true }));
  const sb = ms.addSourceBuffer(mime);
  const failed = await new Promise((r) => {
    sb.addEventListener('updateend', () => r(undefined), { once: true });
    sb.addEventListener('error', () => r('SourceBuffer error ' + (video.error ? video.error.message : '')), { once: true });
    setTimeout(() => r('timed out'), wait);
    sb.appendBuffer(Uint8Array.from(atob(data), (c) => c.charCodeAt(0)));
  });
  if (failed) return failed;
  const out = [];
  for (let i = 0; i < sb.buffered.length; i++) out.push([sb.buffered.start(i), sb.buffered.end(i)]);
  return out;
}`;

/** Appends the bytes to a SourceBuffer of `mime` in a blank page; returns the buffered ranges or why not. */
async function buffered(ctx: ChromiumContext, bytes: Uint8Array, mime: string): Promise<[number, number][] | string> {
  const page = await ctx.newPage();
  try {
    await page.goto('about:blank');
    const args = JSON.stringify({ data: Buffer.from(bytes).toString('base64'), mime, wait: WAIT_MS });
    return (await page.evaluate(`(${APPEND_IN_PAGE})(${args})`)) as [number, number][] | string;
  } finally {
    await page.close();
  }
}

describe('Chromium MSE applies the init segment edit list', { skip: !hasChromium() && 'no chromium' }, () => {
  let ctx: ChromiumContext;
  before(async () => {
    ctx = await launchChromium(mkdtempSync(join(tmpdir(), 'vvf-mse-')));
  });
  after(async () => {
    await ctx?.close();
  });

  for (const name of ['h264-aac-faststart', 'frag-negative-cts']) {
    test(name, async () => {
      const f = (await ensureFixtures()).find((x) => x.name === name)!;
      const compiled = await compileRecipe(parseRecipe({ tracks: [{ source: f.input }] }));
      try {
        const c = compiled.composition;
        const resolve = resolverFor(c.sources, openSource);
        const p = new FragmentedPresentation(c, (l) => virtualFileFromLayout(l, c.sources, resolve), { segmentSeconds: 2 });
        for (const ft of p.tracks) {
          const kind = ft.track.template.kind;
          const mime = `${kind}/mp4; codecs="${ft.track.descriptions[0]!.codec}"`;
          const parts: Uint8Array[] = [];
          for (const file of [ft.initFile(), ...Array.from({ length: ft.segmentCount }, (_, i) => ft.segmentFile(i))])
            parts.push(await file.read(0, file.size));
          const single = ft.singleFile();
          for (const [form, bytes] of [
            ['segments', Buffer.concat(parts)],
            ['single file', await single.read(0, single.size)],
          ] as const) {
            const got = await buffered(ctx, bytes, mime);
            assert.ok(Array.isArray(got), `${kind} ${form}: ${String(got)}`);
            assert.equal(got.length, 1, `${kind} ${form}: one buffered range, got ${JSON.stringify(got)}`);
            // Presentation starts at 0 with the first edit applied; without it, B-frames start at 0.08 s.
            assert.ok(Math.abs(got[0]![0]) < 0.001, `${kind} ${form} starts at ${got[0]![0]}`);
            assert.ok(Math.abs(got[0]![1] - 5) < 0.05, `${kind} ${form} ends at ${got[0]![1]}`);
          }
        }
      } finally {
        await compiled.close();
      }
    });
  }
});
