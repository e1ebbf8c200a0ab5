// docs/inspect.schema.json and docs/boxes.schema.json describe what `vvf inspect --json` and
// `vvf boxes --json` print: real output of the fixtures (files, manifests, a recipe) is checked
// against them with a small validator for the subset of JSON Schema the files use, so the
// documents cannot drift from the program.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { ensureFixtures } from '../../scripts/fixtures.js';
import { ensureHlsFixtures } from '../../scripts/hls-fixtures.js';
import { openMovie } from '../../src/demux/open-movie.js';
import { INSPECT_SCHEMA_VERSION, summarizeMovie } from '../../src/model/summary.js';

const run = promisify(execFile);

type Schema = { [keyword: string]: unknown };

/** The keywords this validator knows; a schema using any other is refused rather than half-checked. */
const KNOWN = new Set([
  '$schema',
  '$id',
  '$defs',
  '$ref',
  'title',
  'description',
  'type',
  'properties',
  'required',
  'additionalProperties',
  'items',
  'enum',
  'const',
  'minimum',
]);

function typeOf(v: unknown): string[] {
  if (v === null) return ['null'];
  if (Array.isArray(v)) return ['array'];
  if (typeof v === 'number') return Number.isInteger(v) ? ['integer', 'number'] : ['number'];
  return [typeof v];
}

/** Errors of `value` against `schema` (JSON Schema 2020-12, the keywords in KNOWN), as `path: problem`. */
export function validate(root: Schema, schema: Schema, value: unknown, path = '$', errors: string[] = []): string[] {
  for (const k of Object.keys(schema)) if (!KNOWN.has(k)) throw new Error(`schema keyword ${k} at ${path} is not supported`);
  if (typeof schema.$ref === 'string') {
    const m = /^#\/\$defs\/([\w-]+)$/.exec(schema.$ref);
    const target = m ? (root.$defs as Record<string, Schema> | undefined)?.[m[1] ?? ''] : undefined;
    if (!target) throw new Error(`unresolved $ref ${schema.$ref}`);
    validate(root, target, value, path, errors);
  }
  if (schema.type !== undefined) {
    const wanted = Array.isArray(schema.type) ? (schema.type as string[]) : [schema.type as string];
    if (!typeOf(value).some((t) => wanted.includes(t))) {
      errors.push(`${path}: ${JSON.stringify(value)?.slice(0, 40)} is not ${wanted.join(' or ')}`);
      return errors;
    }
  }
  if ('const' in schema && value !== schema.const) errors.push(`${path}: must be ${JSON.stringify(schema.const)}`);
  if (Array.isArray(schema.enum) && !schema.enum.includes(value))
    errors.push(`${path}: ${JSON.stringify(value)} not in ${JSON.stringify(schema.enum)}`);
  if (typeof schema.minimum === 'number' && typeof value === 'number' && value < schema.minimum)
    errors.push(`${path}: ${value} < ${schema.minimum}`);
  if (Array.isArray(value) && schema.items)
    value.forEach((v, i) => {
      validate(root, schema.items as Schema, v, `${path}[${i}]`, errors);
    });
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    const obj = value as Record<string, unknown>;
    const props = (schema.properties ?? {}) as Record<string, Schema>;
    for (const r of (schema.required ?? []) as string[]) if (!(r in obj)) errors.push(`${path}: missing ${r}`);
    for (const [k, v] of Object.entries(obj)) {
      const p = props[k];
      if (p) validate(root, p, v, `${path}.${k}`, errors);
      else if (schema.additionalProperties === false) errors.push(`${path}: ${k} is not in the schema`);
      else if (typeof schema.additionalProperties === 'object')
        validate(root, schema.additionalProperties as Schema, v, `${path}.${k}`, errors);
    }
  }
  return errors;
}

const schema = JSON.parse(readFileSync('docs/inspect.schema.json', 'utf8')) as Schema;

test('the validator catches what it should', () => {
  const s: Schema = {
    type: 'object',
    required: ['a'],
    additionalProperties: false,
    properties: { a: { type: 'integer', minimum: 1 }, b: { type: ['string', 'null'] }, c: { $ref: '#/$defs/k' } },
    $defs: { k: { enum: ['x', 'y'] } },
  };
  assert.deepEqual(validate(s, s, { a: 2, b: null, c: 'x' }), []);
  assert.deepEqual(validate(s, s, { a: 1.5 }), ['$.a: 1.5 is not integer']);
  assert.deepEqual(validate(s, s, { b: 3 }), ['$: missing a', '$.b: 3 is not string or null']);
  assert.deepEqual(validate(s, s, { a: 0, c: 'z', d: 1 }), [
    '$.a: 0 < 1',
    '$.c: "z" not in ["x","y"]',
    '$: d is not in the schema',
  ]);
  assert.throws(() => validate({ pattern: 'x' }, { pattern: 'x' }, 'a'), /not supported/);
});

test('inspect --json of every fixture, a manifest and a recipe matches docs/inspect.schema.json', async () => {
  const fixtures = await ensureFixtures();
  for (const f of fixtures) {
    const movie = await openMovie(f.input);
    try {
      const out = JSON.parse(JSON.stringify({ schemaVersion: INSPECT_SCHEMA_VERSION, ...summarizeMovie(movie) })) as unknown;
      assert.deepEqual(validate(schema, schema, out), [], f.name);
    } finally {
      await Promise.all(movie.sources.map((s) => s.close()));
    }
  }
  // Through the command itself: a file, a manifest, and a recipe (which adds `virtual`).
  const file = fixtures.find((f) => f.name === 'hevc-aac')!;
  const mpd = fixtures.find((f) => f.name === 'shaka-live')!;
  const dir = mkdtempSync(join(tmpdir(), 'vvf-schema-'));
  const recipe = join(dir, 'r.json');
  writeFileSync(recipe, JSON.stringify({ tracks: [{ source: file.input }] }));
  for (const input of [file.input, mpd.input, recipe]) {
    const { stdout } = await run(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'inspect', '--json', input], {
      maxBuffer: 64 << 20,
    });
    const out = JSON.parse(stdout) as { schemaVersion: number };
    assert.equal(out.schemaVersion, 1);
    if (input === recipe) assert.ok('virtual' in out, 'a recipe is inspected as the file it makes');
    assert.deepEqual(validate(schema, schema, out), [], input);
  }
});

test('inspect --json of HLS playlists (renditions, a discontinuity) matches docs/inspect.schema.json', async () => {
  const hls = await ensureHlsFixtures();
  for (const input of [hls.master, hls.joined]) {
    const { stdout } = await run(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'inspect', '--json', input], {
      maxBuffer: 64 << 20,
    });
    const out = JSON.parse(stdout) as { tracks: { representationId?: string }[] };
    assert.deepEqual(validate(schema, schema, out), [], input);
    if (input === hls.master) {
      assert.deepEqual(
        out.tracks.map((t) => t.representationId),
        ['high', 'low', 'audio'],
      );
    }
  }
});

test('boxes --json of progressive and fragmented files matches docs/boxes.schema.json', async () => {
  const boxesSchema = JSON.parse(readFileSync('docs/boxes.schema.json', 'utf8')) as Schema;
  const fixtures = await ensureFixtures();
  for (const name of ['h264-aac-moov-last', 'vp9-opus', 'frag-multi-moof']) {
    const f = fixtures.find((x) => x.name === name)!;
    const { stdout } = await run(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'boxes', '--json', f.input], {
      maxBuffer: 64 << 20,
    });
    assert.deepEqual(validate(boxesSchema, boxesSchema, JSON.parse(stdout)), [], name);
  }
});
