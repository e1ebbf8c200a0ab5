import { readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Fixture } from '../../scripts/fixtures.js';

/** Every file of a fixture that vvf reads: the input, and for manifests the files beside it. */
export function fixtureFiles(f: Fixture): string[] {
  if (!f.input.endsWith('.mpd')) return [f.input];
  const out: string[] = [f.input];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (/\.(mp4|m4s|m4a|m4v|webm|cmf[av])$/.test(name) && !name.startsWith('probe-')) out.push(p);
    }
  };
  walk(dirname(f.input));
  return out;
}

/** Media files of a fixture (not the manifest). */
export function fixtureMediaFiles(f: Fixture): string[] {
  return fixtureFiles(f).filter((p) => !p.endsWith('.mpd'));
}
