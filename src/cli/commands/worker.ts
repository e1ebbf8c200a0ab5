// `vvf worker`: encodes tasks of `vvf encode --queue` coordinators, on this machine.
import { availableParallelism } from 'node:os';
import { VvfError } from '../../errors.js';
import { parse } from '../args.js';

export const workerUsage = `  worker --queue <redis-url> [options]  take the tasks vvf encode --queue coordinators queue, on this machine
      --key <key>                       the key shared with the coordinators (VVF_ENCODE_KEY)
      --jobs <n>                        tasks at once (default: one; each ffmpeg uses every core)
      --lock <seconds>                  a task whose worker stops answering goes to another after this (default 30)
      --ffmpeg <path>                   the ffmpeg to run (default: ffmpeg on the PATH)`;

export async function worker(args: string[]): Promise<number> {
  const { values, positionals } = parse(
    args,
    {
      queue: { type: 'string' },
      key: { type: 'string' },
      jobs: { type: 'string' },
      lock: { type: 'string' },
      ffmpeg: { type: 'string' },
    },
    'worker',
    workerUsage,
  );
  if (positionals.length > 0) throw new VvfError('USAGE', `vvf worker takes no arguments, only options (${positionals[0]})`);
  if (!values.queue) throw new VvfError('USAGE', 'give --queue redis://host:6379: where coordinators queue their tasks');
  const key = values.key ?? process.env.VVF_ENCODE_KEY;
  if (!key) throw new VvfError('USAGE', 'give --key or VVF_ENCODE_KEY: the key shared with the coordinators');
  const jobs = Number(values.jobs ?? 1);
  if (!Number.isInteger(jobs) || jobs < 1 || jobs > 4 * availableParallelism())
    throw new VvfError('USAGE', `--jobs must be a whole number from 1 to ${4 * availableParallelism()}`);
  const lock = Number(values.lock ?? 30);
  if (!(lock >= 1 && lock <= 3600)) throw new VvfError('USAGE', '--lock must be between 1 and 3600 seconds');
  // Loaded only here: BullMQ and the Redis client take most of a second to load, for every vvf command otherwise.
  const { startWorker } = await import('../../encode/worker.js');
  const { shownQueueUrl } = await import('../../encode/queue-job.js');
  const log = (line: Record<string, unknown>) =>
    process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), ...line })}\n`);
  const w = await startWorker({
    redisUrl: values.queue,
    key,
    jobs,
    lockMs: lock * 1000,
    ...(values.ffmpeg ? { ffmpeg: values.ffmpeg } : {}),
    log,
  });
  log({ msg: 'vvf worker ready', worker: w.name, queue: shownQueueUrl(values.queue), jobs });
  await new Promise<void>((r) => {
    process.once('SIGINT', () => r());
    process.once('SIGTERM', () => r());
  });
  log({ msg: 'vvf worker stopping', worker: w.name });
  await w.close();
  log({
    msg: 'vvf worker stopped',
    worker: w.name,
    peakRss: { worker: process.resourceUsage().maxRSS * 1024, encoders: w.peakRss() },
  });
  return 0;
}
