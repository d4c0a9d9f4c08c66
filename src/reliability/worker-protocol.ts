/**
 * The messages between the fuzzing harness and its worker threads (the worker itself, which runs
 * the CLI in-process, lives in src/cli/fuzz-worker.ts: nothing below the CLI imports the CLI).
 */
export interface WorkerJob {
  id: number;
  runs: string[][];
}

export interface WorkerRun {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

export interface WorkerReply {
  id: number;
  runs: WorkerRun[];
}
