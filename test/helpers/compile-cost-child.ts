// Run as a child process by cost tests: compiles a recipe (or opens a movie) once and prints
// what it cost — wall time, CPU time, peak RSS — and how it ended, as one JSON line.
import { readFileSync } from 'node:fs';
import { parseRecipe } from '../../src/compose/recipe.js';
import { openMovie } from '../../src/demux/open-movie.js';
import type { Limits } from '../../src/limits.js';
import { openSource } from '../../src/sources/open-source.js';
import { compileRecipe } from '../../src/virtual/compile.js';

const [kind, input, limitsJson] = process.argv.slice(2);
const limits = JSON.parse(limitsJson ?? '{}') as Partial<Limits>;
let opens = 0;
const open = (spec: string) => {
  opens++;
  return openSource(spec);
};
const cpu = process.cpuUsage();
const started = performance.now();
let code = 'OK';
try {
  if (kind === 'recipe') {
    const compiled = await compileRecipe(parseRecipe(JSON.parse(readFileSync(input!, 'utf8'))), { limits, openSource: open });
    await compiled.close();
  } else {
    const movie = await openMovie(input!, { limits, openSource: open });
    await Promise.all(movie.sources.map((s) => s.close()));
  }
} catch (e) {
  code = (e as { code?: string }).code ?? String(e);
}
const used = process.cpuUsage(cpu);
process.stdout.write(
  `${JSON.stringify({
    code,
    opens,
    ms: performance.now() - started,
    cpuMs: (used.user + used.system) / 1000,
    maxRssKb: process.resourceUsage().maxRSS,
  })}\n`,
);
