// OpenedSources: a virtual file's sources, opened through its resolver on first use, once each, and closed together.
import { VvfError } from '../errors.js';
import { closedError } from '../sources/read-range.js';
import type { Source } from '../sources/source.js';
import { matchingOrClosed, type SourceRef, type SourceResolver } from './source-ref.js';

/** What a virtual file reads its sources through: its own {@link OpenedSources}, or another file's, borrowed. */
export interface SourceSet {
  readonly closed: boolean;
  /** Source `index`, opened on first use. */
  get(index: number): Promise<Source>;
  close(): Promise<void>;
}

/**
 * The sources of one virtual file by index. Each opens lazily, once (concurrent first
 * uses share one open), and is checked against the validator and size recorded at
 * compile time. A failed open is forgotten so that a later read retries.
 */
export class OpenedSources implements SourceSet {
  private readonly opened: (Promise<Source> | undefined)[];
  private closedFlag = false;

  /** @param key the file's key, named by the error of a use after close */
  constructor(
    private readonly refs: readonly SourceRef[],
    private readonly resolve: SourceResolver,
    private readonly key: string,
  ) {
    this.opened = new Array<Promise<Source> | undefined>(refs.length).fill(undefined);
  }

  get closed(): boolean {
    return this.closedFlag;
  }

  /** Source `index`, opened on first use; concurrent first uses share one open. */
  get(index: number): Promise<Source> {
    if (this.closedFlag) return Promise.reject(closedError(this.key));
    const pending = this.opened[index];
    if (pending !== undefined) return pending;
    const ref = this.refs[index]!;
    const opening = this.open(ref);
    this.opened[index] = opening;
    opening.catch(() => {
      if (this.opened[index] === opening) this.opened[index] = undefined;
    });
    return opening;
  }

  /** Closes every source opened so far; a later {@link get} fails with USAGE. */
  async close(): Promise<void> {
    if (this.closedFlag) return;
    this.closedFlag = true;
    const opened = this.opened.filter((p): p is Promise<Source> => p !== undefined);
    this.opened.fill(undefined);
    // A source that failed to open has nothing to close.
    await Promise.allSettled(opened.map(async (p) => (await p).close()));
  }

  private async open(ref: SourceRef): Promise<Source> {
    let source: Source;
    try {
      source = await this.resolve(ref);
    } catch (e) {
      if (e instanceof VvfError) throw e;
      const why = e instanceof Error ? e.message : String(e);
      throw new VvfError('SOURCE_UNREACHABLE', `cannot open: ${why}`, { source: ref.key }, { cause: e });
    }
    // Resolvers should check this already; a mismatched source would give misplaced bytes.
    return matchingOrClosed(ref, source);
  }
}

/**
 * A view of another file's sources for a file made of part of it (a segment of a
 * presentation): it opens through `from`, and closing it closes nothing but itself.
 */
export function borrowSources(from: SourceSet, key: string): SourceSet {
  let closed = false;
  return {
    get closed() {
      return closed || from.closed;
    },
    get: (index) => (closed ? Promise.reject(closedError(key)) : from.get(index)),
    close: async () => {
      closed = true;
    },
  };
}
