// A process that holds a mount for the lifecycle tests (they kill it):
//   mount-child.ts <dir> <data file> <deadline ms>
// serves <dir> with data.mp4 (the data file's bytes) and hang.mp4 (never answers),
// prints one JSON line when mounted, and closes the mount on SIGTERM.
import { readFileSync } from 'node:fs';
import { mountCatalog } from '../../src/fuse/fuse-mount.js';
import { hangingFile, MemoryCatalog, memoryFile } from './fuse-helpers.js';

const [dir, dataPath, deadline] = process.argv.slice(2);
const catalog = new MemoryCatalog();
catalog.add('data', 'data', memoryFile(readFileSync(dataPath!), '"data"'));
catalog.add('hang', 'hang', hangingFile(1 << 20, '"hang"'));
const logs: string[] = [];
try {
  const mount = await mountCatalog(dir!, catalog, { deadlineMs: Number(deadline ?? 5000), log: (m) => logs.push(m) });
  process.on('SIGTERM', () => {
    void mount.close().then(
      () => process.exit(0),
      (e) => {
        console.error(String(e));
        process.exit(1);
      },
    );
  });
  console.log(JSON.stringify({ ready: true, method: mount.method, cleared: mount.clearedDeadMount, logs }));
} catch (e) {
  console.log(JSON.stringify({ ready: false, error: String(e) }));
  process.exit(2);
}
