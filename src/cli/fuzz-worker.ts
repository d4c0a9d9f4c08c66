/**
 * A fuzzing worker thread (started by src/reliability/fuzz.ts): runs the CLI's `main()` in-process on the jobs it is sent and reports
 * exit status, output and time. The parent enforces the time bound (terminating the worker) and
 * the heap bound (resourceLimits); a worker that dies mid-job is a crash.
 */
import { parentPort } from 'node:worker_threads';
import type { WorkerJob, WorkerReply, WorkerRun } from '../reliability/worker-protocol.js';
import { main } from './main.js';

const CAP = 64 * 1024;

async function runOne(argv: string[]): Promise<WorkerRun> {
  let stdout = '';
  let stderr = '';
  const t0 = performance.now();
  const code = await main(['node', 'iqa-surgeon', ...argv], {
    out: (s) => {
      if (stdout.length < CAP) stdout += s;
    },
    err: (s) => {
      if (stderr.length < CAP) stderr += s;
    },
  });
  return { code, stdout, stderr, ms: performance.now() - t0 };
}

parentPort!.on('message', async (job: WorkerJob) => {
  const runs: WorkerRun[] = [];
  for (const argv of job.runs) {
    const r = await runOne(argv);
    runs.push(r);
    if (r.code !== 0) break; // follow-up checks run only after a success
  }
  parentPort!.postMessage({ id: job.id, runs } satisfies WorkerReply);
});
