import { basename } from 'node:path';
import { listBoxes } from '../../demux/box-listing.js';
import { SNIFF_BYTES, sniffInput, unknownFormatError } from '../../demux/sniff.js';
import { VvfError } from '../../errors.js';
import { openSource } from '../../sources/open-source.js';
import { onePositional, parse } from '../args.js';

export const boxesUsage = `  boxes <file | url>                    the box tree with offsets and sizes (mdat is not read)
      --json                            machine-readable output`;

export async function boxes(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, { json: { type: 'boolean' } }, 'boxes', boxesUsage);
  const input = onePositional(positionals, 'boxes <file | url>');
  const source = await openSource(input);
  try {
    const found = sniffInput(await source.read(0, Math.min(source.size, SNIFF_BYTES)), source.size);
    if (found.kind === 'xml') {
      throw new VvfError('USAGE', 'boxes reads MP4 files; for a DASH manifest, pass one of its segments or use vvf inspect', {
        source: source.key,
      });
    }
    if (found.kind !== 'mp4') throw unknownFormatError(found, basename(input), source.key);
    const lines = await listBoxes(source);
    if (values.json) {
      process.stdout.write(`${JSON.stringify(lines, null, 2)}\n`);
    } else {
      const width = String(source.size).length;
      // Written in blocks, not a write per line: a file may hold a million boxes.
      let out = '';
      for (const l of lines) {
        const fields = l.fields
          ? `  ${Object.entries(l.fields)
              .map(([k, v]) => `${k}=${v}`)
              .join(' ')}`
          : '';
        out += `${String(l.offset).padStart(width)} ${String(l.size).padStart(width)}  ${'  '.repeat(l.depth)}${l.type}${fields}\n`;
        if (out.length >= 1 << 16) {
          process.stdout.write(out);
          out = '';
        }
      }
      process.stdout.write(out);
    }
  } finally {
    await source.close();
  }
  return 0;
}
