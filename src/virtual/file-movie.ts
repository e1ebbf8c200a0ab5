// A virtual file read back as a movie, for checks and listings, without the movie taking the file over.
import { openMovie } from '../demux/open-movie.js';
import type { Movie } from '../model/movie.js';
import type { Source } from '../sources/source.js';
import type { VirtualFile } from './virtual-file.js';

/**
 * The movie a virtual file holds, read through the file itself (its header is held in
 * memory; the MP4 reader looks a few bytes past the moov). The movie's source is a view
 * whose close leaves the file open: whoever registered the file still owns it.
 */
export function movieOfFile(file: VirtualFile): Promise<Movie> {
  const view: Source = {
    key: file.key,
    validator: file.validator,
    size: file.size,
    read: (offset, length) => file.read(offset, length),
    close: async () => {},
    get bytesRead() {
      return file.bytesRead;
    },
    get readCount() {
      return file.readCount;
    },
  };
  return openMovie(file.key, { openSource: async () => view });
}
