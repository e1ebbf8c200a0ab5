import { performance } from 'node:perf_hooks';
import { parseRecipe } from '../src/compose/recipe.js';
import { compileRecipe } from '../src/virtual/compile.js';
const m = '/work/main/.cache/bench/dash/manifest.mpd';
const recipe = parseRecipe({ tracks: [{ source: m, kind: 'video' }, { source: m, kind: 'audio' }] });
for (let i = 0; i < Number(process.argv[2] ?? 1); i++) {
  const t0 = performance.now();
  const { file: f } = await compileRecipe(recipe);
  const h = await f.read(0, 65536);
  console.log('first 64k', (performance.now() - t0).toFixed(1), 'ms', h.length, f.size);
}
