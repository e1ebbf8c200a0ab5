// Every metadata box of every fixture file, parsed and written back, equals its input bytes.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ensureFixtures } from '../../scripts/fixtures.js';
import { scanMp4 } from '../../src/demux/mp4-scan.js';
import { encodeNodes } from '../../src/isobmff/tree.js';
import { resolveLimits } from '../../src/limits.js';
import { FileSource } from '../../src/sources/file-source.js';
import { fixtureMediaFiles } from '../helpers/fixture-files.js';

describe('boxes written back equal their input bytes', async () => {
  for (const fixture of await ensureFixtures()) {
    test(fixture.name, async () => {
      let checked = 0;
      const types = new Set<string>();
      for (const file of fixtureMediaFiles(fixture)) {
        const source = await FileSource.open(file);
        try {
          const scan = await scanMp4(source, resolveLimits(), { metadataBytes: 0 }, {}, undefined, 'all');
          for (const box of scan.boxes) {
            if (!box.nodes) continue;
            const original = await source.read(box.start, box.size);
            const written = encodeNodes(box.nodes);
            assert.equal(written.length, original.length, `${file}: ${box.type} at ${box.start} size`);
            assert.ok(Buffer.from(written).equals(Buffer.from(original)), `${file}: ${box.type} at ${box.start} bytes differ`);
            checked++;
            types.add(box.type);
          }
        } finally {
          await source.close();
        }
      }
      assert.ok(checked > 0, 'some metadata boxes were checked');
      assert.ok(types.has('moov') || fixture.layout === 'segmented', 'moov was among them');
    });
  }
});
