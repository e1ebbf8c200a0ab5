import { basename } from 'node:path';
import { type ListedBox, listBoxTree } from '../../demux/box-listing.js';
import { SNIFF_BYTES, sniffInput, unknownFormatError } from '../../demux/sniff.js';
import { VvfError } from '../../errors.js';
import { openSource } from '../../sources/open-source.js';
import { onePositional, parse } from '../args.js';

export const boxesUsage = `  boxes <file | url>                    the box tree with offsets, sizes and fields in their units,
                                        table entries and sample entries opened (mdat is not read)
      --entries <n>                     table entries shown from each end (default 5)
      --full                            every table entry
      --json                            the tree as JSON (schema: docs/boxes.schema.json)`;

/** Version of the `vvf boxes --json` output; bump when a field changes meaning or goes away. */
export const BOXES_SCHEMA_VERSION = 1;

export async function boxes(args: string[]): Promise<number> {
  const { values, positionals } = parse(
    args,
    { json: { type: 'boolean' }, full: { type: 'boolean' }, entries: { type: 'string' } },
    'boxes',
    boxesUsage,
  );
  const entries = values.entries === undefined ? 5 : Number(values.entries);
  if (!Number.isSafeInteger(entries) || entries < 0)
    throw new VvfError('USAGE', `vvf boxes: --entries takes a count, not "${values.entries}"`);
  const input = onePositional(positionals, 'boxes <file | url>');
  const source = await openSource(input);
  try {
    const found = sniffInput(await source.read(0, Math.min(source.size, SNIFF_BYTES)), source.size);
    if (found.kind === 'xml' || found.kind === 'hls') {
      const manifest = found.kind === 'xml' ? 'a DASH manifest' : 'an HLS playlist';
      throw new VvfError('USAGE', `boxes reads MP4 files; for ${manifest}, pass one of its segments or use vvf inspect`, {
        source: source.key,
      });
    }
    if (found.kind !== 'mp4') throw unknownFormatError(found, basename(input), source.key);
    const tree = await listBoxTree(source, { entries, full: values.full === true });
    if (values.json) {
      process.stdout.write(
        `${JSON.stringify({ schemaVersion: BOXES_SCHEMA_VERSION, input, size: source.size, boxes: tree }, null, 2)}\n`,
      );
    } else {
      writeTree(tree, String(source.size).length);
    }
  } finally {
    await source.close();
  }
  return 0;
}

/** Fields this long or longer go one per line under their box. */
const FIELDS_ON_ONE_LINE = 100;

/**
 * The tree as text: offset, size, the box indented by depth and its fields; long field lists
 * and table entries on the lines below. Written in blocks, not a write per line: a file may
 * hold a million boxes.
 */
function writeTree(tree: ListedBox[], width: number): void {
  let out = '';
  const blank = ' '.repeat(2 * width + 3);
  const emit = (line: string): void => {
    out += `${line}\n`;
    if (out.length >= 1 << 16) {
      process.stdout.write(out);
      out = '';
    }
  };
  const walk = (b: ListedBox, depth: number): void => {
    const indent = '  '.repeat(depth);
    const head = `${String(b.offset).padStart(width)} ${String(b.size).padStart(width)}  ${indent}${b.type}`;
    const fields = Object.entries(b.fields ?? {}).map(([k, v]) => `${k}=${v}`);
    const oneLine = fields.join(' ');
    if (oneLine.length < FIELDS_ON_ONE_LINE) emit(oneLine ? `${head}  ${oneLine}` : head);
    else {
      emit(head);
      for (const f of fields) emit(`${blank}${indent}    ${f}`);
    }
    if (b.table) {
      const t = b.table;
      let last = -1;
      for (const e of t.entries) {
        if (e.index !== last + 1) emit(`${blank}${indent}    … ${e.index - last - 1} more …`);
        emit(`${blank}${indent}    [${e.index}] ${t.columns.map((c, i) => `${c}=${e.values[i]}`).join(' ')}`);
        last = e.index;
      }
      if (last + 1 < t.count) emit(`${blank}${indent}    … ${t.count - last - 1} ${last < 0 ? 'entries' : 'more'} …`);
    }
    for (const c of b.children ?? []) walk(c, depth + 1);
  };
  for (const b of tree) walk(b, 0);
  process.stdout.write(out);
}
