#!/usr/bin/env node
import { type ErrorKind, errorKind, VvfError } from '../errors.js';
import { HelpShown } from './args.js';
import { boxes, boxesUsage } from './commands/boxes.js';
import { encode, encodeUsage } from './commands/encode.js';
import { inspect, inspectUsage } from './commands/inspect.js';
import { compose, composeUsage, remux, remuxUsage } from './commands/make.js';
import { mount, mountUsage, umount, umountUsage } from './commands/mount.js';
import { packagePresentation, packageUsage } from './commands/package.js';
import { serve, serveUsage } from './commands/serve.js';
import { sign, signUsage } from './commands/sign.js';
import { split, splitUsage } from './commands/split.js';
import { worker, workerUsage } from './commands/worker.js';

const USAGE = `usage: vvf <command> [options]

commands:
${inspectUsage}
${boxesUsage}
${remuxUsage}
${composeUsage}
${splitUsage}
${packageUsage}
${encodeUsage}
${workerUsage}
${serveUsage}
${mountUsage}
${umountUsage}
${signUsage}

  vvf --version | vvf help`;

/** Exit status of each kind of error: 1 for what the input or a source did, 70 for a bug (sysexits' EX_SOFTWARE); usage errors are 2. */
const EXIT: Record<ErrorKind, number> = {
  'bad-input': 1,
  'not-found': 1,
  forbidden: 1,
  'source-failed': 1,
  timeout: 1,
  busy: 1,
  cancelled: 1,
  bug: 70,
};

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'inspect':
      return inspect(rest);
    case 'boxes':
      return boxes(rest);
    case 'remux':
      return remux(rest);
    case 'compose':
      return compose(rest);
    case 'split':
      return split(rest);
    case 'encode':
      return encode(rest);
    case 'worker':
      return worker(rest);
    case 'package':
      return packagePresentation(rest);
    case 'serve':
      return serve(rest);
    case 'mount':
      return mount(rest);
    case 'umount':
      return umount(rest);
    case 'sign':
      return sign(rest);
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
    if (e instanceof HelpShown) {
      process.exitCode = 0;
    } else if (e instanceof VvfError) {
      process.stderr.write(`vvf: ${e.message}\n`);
      process.exitCode = e.code === 'USAGE' ? 2 : EXIT[errorKind(e)];
    } else {
      process.stderr.write(`vvf: internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      process.exitCode = 70;
    }
  },
);
