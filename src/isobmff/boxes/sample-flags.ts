// Sample flags: the 32-bit word of trex, tfhd and trun (ISO/IEC 14496-12 8.8.3.1).
//
// Layout, high bit first: reserved(4) is_leading(2) sample_depends_on(2)
// sample_is_depended_on(2) sample_has_redundancy(2) sample_padding_value(3)
// sample_is_non_sync_sample(1) sample_degradation_priority(16).

/** The sample_is_non_sync_sample bit. */
export const SAMPLE_IS_NON_SYNC = 0x0001_0000;

/** Flags of a sync sample that depends on no other sample (depends_on = 2). */
export const SYNC_SAMPLE_FLAGS = 0x0200_0000;

/** Flags of a non-sync sample that depends on others (depends_on = 1, non-sync bit set). */
export const NON_SYNC_SAMPLE_FLAGS = 0x0101_0000;

/** True when the sample is not a sync sample (not a random access point). */
export function isNonSync(flags: number): boolean {
  return (flags & SAMPLE_IS_NON_SYNC) !== 0;
}

/** is_leading: 0 unknown, 1 leading with a dependency before the sync sample, 2 not leading, 3 leading without one. */
export function isLeading(flags: number): number {
  return (flags >>> 26) & 3;
}

/** sample_depends_on: 0 unknown, 1 depends on others (not an I picture), 2 does not, 3 reserved. */
export function dependsOn(flags: number): number {
  return (flags >>> 24) & 3;
}

/** sample_is_depended_on: 0 unknown, 1 others depend on it, 2 disposable, 3 reserved. */
export function isDependedOn(flags: number): number {
  return (flags >>> 22) & 3;
}

/** sample_has_redundancy: 0 unknown, 1 has redundant coding, 2 has none. */
export function hasRedundancy(flags: number): number {
  return (flags >>> 20) & 3;
}

/** sample_padding_value (3 bits). */
export function paddingValue(flags: number): number {
  return (flags >>> 17) & 7;
}

/** sample_degradation_priority (16 bits). */
export function degradationPriority(flags: number): number {
  return flags & 0xffff;
}

/** Fields of a sample flags word; missing fields are 0. */
export interface SampleFlagFields {
  isLeading?: number;
  dependsOn?: number;
  isDependedOn?: number;
  hasRedundancy?: number;
  paddingValue?: number;
  nonSync?: boolean;
  degradationPriority?: number;
}

/** Builds a sample flags word (as an unsigned 32-bit number). */
export function makeSampleFlags(f: SampleFlagFields): number {
  // Multiplication and addition, not shifts, so the result stays unsigned.
  return (
    ((f.isLeading ?? 0) & 3) * 0x400_0000 +
    ((f.dependsOn ?? 0) & 3) * 0x100_0000 +
    ((f.isDependedOn ?? 0) & 3) * 0x40_0000 +
    ((f.hasRedundancy ?? 0) & 3) * 0x10_0000 +
    ((f.paddingValue ?? 0) & 7) * 0x2_0000 +
    (f.nonSync ? SAMPLE_IS_NON_SYNC : 0) +
    ((f.degradationPriority ?? 0) & 0xffff)
  );
}
