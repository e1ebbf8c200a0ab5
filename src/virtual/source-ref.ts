// SourceRef: how a virtual file names a source it reads from, and how it gets it back.
import { VvfError } from '../errors.js';
import type { Source } from '../sources/source.js';

/**
 * A source as a virtual file remembers it: enough to reopen it later (the key) and to
 * know whether what reopens is still the same content (validator and size).
 */
export interface SourceRef {
  /** The source's stable identity: absolute path, URL, or in-memory name. */
  readonly key: string;
  /** The source's validator when the virtual file was compiled. */
  readonly validator: string;
  /** The source's exact size in bytes when the virtual file was compiled. */
  readonly size: number;
}

/**
 * Opens the source a ref names. Must fail with SOURCE_CHANGED (see {@link resolveWith})
 * rather than return a source whose content differs from the ref's; a VirtualFile checks
 * validator and size again anyway.
 */
export type SourceResolver = (ref: SourceRef) => Promise<Source>;

/** The ref of an open source: its key, validator and size now. */
export function refOf(source: Source): SourceRef {
  return { key: source.key, validator: source.validator, size: source.size };
}

/**
 * Throws SOURCE_CHANGED unless `source` has the validator and size `ref` recorded. The
 * key is not compared: a resolver may reach the same content under another name.
 */
export function checkSourceMatches(ref: SourceRef, source: Source): void {
  if (source.validator !== ref.validator) {
    throw new VvfError('SOURCE_CHANGED', `validator is now ${source.validator}, was ${ref.validator}`, { source: ref.key });
  }
  if (source.size !== ref.size) {
    throw new VvfError('SOURCE_CHANGED', `size is now ${source.size}, was ${ref.size}`, { source: ref.key });
  }
}

/**
 * A resolver that opens each ref by its key with `open` (e.g. `openSource`, or
 * `FileSource.open`) and fails with SOURCE_CHANGED, closing what it opened, when the
 * source found there is no longer the one the ref recorded.
 */
export function resolveWith(open: (key: string) => Promise<Source>): SourceResolver {
  return async (ref) => matchingOrClosed(ref, await open(ref.key));
}

/** `source` if it still matches `ref`; else closes it (it is of no use) and throws SOURCE_CHANGED. */
export async function matchingOrClosed(ref: SourceRef, source: Source): Promise<Source> {
  try {
    checkSourceMatches(ref, source);
  } catch (e) {
    await source.close().catch(() => undefined);
    throw e;
  }
  return source;
}
