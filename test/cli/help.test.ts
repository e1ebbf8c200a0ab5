// Each verb's help and option errors (vvf issue 11, A.2): `vvf compose --help` once gave
// Node's raw parseArgs message ("Unknown option '--help'. To specify a positional …").
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { test } from 'node:test';
import { HelpShown } from '../../src/cli/args.js';

function vvf(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], (e, stdout, stderr) =>
      resolve({ code: e ? Number((e as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

const VERBS = ['inspect', 'boxes', 'remux', 'compose', 'split', 'package', 'serve', 'mount', 'umount', 'sign'] as const;

/** Runs a verb in this process, returning what it wrote to stdout before it stopped with HelpShown. */
async function helpOf(verb: (typeof VERBS)[number], flag: string): Promise<string> {
  const commands = {
    ...(await import('../../src/cli/commands/inspect.js')),
    ...(await import('../../src/cli/commands/boxes.js')),
    ...(await import('../../src/cli/commands/make.js')),
    ...(await import('../../src/cli/commands/split.js')),
    ...(await import('../../src/cli/commands/serve.js')),
    ...(await import('../../src/cli/commands/mount.js')),
    ...(await import('../../src/cli/commands/sign.js')),
    package: (await import('../../src/cli/commands/package.js')).packagePresentation,
  };
  const written: string[] = [];
  const write = process.stdout.write;
  process.stdout.write = ((chunk: string) => {
    written.push(chunk);
    return true;
  }) as typeof process.stdout.write;
  try {
    await assert.rejects(commands[verb]([flag, 'ignored-input']), HelpShown);
  } finally {
    process.stdout.write = write;
  }
  return written.join('');
}

test('every verb answers --help and -h with its own usage', async () => {
  for (const verb of VERBS) {
    for (const flag of ['--help', '-h']) {
      const out = await helpOf(verb, flag);
      assert.match(out, new RegExp(`^usage: vvf ${verb}\\b`), out);
      assert.match(out, /-h, --help +this help\n$/);
      // Only its own usage, not the whole list.
      for (const other of VERBS) if (other !== verb) assert.doesNotMatch(out, new RegExp(`^usage: vvf ${other}\\b`, 'm'));
    }
  }
  const compose = await helpOf('compose', '--help');
  assert.match(compose, /--concat <src>/);
  assert.match(compose, /-o, --output <file>/);
  // The command itself: usage on stdout, nothing on stderr, exit 0.
  const r = await vvf('compose', '--help');
  assert.deepEqual(r, { code: 0, stdout: compose, stderr: '' });
});

test('an unknown option names the verb and its valid options', async () => {
  const r = await vvf('remux', '--bogus', 'x.mp4');
  assert.equal(r.code, 2);
  assert.equal(
    r.stderr,
    'vvf: USAGE: vvf remux: unknown option --bogus; valid options: -o/--output <value>, --print-recipe, -h/--help\n',
  );
  assert.doesNotMatch(r.stderr, /To specify a positional argument/);
  const short = await vvf('inspect', '-x', 'a.mp4');
  assert.match(
    short.stderr,
    /^vvf: USAGE: vvf inspect: unknown option -x; valid options: --json, --representation <value>, -h\/--help\n$/,
  );
  const missing = await vvf('compose', '--input', 'a.mp4', '-o');
  assert.equal(missing.code, 2);
  assert.equal(missing.stderr, 'vvf: USAGE: vvf compose: -o/--output <value> needs a value\n');
  const flag = await vvf('boxes', '--json=yes', 'a.mp4');
  assert.equal(flag.stderr, 'vvf: USAGE: vvf boxes: --json takes no value\n');
  // After `--`, -h is an argument, not a request for help.
  const literal = await vvf('inspect', '--', '-h');
  assert.notEqual(literal.code, 0);
  assert.doesNotMatch(literal.stdout, /^usage:/);
});
