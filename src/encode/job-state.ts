// The state of an encode job on disk: its plan and which outputs are done and verified, so a run resumes after a crash.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type DoneFile, JOB_FILE, type JobState, type TaskState } from '../catalog/encode-job.js';

// The state's shape and its reader live in catalog/: the server's page shows jobs too.
export { type DoneFile, JOB_FILE, type JobState, readJob, type TaskState } from '../catalog/encode-job.js';

/** A fingerprint of what decides an encode's output bytes. */
export function fingerprintOf(settings: unknown): string {
  return createHash('sha256').update(JSON.stringify(settings)).digest('base64url').slice(0, 22);
}

/** Writes the job's state whole (a temporary file renamed over the old one: a crash leaves one or the other). */
export async function writeJob(dir: string, job: JobState): Promise<void> {
  job.updated = new Date().toISOString();
  const tmp = join(dir, `.${JOB_FILE}.${process.pid}.tmp`);
  await writeFile(tmp, `${JSON.stringify(job, null, 1)}\n`);
  await rename(tmp, join(dir, JOB_FILE));
}

/** Size and SHA-256 of a file, read as a stream. */
export async function describeFile(path: string): Promise<DoneFile> {
  const size = (await stat(path)).size;
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return { size, sha256: hash.digest('hex') };
}

/** Whether every output of a done task is still on disk with the size and hash recorded. */
export async function stillDone(dir: string, task: TaskState): Promise<boolean> {
  if (task.state !== 'done') return false;
  for (const [path, want] of Object.entries(task.outputs)) {
    const have = await describeFile(join(dir, path)).catch(() => undefined);
    if (!have || have.size !== want.size || have.sha256 !== want.sha256) return false;
  }
  return Object.keys(task.outputs).length > 0;
}
