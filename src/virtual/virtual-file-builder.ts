// VirtualFileBuilder: compose's LayoutBuilder over source refs, whose layout becomes a VirtualFile.
import { LayoutBuilder } from '../compose/layout.js';
import type { SourceRef, SourceResolver } from './source-ref.js';
import { VirtualFile } from './virtual-file.js';

/** Options of {@link VirtualFileBuilder.build}. */
export interface BuildOptions {
  /** Names the layout (e.g. `mp4-progressive-v1`); part of the etag, so a new layout version gives new etags. */
  format: string;
  /** Default `video/mp4`. */
  contentType?: string;
  /** Opens the sources when a read first needs them. */
  resolve: SourceResolver;
}

/**
 * Lays out a virtual file front to back with {@link LayoutBuilder}'s `addBytes` and
 * `addSourceRange` (neighbours merge as they are added), then builds it. The sources are
 * kept as refs (key, validator, size): what the file records and checks on open.
 */
export class VirtualFileBuilder extends LayoutBuilder<SourceRef> {
  /** @param sources what `addSourceRange` indexes into (Sources themselves will do; only key, validator and size are kept). */
  constructor(sources: readonly SourceRef[]) {
    super(Object.freeze(sources.map((s) => Object.freeze({ key: s.key, validator: s.validator, size: s.size }))));
  }

  /** The virtual file laid out so far; the builder may go on (or be dropped) without affecting it. */
  build(opts: BuildOptions): VirtualFile {
    const layout = this.finish(opts.format, opts.contentType ?? 'video/mp4');
    return new VirtualFile({ ...layout, sources: this.sources }, opts.resolve);
  }
}
