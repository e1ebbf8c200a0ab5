import assert from 'node:assert/strict';
import { test } from 'node:test';
import { VvfError } from '../../src/errors.js';
import { presentationTime, SampleTableBuilder } from '../../src/model/sample-table.js';

test('columns grow past their capacity and keep what was written', () => {
  const b = new SampleTableBuilder(1_000_000, {}, 16);
  for (let run = 0; run < 100; run++) {
    const first = b.reserve(37);
    for (let i = 0; i < 37; i++) {
      const n = first + i;
      b.offset[n] = n * 1000 + 2 ** 40;
      b.size[n] = n;
      b.decodeTime[n] = n * 512;
      b.compositionOffset[n] = -n;
      b.duration[n] = 512;
      b.sync[n] = n % 10 === 0 ? 1 : 0;
      b.descriptionIndex[n] = 1 + (n % 2);
      b.sourceIndex[n] = run;
    }
    if (run === 50) b.withDependency()[first] = 0x24;
  }
  const t = b.finish();
  assert.equal(t.count, 3700);
  assert.equal(t.size.length, 3700);
  for (const n of [0, 15, 16, 17, 1023, 1024, 3699]) {
    assert.equal(t.offset[n], n * 1000 + 2 ** 40);
    assert.equal(t.size[n], n);
    assert.equal(presentationTime(t, n), n * 512 - n);
    assert.equal(t.sync[n], n % 10 === 0 ? 1 : 0);
    assert.equal(t.sourceIndex[n], Math.floor(n / 37));
  }
  assert.ok(t.dependency);
  assert.equal(t.dependency[50 * 37], 0x24);
  assert.equal(t.dependency[0], 0);
});

test('more samples than the limit is a SAMPLE_LIMIT error', () => {
  const b = new SampleTableBuilder(100, { path: 'moov/trak' });
  b.reserve(60);
  assert.throws(
    () => b.reserve(41),
    (e: unknown) => e instanceof VvfError && e.code === 'SAMPLE_LIMIT' && e.path === 'moov/trak',
  );
  assert.equal(b.count, 60);
});

test('expect() sizes the columns once; finish() then returns views, or right-sized copies when much is spare', () => {
  const b = new SampleTableBuilder(1_000_000, {}, 16);
  b.expect(1000);
  const offsets = b.offset;
  for (let run = 0; run < 10; run++) {
    const first = b.reserve(98);
    for (let i = 0; i < 98; i++) b.size[first + i] = first + i;
  }
  assert.equal(b.offset, offsets, 'no column was reallocated');
  const t = b.finish();
  assert.equal(t.count, 980);
  assert.equal(t.size.length, 980);
  assert.equal(t.size.buffer.byteLength, 1000 * 4, 'a view of the expected capacity');
  assert.equal(t.size[979], 979);

  const loose = new SampleTableBuilder(1_000_000, {}, 16);
  loose.expect(1000);
  loose.reserve(500);
  assert.equal(loose.finish().size.buffer.byteLength, 500 * 4, 'copied: half was spare');
  // expect() never goes past the limit.
  const capped = new SampleTableBuilder(100, {}, 16);
  capped.expect(1e9);
  assert.equal(capped.offset.length, 100);
});
