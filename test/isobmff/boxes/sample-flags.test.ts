import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  degradationPriority,
  dependsOn,
  hasRedundancy,
  isDependedOn,
  isLeading,
  isNonSync,
  makeSampleFlags,
  NON_SYNC_SAMPLE_FLAGS,
  paddingValue,
  SYNC_SAMPLE_FLAGS,
} from '../../../src/isobmff/boxes/sample-flags.js';

test('isNonSync reads bit 0x00010000', () => {
  assert.equal(isNonSync(0x01010000), true);
  assert.equal(isNonSync(0x02000000), false);
  assert.equal(isNonSync(0x00010000), true);
  assert.equal(isNonSync(0xfffeffff), false);
  assert.equal(isNonSync(NON_SYNC_SAMPLE_FLAGS), true);
  assert.equal(isNonSync(SYNC_SAMPLE_FLAGS), false);
});

test('each field is read from its bits', () => {
  // reserved 0, is_leading 3, depends_on 2, is_depended_on 1, redundancy 2, padding 5, non-sync 1, priority 0xbeef
  const f = (3 << 26) | (2 << 24) | (1 << 22) | (2 << 20) | (5 << 17) | (1 << 16) | 0xbeef;
  assert.equal(isLeading(f), 3);
  assert.equal(dependsOn(f), 2);
  assert.equal(isDependedOn(f), 1);
  assert.equal(hasRedundancy(f), 2);
  assert.equal(paddingValue(f), 5);
  assert.equal(isNonSync(f), true);
  assert.equal(degradationPriority(f), 0xbeef);
  assert.equal(dependsOn(SYNC_SAMPLE_FLAGS), 2);
  assert.equal(dependsOn(NON_SYNC_SAMPLE_FLAGS), 1);
});

test('makeSampleFlags builds the same word, unsigned', () => {
  const f = makeSampleFlags({
    isLeading: 3,
    dependsOn: 2,
    isDependedOn: 1,
    hasRedundancy: 2,
    paddingValue: 5,
    nonSync: true,
    degradationPriority: 0xbeef,
  });
  assert.equal(f, ((3 << 26) | (2 << 24) | (1 << 22) | (2 << 20) | (5 << 17) | (1 << 16) | 0xbeef) >>> 0);
  assert.equal(makeSampleFlags({ dependsOn: 2 }), SYNC_SAMPLE_FLAGS);
  assert.equal(makeSampleFlags({ dependsOn: 1, nonSync: true }), NON_SYNC_SAMPLE_FLAGS);
  assert.equal(makeSampleFlags({}), 0);
});
