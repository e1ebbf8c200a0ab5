// Shared by the server tests: `vvf serve` as a child process, a one-shot `vvf` run, and a
// fixture copied under a fresh root.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { cpSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { ensureFixtures, type Fixture } from '../../scripts/fixtures.js';

/** A running `vvf serve` child: its URL, the registered files' URLs, and every JSON line it logged so far. */
export interface ServeProcess {
  child: ChildProcess;
  url: string;
  files: string[];
  logs: Record<string, unknown>[];
}

/**
 * Starts `vvf serve --port 0 …args` as a child process; resolves once it listens and has
 * registered `registered` files. `env` is added to this process's environment.
 */
export function serveProcess(args: string[], registered: number, env: NodeJS.ProcessEnv = {}): Promise<ServeProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'serve', '--port', '0', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  const logs: Record<string, unknown>[] = [];
  return new Promise((resolve, reject) => {
    let url = '';
    const files: string[] = [];
    let buffered = '';
    let stderr = '';
    const timer = setTimeout(() => reject(new Error('vvf serve did not start in 20 s')), 20_000);
    child.stderr!.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.on('exit', (code) => reject(new Error(`vvf serve exited with ${code}: ${stderr}`)));
    child.stdout!.on('data', (d: Buffer) => {
      buffered += d.toString();
      for (;;) {
        const nl = buffered.indexOf('\n');
        if (nl < 0) break;
        const line = JSON.parse(buffered.slice(0, nl)) as Record<string, unknown> & { msg: string; url: string };
        buffered = buffered.slice(nl + 1);
        logs.push(line);
        if (line.msg === 'vvf serve listening') url = line.url;
        if (line.msg === 'registered') files.push(line.url);
        if (url && files.length >= registered) {
          clearTimeout(timer);
          resolve({ child, url, files, logs });
        }
      }
    });
  });
}

/** Stops a child with SIGTERM and waits for it to exit. */
export async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

/** Runs `vvf …args` to its end (killed after `timeoutMs`, default 20 s): exit code and output. */
export function runVvf(
  args: string[],
  env: NodeJS.ProcessEnv = {},
  timeoutMs = 20_000,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', 'src/cli/main.ts', ...args],
      { env: { ...process.env, ...env }, timeout: timeoutMs },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : 1;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** A fixture's folder copied into a fresh temporary root as `<as>/`; returns the root and the fixture. */
export async function fixtureRoot(name: string, as: string): Promise<{ root: string; fixture: Fixture }> {
  const fixture = (await ensureFixtures()).find((f) => f.name === name);
  if (!fixture) throw new Error(`no fixture ${name}`);
  const root = mkdtempSync(join(tmpdir(), 'vvf-srv-'));
  cpSync(dirname(fixture.input), join(root, as), { recursive: true });
  return { root, fixture };
}
