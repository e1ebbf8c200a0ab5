// The one-way layers of DESIGN.md, checked on every import in src/: a lower layer never
// imports a higher one, and faces never import each other. The CLI is the process's entry
// point: its `serve`, `mount`, `encode` and `worker` verbs start the other faces, and only they may reach them.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import test from 'node:test';

const SRC = resolve(import.meta.dirname, '../src');

/** Rank of each layer: imports go to the same or a lower rank. Faces share the top rank. */
const RANK: Record<string, number> = {
  errors: 0,
  limits: 0,
  native: 0,
  sources: 1,
  isobmff: 2,
  model: 3,
  demux: 4,
  compose: 5,
  virtual: 6,
  store: 7,
  catalog: 8,
  server: 9,
  fuse: 9,
  cli: 9,
  encode: 9,
};
const FACES = new Set(['server', 'fuse', 'cli', 'encode']);
/** Modules that start another face, and which faces they may start. */
const LAUNCHERS: Record<string, readonly string[]> = {
  'cli/commands/serve.ts': ['server', 'fuse'],
  'cli/commands/mount.ts': ['fuse'],
  'cli/commands/encode.ts': ['server', 'encode'],
  'cli/commands/worker.ts': ['encode'],
};

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
  });
}

/** `errors` for src/errors.ts, `server` for src/server/app.ts. */
function layerOf(file: string): string {
  const rel = relative(SRC, file).split('/');
  return rel.length === 1 ? rel[0]!.replace(/\.ts$/, '') : rel[0]!;
}

function imports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specs = [...text.matchAll(/(?:^|\n)\s*(?:import|export)[^'";]*?from\s*'([^']+)'/g)].map((m) => m[1]!);
  const dynamic = [...text.matchAll(/import\(\s*'([^']+)'\s*\)/g)].map((m) => m[1]!);
  return [...specs, ...dynamic].filter((s) => s.startsWith('.'));
}

test('every import in src/ goes down the layers or stays in its layer; faces do not import each other', () => {
  const wrong: string[] = [];
  let checked = 0;
  for (const file of files(SRC)) {
    const rel = relative(SRC, file);
    if (rel === 'index.ts') continue; // the public API re-exports every layer
    const from = layerOf(file);
    assert.ok(from in RANK, `${rel}: layer "${from}" has no rank in this test`);
    for (const spec of imports(file)) {
      const target = resolve(dirname(file), spec).replace(/\.js$/, '.ts');
      if (!target.startsWith(SRC)) continue;
      const to = layerOf(target);
      checked++;
      if (to === from) continue;
      assert.ok(to in RANK, `${rel} imports ${spec}: layer "${to}" has no rank in this test`);
      const launched = LAUNCHERS[rel]?.includes(to) ?? false;
      if (RANK[to]! > RANK[from]! || (FACES.has(from) && FACES.has(to) && !launched)) wrong.push(`${rel} imports ${spec}`);
    }
  }
  assert.ok(checked > 100, `checked only ${checked} imports`);
  assert.deepEqual(wrong, []);
});

test('the check sees a wrong import', () => {
  // The same rules on made-up paths, so the test above cannot pass by reading nothing.
  const bad = (from: string, to: string) => RANK[to]! > RANK[from]! || (FACES.has(from) && FACES.has(to) && from !== to);
  assert.equal(bad('virtual', 'catalog'), true);
  assert.equal(bad('fuse', 'server'), true);
  assert.equal(bad('catalog', 'virtual'), false);
});
