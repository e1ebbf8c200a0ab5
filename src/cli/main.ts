#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { listBoxes } from '../demux/box-listing.js';
import { openMovie } from '../demux/open-movie.js';
import { VvfError } from '../errors.js';
import { summarizeMovie } from '../model/summary.js';
import { openSource } from '../sources/open-source.js';
import { formatSummary } from './format.js';

const USAGE = `usage: vvf <command> [options]

commands:
  inspect <file | url | manifest.mpd>   tracks, codecs, durations, GOPs, bitrates and file layout
      --json                            machine-readable output
      --representation <id>             (DASH) read only this representation; repeatable
  boxes <file | url>                    the box tree with offsets and sizes (mdat is not read)
      --json                            machine-readable output

  vvf --version | vvf help`;

/** Exit statuses: 1 bad input or source, 2 usage, 70 internal error (sysexits' EX_SOFTWARE). */
async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'inspect':
      return inspect(rest);
    case 'boxes':
      return boxes(rest);
    case '--version':
    case '-v':
      process.stdout.write(`vvf ${await version()}\n`);
      return 0;
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(`${USAGE}\n`);
      return command === undefined ? 2 : 0;
    default:
      throw new VvfError('USAGE', `unknown command "${command}" (try vvf help)`);
  }
}

async function inspect(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, { json: { type: 'boolean' }, representation: { type: 'string', multiple: true } });
  const input = onePositional(positionals, 'inspect <file | url | manifest.mpd>');
  const reps = values.representation;
  const movie = await openMovie(input, reps ? { representations: reps } : {});
  try {
    const summary = summarizeMovie(movie);
    process.stdout.write(values.json ? `${JSON.stringify(summary, null, 2)}\n` : `${formatSummary(summary)}\n`);
  } finally {
    await Promise.all(movie.sources.map((s) => s.close()));
  }
  return 0;
}

async function boxes(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, { json: { type: 'boolean' } });
  const input = onePositional(positionals, 'boxes <file | url>');
  const source = await openSource(input);
  try {
    const head = await source.read(0, Math.min(source.size, 1));
    if (head[0] === 0x3c) {
      throw new VvfError('USAGE', 'boxes reads MP4 files; for a DASH manifest, pass one of its segments or use vvf inspect', {
        source: source.key,
      });
    }
    const lines = await listBoxes(source);
    if (values.json) {
      process.stdout.write(`${JSON.stringify(lines, null, 2)}\n`);
    } else {
      const width = String(source.size).length;
      for (const l of lines) {
        const fields = l.fields
          ? `  ${Object.entries(l.fields)
              .map(([k, v]) => `${k}=${v}`)
              .join(' ')}`
          : '';
        process.stdout.write(
          `${String(l.offset).padStart(width)} ${String(l.size).padStart(width)}  ${'  '.repeat(l.depth)}${l.type}${fields}\n`,
        );
      }
    }
  } finally {
    await source.close();
  }
  return 0;
}

type Options = NonNullable<NonNullable<Parameters<typeof parseArgs>[0]>['options']>;

function parse<T extends Options>(args: string[], options: T) {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true as const });
  } catch (e) {
    throw new VvfError('USAGE', e instanceof Error ? e.message : String(e));
  }
}

function onePositional(positionals: string[], usage: string): string {
  if (positionals.length !== 1 || positionals[0] === undefined) throw new VvfError('USAGE', `expected: vvf ${usage}`);
  return positionals[0];
}

async function version(): Promise<string> {
  const { readFile } = await import('node:fs/promises');
  const pkg = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

// A reader that stops early (`vvf boxes x | head`) is not an error.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(0);
  throw e;
});

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    if (e instanceof VvfError) {
      process.stderr.write(`vvf: ${e.message}\n`);
      process.exitCode = e.code === 'USAGE' ? 2 : e.code === 'BUG' ? 70 : 1;
    } else {
      process.stderr.write(`vvf: internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      process.exitCode = 70;
    }
  },
);
