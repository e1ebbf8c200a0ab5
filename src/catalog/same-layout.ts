import { readSerialized, writeSerialized } from '../virtual/serialized-form.js';

/**
 * When a recompiled file (`next`, serialized) lays out the same bytes as the file it replaces
 * (`previous`): the same format, header bytes and extents over the same sources (key and
 * size), only the sources' validators differing — a source that was touched, or copied
 * back unchanged — `next` carrying `previous`'s digest, so that it keeps its etag; else
 * undefined.
 *
 * What this cannot see: a source whose sample bytes were rewritten in place, every size and
 * position kept. Comparing would mean reading every sample of the source; the etag then
 * stays although bytes differ (see the README on changing sources).
 */
export function withPreviousDigest(previous: Uint8Array, next: Uint8Array): Uint8Array | undefined {
  let a: ReturnType<typeof readSerialized>;
  let b: ReturnType<typeof readSerialized>;
  try {
    a = readSerialized(previous);
    b = readSerialized(next);
  } catch {
    return undefined;
  }
  const p = a.compiled;
  const n = b.compiled;
  if (p.format !== n.format || p.contentType !== n.contentType || p.sources.length !== n.sources.length) return undefined;
  for (let i = 0; i < p.sources.length; i++) {
    if (p.sources[i]!.key !== n.sources[i]!.key || p.sources[i]!.size !== n.sources[i]!.size) return undefined;
  }
  if (!sameBytes(p.bytes, n.bytes) || !sameBytes(p.ends, n.ends) || !sameBytes(p.offsets, n.offsets)) return undefined;
  if (!sameBytes(p.sourceIndex, n.sourceIndex)) return undefined;
  return writeSerialized(n, a.digest);
}

function sameBytes(x: ArrayBufferView, y: ArrayBufferView): boolean {
  return (
    x.byteLength === y.byteLength &&
    Buffer.from(x.buffer, x.byteOffset, x.byteLength).equals(Buffer.from(y.buffer, y.byteOffset, y.byteLength))
  );
}
