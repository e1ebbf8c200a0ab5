// `make demo` as a new user's first run (vvf issue 11, A.1): the sample is made on a clone
// with no .cache/ yet, and VVF_DEMO_CHECK's script serves, fetches and probes it.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

function bash(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('bash', args, { env: { ...process.env, ...env }, timeout: 120_000 }, (e, stdout, stderr) =>
      resolve({ code: e ? ((e as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

const CLI = { VVF_CLI: `${process.execPath} --import tsx src/cli/main.ts` };

test('the demo sample is made where .cache/ does not exist yet, and the check mode serves and probes it', async () => {
  const root = mkdtempSync(join(tmpdir(), 'vvf-demo-'));
  // Once `mktemp -d "$dir.tmp.XXXXXX"` ran before the parent existed and failed here.
  const dir = join(root, 'fresh-clone', '.cache', 'demo');
  const made = await bash(['scripts/demo-sample.sh', dir]);
  assert.equal(made.code, 0, made.stderr);
  assert.ok(existsSync(join(dir, 'dash', 'manifest.mpd')) && existsSync(join(dir, 'progressive.json')));

  const checked = await bash(['scripts/demo-check.sh', dir], CLI);
  assert.equal(checked.code, 0, `${checked.stdout}\n${checked.stderr}`);
  assert.match(checked.stdout, /curl range ok/);
  assert.match(checked.stdout, /ffprobe over HTTP ok \(aac h264 \)/);
  assert.match(checked.stdout, /demo check: ok$/m);

  // A sample the server cannot serve fails the check, with the server's words.
  const broken = join(root, 'broken');
  cpSync(dir, broken, { recursive: true });
  rmSync(join(broken, 'dash'), { recursive: true });
  const failed = await bash(['scripts/demo-check.sh', broken], CLI);
  assert.notEqual(failed.code, 0);
  assert.match(failed.stderr, /demo check FAILED/);
  rmSync(root, { recursive: true, force: true });
});
