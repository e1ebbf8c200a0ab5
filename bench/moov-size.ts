// Finds the moov box among the top-level boxes at the start of a progressive MP4.

/** Size of the moov box among the top-level boxes that start `head` (ftyp, free, …, moov). */
export function moovSizeOf(head: Uint8Array): number {
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
  let at = 0;
  while (at + 8 <= head.length) {
    let size = view.getUint32(at);
    const type = String.fromCharCode(...head.subarray(at + 4, at + 8));
    if (size === 1 && at + 16 <= head.length) size = Number(view.getBigUint64(at + 8));
    if (type === 'moov') return size;
    if (size < 8) break;
    at += size;
  }
  throw new Error('no moov box header in the first bytes');
}
