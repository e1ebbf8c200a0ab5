// Where `-o` writes (vvf issue 11, D.8). Once a fixed `X.vvf-partial` was renamed over X:
// as root /dev/null became a regular file, a symlink planted at X.vvf-partial had its
// target overwritten, and two writers of one X crashed (exit 70) or mixed their bytes.
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import {
  createReadStream,
  lstatSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { ensureFixtures } from '../../scripts/fixtures.js';

interface Run {
  code: number;
  stdout: Buffer;
  stderr: string;
}

function vvf(...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', 'src/cli/main.ts', ...args],
      { encoding: 'buffer', maxBuffer: 64 << 20 },
      (e, stdout, stderr) =>
        resolve({ code: e ? Number((e as { code?: number }).code ?? 1) : 0, stdout, stderr: stderr.toString() }),
    );
  });
}

describe('output files', () => {
  let input = '';
  let expected: Buffer = Buffer.alloc(0);
  let dir = '';
  before(async () => {
    const f = (await ensureFixtures()).find((x) => x.name === 'h264-aac-faststart');
    assert.ok(f);
    input = f.input;
    dir = mkdtempSync(join(tmpdir(), 'vvf-out-'));
    const r = await vvf('remux', input, '-o', join(dir, 'expected.mp4'));
    assert.equal(r.code, 0, r.stderr);
    expected = readFileSync(join(dir, 'expected.mp4'));
  });

  test('a symlink planted at the old temporary name is not followed', async () => {
    const victim = join(dir, 'victim');
    writeFileSync(victim, 'precious');
    const out = join(dir, 'planted.mp4');
    symlinkSync(victim, `${out}.vvf-partial`);
    const r = await vvf('remux', input, '-o', out);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(readFileSync(victim, 'utf8'), 'precious');
    assert.ok(readFileSync(out).equals(expected));
    // The file replaced is replaced whole, keeping its permissions.
    writeFileSync(out, 'old');
    execFileSync('chmod', ['640', out]);
    assert.equal((await vvf('remux', input, '-o', out)).code, 0);
    assert.ok(readFileSync(out).equals(expected));
    assert.equal(statSync(out).mode & 0o777, 0o640);
  });

  test('six writers of one output each rename a whole file; nothing is left behind', async () => {
    const sub = mkdtempSync(join(dir, 'race-'));
    const out = join(sub, 'same.mp4');
    // Forty copies of the input one after another (9 MB) keep the writers' windows open together.
    const args = ['compose', '--concat', ...new Array(40).fill(input), '-o', out];
    const first = await vvf(...args);
    assert.equal(first.code, 0, first.stderr);
    const whole = readFileSync(out);
    const runs = await Promise.all([1, 2, 3, 4, 5, 6].map(() => vvf(...args)));
    for (const r of runs) assert.equal(r.code, 0, r.stderr);
    assert.ok(readFileSync(out).equals(whole));
    assert.deepEqual(readdirSync(sub), ['same.mp4']);
  });

  test('what is not a regular file is written in place: a null device (as root), a FIFO', async () => {
    if (process.getuid?.() === 0) {
      // A null device of our own (1, 3 is /dev/null's): a build with the bug must not replace the real one.
      const devnull = join(dir, 'null');
      execFileSync('mknod', ['-m', '666', devnull, 'c', '1', '3']);
      const r = await vvf('remux', input, '-o', devnull);
      assert.equal(r.code, 0, r.stderr);
      assert.ok(lstatSync(devnull).isCharacterDevice(), 'the null device is still a device');
    }
    const fifo = join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    const chunks: Buffer[] = [];
    const read = new Promise<void>((resolve, reject) => {
      createReadStream(fifo)
        .on('data', (c) => chunks.push(c as Buffer))
        .on('end', resolve)
        .on('error', reject);
    });
    const r = await vvf('remux', input, '-o', fifo);
    await read;
    assert.equal(r.code, 0, r.stderr);
    assert.ok(lstatSync(fifo).isFIFO(), 'the FIFO is still a FIFO');
    assert.ok(Buffer.concat(chunks).equals(expected));
  });

  test('-o - writes to stdout', async () => {
    const r = await vvf('remux', input, '-o', '-');
    assert.equal(r.code, 0, r.stderr);
    assert.ok(r.stdout.equals(expected));
    assert.match(r.stderr, /^wrote stdout: /);
  });

  test('a missing output directory is one line and exit 1', async () => {
    const r = await vvf('compose', '--input', input, '-o', join(dir, 'no', 'such', 'dir', 'x.mp4'));
    assert.equal(r.code, 1);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, /^vvf: [A-Z_]+: cannot write .*x\.mp4: the directory .*dir does not exist/);
    const split = await vvf('split', input, '--every', '2', '-o', join(dir, 'gone', 'chunk-%d.mp4'));
    assert.equal(split.code, 1);
    assert.match(split.stderr, /cannot write .*chunk-0\.mp4: the directory .*gone does not exist/);
  });
});
