// Printed recipes resolve the same wherever they are saved (vvf issue 11, F.13): once
// `compose --print-recipe` printed sources as typed (relative to the working directory),
// while a recipe file's relative paths are read relative to the file: saved in another
// folder, it failed with SOURCE_UNREACHABLE.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { ensureFixtures } from '../../scripts/fixtures.js';

const TSX = pathToFileURL(resolve('node_modules/tsx/dist/loader.mjs')).href;
const MAIN = resolve('src/cli/main.ts');

/** vvf run from the folder `cwd`. */
function vvfIn(cwd: string, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(process.execPath, ['--import', TSX, MAIN, ...args], { cwd }, (e, stdout, stderr) =>
      done({ code: e ? Number((e as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

test('a printed recipe saved in another folder, run from a third, makes the same file', async () => {
  const f = (await ensureFixtures()).find((x) => x.name === 'h264-aac-faststart');
  assert.ok(f);
  const root = mkdtempSync(join(tmpdir(), 'vvf-recipe-'));
  const work = join(root, 'work');
  const saved = join(root, 'recipes', 'saved');
  const other = join(root, 'other');
  for (const d of [join(work, 'media'), saved, other]) mkdirSync(d, { recursive: true });
  copyFileSync(f.input, join(work, 'media', 'talk.mp4'));

  // Typed relative to the working directory.
  const direct = await vvfIn(work, 'compose', '--input', 'media/talk.mp4', '--clip', '1-3', '-o', 'direct.mp4');
  assert.equal(direct.code, 0, direct.stderr);
  const printed = await vvfIn(work, 'compose', '--input', 'media/talk.mp4', '--clip', '1-3', '--print-recipe');
  assert.equal(printed.code, 0, printed.stderr);
  const recipe = JSON.parse(printed.stdout) as { pieces: { tracks: { source: string }[] }[] };
  const source = recipe.pieces[0]!.tracks[0]!.source;
  assert.ok(isAbsolute(source), source);
  assert.equal(source, join(work, 'media', 'talk.mp4'));

  writeFileSync(join(saved, 'clip.json'), printed.stdout);
  const remuxed = await vvfIn(other, 'remux', join(saved, 'clip.json'), '-o', 'again.mp4');
  assert.equal(remuxed.code, 0, remuxed.stderr);
  assert.ok(readFileSync(join(other, 'again.mp4')).equals(readFileSync(join(work, 'direct.mp4'))));

  // split --print-recipes: each line is a recipe that works saved anywhere.
  const chunks = await vvfIn(work, 'split', 'media/talk.mp4', '--every', '2', '--print-recipes');
  assert.equal(chunks.code, 0, chunks.stderr);
  const lines = chunks.stdout.trim().split('\n');
  assert.ok(lines.length > 1);
  writeFileSync(join(saved, 'chunk-1.json'), lines[1]!);
  const chunk = await vvfIn(other, 'remux', join(saved, 'chunk-1.json'), '-o', 'chunk-1.mp4');
  assert.equal(chunk.code, 0, chunk.stderr);

  // A URL stays a URL.
  const url = await vvfIn(work, 'compose', '--input', 'https://media.example/talk.mp4', '--print-recipe');
  assert.equal(url.code, 0, url.stderr);
  assert.match(url.stdout, /"source": "https:\/\/media\.example\/talk\.mp4"/);
});
