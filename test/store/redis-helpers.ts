// A real redis-server (Debian's package) for the tests: on loopback, a free port, nothing saved to disk.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A redis-server this test started. */
export interface TestRedis {
  port: number;
  /** `redis://127.0.0.1:<port>/0`. */
  url: string;
  /** Stops it (SIGTERM, then SIGKILL after 5 s) and removes its folder. Safe to call twice. */
  stop(): Promise<void>;
}

/** A TCP port nothing listens on right now (the OS picks it; redis-server has no `--port 0`). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port from the OS');
  return address.port;
}

const READY = /Ready to accept connections/;
const START_TIMEOUT_MS = 10_000;

/**
 * Starts `redis-server` on 127.0.0.1 (on `port`, or a free one), without persistence, and
 * waits until it accepts connections (at most 10 s). A port taken in the meantime is
 * retried on another one.
 */
export async function startRedis(port?: number): Promise<TestRedis> {
  for (let attempt = 0; ; attempt++) {
    const p = port ?? (await freePort());
    try {
      return await startOn(p);
    } catch (e) {
      if (port !== undefined || attempt >= 2 || !/Address already in use/i.test(String(e))) throw e;
    }
  }
}

async function startOn(port: number): Promise<TestRedis> {
  const dir = mkdtempSync(join(tmpdir(), 'vvf-redis-'));
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no', '--dir', dir],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  // Never leave it running, even if the test process ends without its after hooks.
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  let output = '';
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`redis-server did not start within ${START_TIMEOUT_MS} ms:\n${output}`)),
        START_TIMEOUT_MS,
      );
      const onData = (chunk: Buffer) => {
        output += chunk.toString();
        if (READY.test(output)) {
          clearTimeout(timer);
          resolve();
        }
      };
      child.stdout.on('data', onData);
      child.stderr.on('data', onData);
      child.once('error', (e) => {
        clearTimeout(timer);
        reject(new Error(`cannot run redis-server (make system-deps installs it): ${e.message}`));
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`redis-server exited with ${code}:\n${output}`));
      });
    });
  } catch (e) {
    await stopChild(child);
    process.removeListener('exit', killOnExit);
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  // Drain its log so a full pipe never blocks it.
  child.stdout.resume();
  child.stderr.resume();
  return {
    port,
    url: `redis://127.0.0.1:${port}/0`,
    stop: async () => {
      await stopChild(child);
      process.removeListener('exit', killOnExit);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}
