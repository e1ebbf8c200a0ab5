// loadIfFresh: a stored compiled file back as a VirtualFile, if its sources have not changed.
import { VvfError } from '../errors.js';
import type { Source } from '../sources/source.js';
import { resolveWith, type SourceRef } from '../virtual/source-ref.js';
import { VirtualFile } from '../virtual/virtual-file.js';
import type { StoredFile } from './metadata-store.js';

/** Options of {@link loadIfFresh}. */
export interface LoadOptions {
  /** Sources opened at once (a DASH file may have thousands). Default 32. */
  concurrency?: number;
}

const DEFAULT_CONCURRENCY = 32;

/** Error codes that mean "not the file we compiled from any more": recompile rather than fail. */
const STALE_CODES: ReadonlySet<string> = new Set(['SOURCE_CHANGED', 'SOURCE_UNREACHABLE', 'SOURCE_NOT_FOUND']);

/**
 * Loads a stored compiled file if every source still has the validator and size recorded
 * in it, else undefined (the caller recompiles the recipe and stores the result).
 *
 * Each source is opened once by its key through `open` (which must only look, not read:
 * `FileSource.open` stats, `HttpSource.open` makes one `bytes=0-0` request); no source
 * content is read and nothing is parsed. The returned file reads through the sources
 * opened here and closes them on `close`.
 *
 * Undefined also when the stored bytes are not a loadable compiled file (another format
 * version, corrupt), or a source is gone (SOURCE_NOT_FOUND, SOURCE_UNREACHABLE: a manifest may have dropped
 * it, so a recompile may succeed; if not, it reports the error itself). Any other error
 * from `open` (SOURCE_FORBIDDEN, for instance) is thrown.
 *
 * Only the files the compiled form reads from are checked. A DASH manifest is not one of
 * them: a manifest rewritten to name other segments is not noticed while the old segments
 * are unchanged (and what is served is then still exactly the old file).
 */
export async function loadIfFresh(
  stored: StoredFile,
  open: (key: string) => Promise<Source>,
  opts: LoadOptions = {},
): Promise<VirtualFile | undefined> {
  const concurrency = opts.concurrency ?? DEFAULT_CONCURRENCY;
  if (!Number.isSafeInteger(concurrency) || concurrency < 1) {
    throw new VvfError('USAGE', `concurrency must be a positive integer, got ${concurrency}`);
  }
  // A store over its quota keeps an evicted file's recipe without its compiled form: compile again.
  if (stored.compiled.byteLength === 0) return undefined;
  /** Opened and checked sources not yet handed to the file, by key. */
  const ready = new Map<string, Source>();
  // A second resolution of a key (after the first open failed) opens it anew, checked.
  const reopen = resolveWith(open);
  let file: VirtualFile;
  try {
    file = VirtualFile.deserialize(stored.compiled, async (ref) => {
      const source = ready.get(ref.key);
      if (source === undefined) return reopen(ref);
      ready.delete(ref.key);
      return source;
    });
  } catch (e) {
    if (e instanceof VvfError && (e.code === 'UNKNOWN_FORMAT' || e.code === 'MEDIA_INCONSISTENT')) return undefined;
    throw e;
  }

  const refs = uniqueByKey(file.sources);
  let next = 0;
  let stop = false;
  let failure: unknown;
  const worker = async (): Promise<void> => {
    while (!stop && next < refs.length) {
      const ref = refs[next++]!;
      let source: Source;
      try {
        source = await open(ref.key);
      } catch (e) {
        stop = true;
        if (!(e instanceof VvfError && STALE_CODES.has(e.code))) failure ??= e;
        return;
      }
      ready.set(ref.key, source);
      if (source.validator !== ref.validator || source.size !== ref.size) stop = true;
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, refs.length) }, worker));

  if (stop) {
    await closeAll(ready.values());
    await file.close();
    if (failure !== undefined) throw failure;
    return undefined;
  }
  // The file closes what it resolved; sources it never asked for are closed with it.
  const closeFile = file.close.bind(file);
  file.close = async () => {
    await closeFile();
    const left = [...ready.values()];
    ready.clear();
    await closeAll(left);
  };
  return file;
}

/** The refs with distinct keys, in order (a compiled file names each source once; be safe anyway). */
function uniqueByKey(refs: readonly SourceRef[]): SourceRef[] {
  const seen = new Set<string>();
  return refs.filter((r) => !seen.has(r.key) && seen.add(r.key) !== undefined);
}

async function closeAll(sources: Iterable<Source>): Promise<void> {
  await Promise.allSettled([...sources].map((s) => s.close()));
}
