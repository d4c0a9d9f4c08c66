/**
 * The fuzzing engine. Case `i` of a campaign with seed `s` is fully determined by (s, i): a
 * target command (targets.ts), a seed file of its input kind (inputs.ts), a mutator, and the
 * mutator's random choices. Cases run in worker threads calling the CLI's `main()` in-process
 * (fast; a hang guard terminates the worker, resourceLimits caps its heap), and every
 * `childEvery`-th case runs as a child process instead (`node bin/iqa-surgeon.js`), where
 * crashes, signals and peak RSS are visible.
 *
 * Every case must end with exit 0 (after which the target's follow-up checks must pass too) or
 * exit 1 with exactly one line `iqa-surgeon: error: <message>` on stderr, within the time and
 * memory bounds, without touching its input and without any output containing the secret file
 * placed beside the case. Anything else is a failure, kept with its files for replay.
 */
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, readdirSync, lstatSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { FuzzTarget, InputKind, MutationContext, Mutator, SeedInput } from './harness.js';
import { readSeed } from './harness.js';
import { INPUT_KINDS, REPO_ROOT } from './inputs.js';
import { FUZZ_SECRET } from './mutate-onnx.js';
import { Rng } from './random.js';
import { runCliMeasured } from './child-run.js';
import { FUZZ_TARGETS } from './targets.js';
import type { WorkerJob, WorkerReply, WorkerRun } from './worker-protocol.js';

export interface FuzzOptions {
  cases: number;
  seed: number;
  /** First case index (default 0): `--start 1234 --cases 1` replays case 1234. */
  start?: number;
  /** Also run every n-th case as a child process (0: never). Default 10. */
  childEvery?: number;
  /** Worker threads (default: the number of CPUs less one for the child-process lane, 1 to 4). */
  workers?: number;
  /** Time bound per case (default 5000 ms). */
  timeLimitMs?: number;
  /** Memory bound above the input's size (default 1024 MiB): child peak RSS, worker heap. */
  memLimitMiB?: number;
  /** Only these target ids / input kinds. */
  targets?: string[];
  kinds?: string[];
  /** Failed cases' files are copied here (default: a folder under the OS temp dir). */
  failuresDir?: string;
  /** Progress lines. */
  log?: (line: string) => void;
  /** Tables (default: FUZZ_TARGETS, INPUT_KINDS); tests pass their own. */
  targetTable?: FuzzTarget[];
  kindTable?: InputKind[];
}

/** accepted: exit 0; rejected: exit 1 (or 3 where the target allows it) with a clear message. */
export type Verdict = 'accepted' | 'rejected' | 'failure' | 'skipped';

export interface CaseOutcome {
  index: number;
  target: string;
  kind: string;
  seed: string;
  mutator: string;
  note: string;
  mode: 'worker' | 'child';
  verdict: Verdict;
  /** Why the case failed (failures only). */
  failure?: string;
  exit: number | null;
  /** First stderr line (or the failure's detail). */
  message: string;
  ms: number;
  maxRssMiB?: number;
  argv: string[];
  /** Where the failed case's files were kept. */
  keptAt?: string;
}

export interface FuzzReport {
  seed: number;
  start: number;
  cases: number;
  childCases: number;
  accepted: number;
  rejected: number;
  failures: CaseOutcome[];
  skipped: number;
  byTarget: Record<string, { accepted: number; rejected: number; failures: number }>;
  byMutator: Record<string, { accepted: number; rejected: number; failures: number }>;
  /** Distinct error codes seen, by message prefix (first 60 chars), with counts. */
  messages: Record<string, number>;
  /** Cases over the time bound under parallel load that passed when run again alone. */
  timingRetried: { index: number; first: string; alone: string }[];
  maxMs: number;
  maxRssMiB: number;
  wallMs: number;
  failuresDir?: string;
}

interface PlannedCase {
  index: number;
  target: FuzzTarget;
  kind: InputKind;
  seed: SeedInput;
  mutator: Mutator;
  rng: Rng;
  child: boolean;
}

function planCase(index: number, opts: Required<Pick<FuzzOptions, 'seed' | 'childEvery'>>, targets: FuzzTarget[], kinds: Map<string, InputKind>, seeds: Map<string, SeedInput[]>): PlannedCase {
  const rng = Rng.forCase(opts.seed, index);
  const target = rng.weighted(targets);
  const kind = kinds.get(target.input)!;
  const seed = rng.pick(seeds.get(kind.id)!);
  const mutator = rng.weighted(kind.mutators);
  return { index, target, kind, seed, mutator, rng, child: opts.childEvery > 0 && index % opts.childEvery === opts.childEvery - 1 };
}

const sha = (file: string): string => createHash('sha256').update(readFileSync(file)).digest('hex');

/** Every regular file under `dir` (no symlinks followed) with its hash: inputs must not change. */
function snapshot(dir: string, skip: string): Map<string, string> {
  const out = new Map<string, string>();
  const visit = (d: string): void => {
    for (const e of readdirSync(d)) {
      const p = path.join(d, e);
      if (p === skip) continue;
      const st = lstatSync(p);
      if (st.isDirectory()) visit(p);
      else if (st.isFile()) out.set(p, sha(p));
    }
  };
  visit(dir);
  return out;
}

class WorkerPool {
  private idle: Worker[] = [];
  private waiting: ((w: Worker) => void)[] = [];
  private all = new Set<Worker>();
  private nextId = 1;

  constructor(size: number, private readonly heapMiB: number) {
    for (let i = 0; i < size; i++) this.idle.push(this.spawn());
  }

  private spawn(): Worker {
    const w = new Worker(path.join(REPO_ROOT, 'dist/cli/fuzz-worker.js'), {
      resourceLimits: { maxOldGenerationSizeMb: this.heapMiB },
      stdout: true,
      stderr: true,
    });
    // anything the product prints around main() is noise here; keep the streams drained
    w.stdout.resume();
    w.stderr.resume();
    w.unref();
    this.all.add(w);
    return w;
  }

  private acquire(): Promise<Worker> {
    const w = this.idle.pop();
    if (w) return Promise.resolve(w);
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  private release(w: Worker): void {
    const next = this.waiting.shift();
    if (next) next(w);
    else this.idle.push(w);
  }

  private replace(w: Worker): void {
    this.all.delete(w);
    void w.terminate();
    this.release(this.spawn());
  }

  /** Run the job; resolves with the runs, or with a failure ('timeout', 'crash: ...'). */
  async run(runs: string[][], timeoutMs: number): Promise<{ runs: WorkerRun[] } | { failure: string; detail: string }> {
    const w = await this.acquire();
    const id = this.nextId++;
    return new Promise((resolve) => {
      let settled = false;
      const finish = (r: { runs: WorkerRun[] } | { failure: string; detail: string }, healthy: boolean): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        w.off('message', onMessage);
        w.off('error', onError);
        w.off('exit', onExit);
        if (healthy) this.release(w);
        else this.replace(w);
        resolve(r);
      };
      const onMessage = (m: WorkerReply): void => {
        if (m.id === id) finish({ runs: m.runs }, true);
      };
      const onError = (e: Error): void => {
        const code = (e as NodeJS.ErrnoException).code;
        finish({ failure: code === 'ERR_WORKER_OUT_OF_MEMORY' ? 'memory' : 'crash', detail: `${code ?? e.name}: ${String(e.message).split('\n')[0]}` }, false);
      };
      const onExit = (c: number): void => finish({ failure: 'crash', detail: `worker exited with ${c}` }, false);
      // a hang guard only: the time bound is judged on the worker's own measure, so a busy parent
      // thread (making a large mutation) cannot make a case look slow
      const guard = 2 * timeoutMs + 5000;
      const timer = setTimeout(() => finish({ failure: 'timeout', detail: `no result within ${guard} ms` }, false), guard);
      w.on('message', onMessage);
      w.on('error', onError);
      w.on('exit', onExit);
      w.postMessage({ id, runs } satisfies WorkerJob);
    });
  }

  async close(): Promise<void> {
    await Promise.all([...this.all].map((w) => w.terminate()));
    this.all.clear();
  }
}

/** Judge one finished command run; returns a failure reason or undefined. */
export function judgeRun(r: { code: number | null; stdout: string; stderr: string }, after: boolean, exits: number[] = [0, 1]): string | undefined {
  if (r.stdout.includes(FUZZ_SECRET) || r.stderr.includes(FUZZ_SECRET)) return 'secret-leak';
  if (r.code === 0) return undefined;
  if (after) return `after-check exit ${r.code}`;
  if (r.code === 2) return 'internal-error';
  if (r.code === null || !exits.includes(r.code)) return `exit ${r.code}`;
  if (/\n\s+at /.test(r.stderr)) return 'stack-trace';
  if (r.code === 3) return /^iqa-surgeon: \S/.test(r.stderr) ? undefined : 'check-failure-without-message';
  if (!/^iqa-surgeon: error: \S.*\n$/.test(r.stderr)) return 'message-not-one-line';
  if (r.stderr.length > 2000) return 'message-too-long';
  return undefined;
}

function firstLine(s: string): string {
  const l = s.split('\n')[0] ?? '';
  return l.length > 300 ? `${l.slice(0, 300)}…` : l;
}

export async function runFuzz(options: FuzzOptions): Promise<FuzzReport> {
  const t0 = performance.now();
  const seed = options.seed;
  const start = options.start ?? 0;
  const childEvery = options.childEvery ?? 10;
  const timeLimitMs = options.timeLimitMs ?? 5000;
  const memLimitMiB = options.memLimitMiB ?? 1024;
  const log = options.log ?? (() => {});
  const kindsAll = options.kindTable ?? INPUT_KINDS;
  const kinds = new Map(kindsAll.filter((k) => !options.kinds || options.kinds.includes(k.id)).map((k) => [k.id, k]));
  const seeds = new Map([...kinds.values()].map((k) => [k.id, k.seeds()]));
  for (const [id, list] of seeds) {
    if (list.length > 0) continue;
    log(`no seed files for input kind '${id}': its targets are left out`);
    kinds.delete(id);
  }
  const targets = (options.targetTable ?? FUZZ_TARGETS).filter((t) => kinds.has(t.input) && (!options.targets || options.targets.includes(t.id)));
  if (targets.length === 0) throw new Error('no fuzz target left after filtering');
  if (!existsSync(path.join(REPO_ROOT, 'dist/cli/fuzz-worker.js'))) throw new Error('dist/ is missing or stale: run npm run build');

  const root = mkdtempSync(path.join(os.tmpdir(), 'iqa-fuzz-'));
  let failuresDir = options.failuresDir;
  const workers = Math.max(1, options.workers ?? Math.min(4, os.availableParallelism() - (childEvery > 0 ? 1 : 0)));
  const pool = new WorkerPool(workers, memLimitMiB);
  const report: FuzzReport = {
    seed,
    start,
    cases: 0,
    childCases: 0,
    accepted: 0,
    rejected: 0,
    failures: [],
    skipped: 0,
    byTarget: {},
    byMutator: {},
    messages: {},
    timingRetried: [],
    maxMs: 0,
    maxRssMiB: 0,
    wallMs: 0,
  };
  const tally = (o: CaseOutcome): void => {
    report.cases++;
    if (o.mode === 'child') report.childCases++;
    if (o.verdict === 'skipped') {
      report.skipped++;
      return;
    }
    if (o.verdict === 'accepted') report.accepted++;
    else if (o.verdict === 'rejected') report.rejected++;
    else report.failures.push(o);
    for (const [bucket, key] of [[report.byTarget, o.target], [report.byMutator, `${o.kind}:${o.mutator}`]] as const) {
      const b = (bucket[key] ??= { accepted: 0, rejected: 0, failures: 0 });
      if (o.verdict === 'accepted') b.accepted++;
      else if (o.verdict === 'rejected') b.rejected++;
      else b.failures++;
    }
    if (o.verdict === 'rejected') {
      const key = o.message.replace(/^iqa-surgeon: error: /, '').replace(/'[^']*'/g, "'…'").replace(/\d+/g, 'N').slice(0, 60);
      report.messages[key] = (report.messages[key] ?? 0) + 1;
    }
    report.maxMs = Math.max(report.maxMs, o.ms);
    if (o.maxRssMiB !== undefined) report.maxRssMiB = Math.max(report.maxRssMiB, o.maxRssMiB);
  };

  const runCase = async (pc: PlannedCase): Promise<CaseOutcome> => {
    const caseRoot = path.join(root, `case-${pc.index}`);
    mkdirSync(path.join(caseRoot, 'out'), { recursive: true });
    const ctx: MutationContext = { rng: pc.rng, dir: caseRoot, seed: pc.seed, seedBytes: () => readSeed(pc.seed.file), seeds: seeds.get(pc.kind.id)! };
    const base = { index: pc.index, target: pc.target.id, kind: pc.kind.id, seed: pc.seed.id, mutator: pc.mutator.id };
    let file: string;
    let note: string;
    try {
      ({ file, note } = pc.mutator.apply(ctx));
    } catch (e) {
      // the mutation itself failed (e.g. a value the encoder cannot write): not a product failure
      return { ...base, note: `mutation failed: ${(e as Error).message}`, mode: 'worker', verdict: 'skipped', exit: null, message: '', ms: 0, argv: [] };
    }
    const argv = pc.target.argv(file, caseRoot, pc.rng);
    const runs = [argv, ...(pc.target.after?.(file, caseRoot) ?? [])];
    const inputsBefore = snapshot(caseRoot, path.join(caseRoot, 'out'));
    const inputBytes = [...inputsBefore.keys()].reduce((s, p) => s + statSync(p).size, 0);
    let outcome: CaseOutcome;
    const mk = (mode: 'worker' | 'child', verdict: Verdict, exit: number | null, message: string, ms: number, failure?: string, rss?: number): CaseOutcome => {
      const o: CaseOutcome = { ...base, note, mode, verdict, exit, message, ms, argv };
      if (failure) o.failure = failure;
      if (rss !== undefined) o.maxRssMiB = rss;
      return o;
    };
    // a target that runs a model end to end (the mirror) may take its own, larger time bound
    const caseLimitMs = Math.max(timeLimitMs, pc.target.timeLimitMs ?? 0);
    if (pc.child) {
      const guard = 2 * caseLimitMs + 5000;
      let r = await runCliMeasured(argv, { timeoutMs: guard, scratch: root });
      const rss = r.maxRssKiB / 1024;
      const limit = inputBytes / 2 ** 20 + memLimitMiB;
      let failure: string | undefined;
      if (r.timedOut) failure = 'timeout';
      else if (r.signal) failure = `signal ${r.signal}`;
      else failure = judgeRun({ code: r.status, stdout: r.stdout, stderr: r.stderr }, false, pc.target.exits);
      if (!failure && rss > limit) failure = `memory: peak RSS ${rss.toFixed(0)} MiB over ${limit.toFixed(0)} MiB`;
      if (!failure && r.ms > caseLimitMs) failure = `slow: ${r.ms.toFixed(0)} ms`;
      if (!failure && r.status === 0) {
        for (const a of runs.slice(1)) {
          const ra = await runCliMeasured(a, { timeoutMs: guard, scratch: root });
          failure = ra.timedOut ? 'after-check timeout' : judgeRun({ code: ra.status, stdout: ra.stdout, stderr: ra.stderr }, true);
          if (failure) {
            r = ra;
            break;
          }
        }
      }
      outcome = mk('child', failure ? 'failure' : r.status === 0 ? 'accepted' : 'rejected', r.status, firstLine(failure && r.timedOut ? `killed after ${guard} ms` : r.stderr), r.ms, failure, rss);
    } else {
      const res = await pool.run(runs, caseLimitMs);
      if ('failure' in res) {
        outcome = mk('worker', 'failure', null, res.detail, caseLimitMs, res.failure);
      } else {
        const first = res.runs[0]!;
        let failure = judgeRun(first, false, pc.target.exits);
        if (!failure && first.code === 0) {
          for (const a of res.runs.slice(1)) {
            failure = judgeRun(a, true);
            if (failure) break;
          }
          if (!failure && res.runs.length < runs.length) failure = 'after-check did not run';
        }
        if (!failure && first.ms > caseLimitMs) failure = `slow: ${first.ms.toFixed(0)} ms`;
        const bad = failure ? (res.runs.find((r) => r.code !== 0) ?? first) : first;
        outcome = mk('worker', failure ? 'failure' : first.code === 0 ? 'accepted' : 'rejected', first.code, firstLine(bad.stderr), first.ms, failure);
      }
    }
    // the command must not have modified its inputs
    if (outcome.verdict !== 'failure') {
      const after = snapshot(caseRoot, path.join(caseRoot, 'out'));
      for (const [p, h] of inputsBefore) {
        if (after.get(p) !== h) {
          outcome.verdict = 'failure';
          outcome.failure = 'input-modified';
          outcome.message = `${path.relative(caseRoot, p)} changed or vanished`;
          break;
        }
      }
    }
    if (outcome.verdict === 'failure') {
      failuresDir ??= mkdtempSync(path.join(os.tmpdir(), 'iqa-fuzz-failures-'));
      const keep = path.join(failuresDir, `seed${seed}-case${pc.index}-${pc.target.id}-${pc.mutator.id}`);
      cpSync(caseRoot, keep, { recursive: true, verbatimSymlinks: true });
      outcome.keptAt = keep;
    }
    rmSync(caseRoot, { recursive: true, force: true });
    return outcome;
  };

  const opts = { seed, childEvery };
  const end = start + options.cases;
  let nextIndex = start;
  let done = 0;
  let lastLog = performance.now();
  const concurrency = workers + (childEvery > 0 ? 1 : 0);
  const lane = async (): Promise<void> => {
    while (nextIndex < end) {
      const pc = planCase(nextIndex++, opts, targets, kinds, seeds);
      const o = await runCase(pc);
      tally(o);
      done++;
      if (o.verdict === 'failure') log(`FAIL case ${o.index} [${o.target} ${o.seed} ${o.mutator}] ${o.failure}: ${o.message} (${o.note})`);
      if (performance.now() - lastLog > 10_000) {
        lastLog = performance.now();
        log(`${done}/${options.cases} cases, ${report.failures.length} failures, ${((performance.now() - t0) / 1000).toFixed(0)} s`);
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: concurrency }, lane));
    // A case over the time bound while others ran beside it is run again alone: only a case that
    // is slow on an idle machine is a failure (CPU starvation of parallel lanes is not).
    const timing = report.failures.filter((f) => /^(timeout|slow|after-check timeout)/.test(f.failure ?? ''));
    for (const f of timing) {
      const again = await runCase(planCase(f.index, opts, targets, kinds, seeds));
      if (again.verdict === 'failure') continue;
      report.failures.splice(report.failures.indexOf(f), 1);
      report.timingRetried.push({ index: f.index, first: `${f.failure}: ${f.message}`, alone: `${again.verdict} in ${again.ms.toFixed(0)} ms` });
      if (again.verdict === 'accepted') report.accepted++;
      else report.rejected++;
      const b = report.byTarget[f.target]!;
      b.failures--;
      b[again.verdict === 'accepted' ? 'accepted' : 'rejected']++;
      const m = report.byMutator[`${f.kind}:${f.mutator}`]!;
      m.failures--;
      m[again.verdict === 'accepted' ? 'accepted' : 'rejected']++;
      if (f.keptAt) rmSync(f.keptAt, { recursive: true, force: true });
    }
  } finally {
    await pool.close();
    rmSync(root, { recursive: true, force: true });
  }
  report.wallMs = performance.now() - t0;
  if (failuresDir) report.failuresDir = failuresDir;
  report.failures.sort((a, b) => a.index - b.index);
  return report;
}
