// What vvf refuses, and the limits that bound what an input may make it hold.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { promisify } from 'node:util';
import { ensureFixtures } from '../../scripts/fixtures.js';
import { openMovie } from '../../src/demux/open-movie.js';
import { VvfError } from '../../src/errors.js';
import { MemorySource } from '../../src/sources/memory-source.js';

const run = promisify(execFile);
const PACKAGER = join(process.cwd(), 'node_modules/shaka-packager/bin/packager-linux-x64');

async function fixture(name: string) {
  const f = (await ensureFixtures()).find((x) => x.name === name);
  assert.ok(f, `fixture ${name}`);
  return f;
}

function rejectsWith(code: string, pattern?: RegExp) {
  return (e: unknown) => {
    assert.ok(e instanceof VvfError, `a VvfError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    if (pattern) assert.match(e.message, pattern);
    return true;
  };
}

/** A box from its type and payload parts. */
function box(type: string, ...parts: (Uint8Array | number[])[]): Uint8Array {
  const payload = Buffer.concat(parts.map((p) => Buffer.from(p instanceof Uint8Array ? p : Uint8Array.from(p))));
  const head = Buffer.alloc(8);
  head.writeUInt32BE(payload.length + 8, 0);
  head.write(type, 4, 'latin1');
  return new Uint8Array(Buffer.concat([head, payload]));
}
const u32 = (v: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(v >>> 0);
  return [...b];
};

async function openBytes(bytes: Uint8Array) {
  return openMovie('mem.mp4', { openSource: async () => new MemorySource(bytes, 'mem.mp4') });
}

describe('refused input', () => {
  test('encrypted samples are refused, not misread', async () => {
    const f = await fixture('h264-aac-faststart');
    const dir = mkdtempSync(join(tmpdir(), 'vvf-enc-'));
    const out = join(dir, 'enc.mp4');
    await run(PACKAGER, [
      `in=${f.input},stream=video,output=${out}`,
      '--enable_raw_key_encryption',
      '--keys',
      'label=:key_id=00112233445566778899aabbccddeeff:key=ffeeddccbbaa99887766554433221100',
      '--protection_scheme',
      'cbcs',
      '--quiet',
    ]);
    await assert.rejects(openMovie(out), rejectsWith('UNSUPPORTED', /encrypted/));
  });

  test('a box larger than its file', async () => {
    const ftyp = box('ftyp', [...Buffer.from('isom')], u32(0));
    const bad = new Uint8Array([...ftyp, ...u32(1_000_000), ...Buffer.from('moov')]);
    await assert.rejects(openBytes(bad), rejectsWith('BOX_OVERRUN', /offset 16/));
  });

  test('a 64-bit size past the file', async () => {
    const bad = new Uint8Array([...u32(1), ...Buffer.from('moov'), ...u32(0x10), ...u32(0), ...new Array(16).fill(0)]);
    await assert.rejects(openBytes(bad), rejectsWith('BOX_OVERRUN'));
  });

  test('a child that overruns its parent', async () => {
    const inner = new Uint8Array([...u32(500), ...Buffer.from('trak'), ...new Array(8).fill(0)]);
    const moov = box('moov', inner);
    await assert.rejects(openBytes(moov), rejectsWith('BOX_OVERRUN', /moov/));
  });

  test('a count claiming more entries than its box holds', async () => {
    // stts claiming 2^30 entries in 8 bytes.
    const stts = box('stts', [0, 0, 0, 0], u32(0x40000000), u32(1), u32(1));
    const moov = box('moov', box('trak', box('mdia', box('minf', box('stbl', stts)))));
    await assert.rejects(openBytes(moov), rejectsWith('BOX_OVERRUN', /stts/));
  });

  test('nesting deeper than the limit', async () => {
    let b = box('free');
    for (let i = 0; i < 40; i++) b = box('trak', b);
    await assert.rejects(openBytes(box('moov', b)), rejectsWith('STRUCTURE_LIMIT'));
  });

  test('not an MP4 at all', async () => {
    await assert.rejects(
      openBytes(new Uint8Array([0x89, 0x50, 0x4e, 0x47, 1, 2, 3, 4, 5, 6, 7, 8])),
      (e: unknown) => e instanceof VvfError,
    );
  });
});

describe('limits', () => {
  test('samples per track', async () => {
    const f = await fixture('h264-aac-faststart');
    await assert.rejects(openMovie(f.input, { limits: { maxSamplesPerTrack: 10 } }), rejectsWith('SAMPLE_LIMIT'));
  });
  test('metadata bytes', async () => {
    const f = await fixture('frag-plain');
    await assert.rejects(openMovie(f.input, { limits: { maxMetadataBytes: 2000 } }), rejectsWith('METADATA_LIMIT'));
  });
  test('fragments', async () => {
    const f = await fixture('frag-multi-moof');
    await assert.rejects(openMovie(f.input, { limits: { maxFragments: 2 } }), rejectsWith('STRUCTURE_LIMIT', /fragments/));
  });
  test('tracks', async () => {
    const f = await fixture('h264-aac-faststart');
    await assert.rejects(openMovie(f.input, { limits: { maxTracks: 1 } }), rejectsWith('STRUCTURE_LIMIT', /tracks/));
  });
  test('segments', async () => {
    const f = await fixture('dash-template-number');
    await assert.rejects(openMovie(f.input, { limits: { maxSegments: 2 } }), rejectsWith('STRUCTURE_LIMIT'));
  });
  test('within limits the same input opens', async () => {
    const f = await fixture('frag-multi-moof');
    const m = await openMovie(f.input, { limits: { maxFragments: 1000, maxSamplesPerTrack: 10_000 } });
    assert.ok(m.tracks.length === 2);
    await Promise.all(m.sources.map((s) => s.close()));
  });
});
