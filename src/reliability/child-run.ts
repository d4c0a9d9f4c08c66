/**
 * Running the CLI in a child process with a time bound and a measure of its peak memory: GNU time
 * (`/usr/bin/time -f %M`) when present, else `process.resourceUsage().maxRSS` written by a
 * preloaded module at exit; the same method as test/onnx/malformed-cli.test.ts.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { REPO_ROOT } from './inputs.js';

const GNU_TIME = '/usr/bin/time';
export const CLI_BIN = path.join(REPO_ROOT, 'bin/iqa-surgeon.js');

export interface ChildResult {
  /** Exit status, or null when killed by a signal. */
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Peak resident set size, KiB (NaN when it could not be measured). */
  maxRssKiB: number;
  /** Wall time of the command itself (GNU time's elapsed when available), ms. */
  ms: number;
  timedOut: boolean;
}

let wrapperDir: string | undefined;
function rssWrapper(): string {
  if (!wrapperDir) {
    wrapperDir = mkdtempSync(path.join(os.tmpdir(), 'iqa-rss-'));
    writeFileSync(
      path.join(wrapperDir, 'report-rss.mjs'),
      "import { writeFileSync } from 'node:fs';\n" +
        "process.on('exit', () => writeFileSync(process.env.IQA_TEST_RSS_FILE, String(process.resourceUsage().maxRSS)));\n",
    );
    process.once('exit', () => rmSync(wrapperDir!, { recursive: true, force: true }));
  }
  return path.join(wrapperDir, 'report-rss.mjs');
}

const MAX_CAPTURE = 64 * 1024;

/** Run `node <nodeArgs>` with a time limit (SIGKILL when it runs past it), measuring peak RSS. */
export function runNodeMeasured(nodeArgs: string[], opts: { timeoutMs: number; scratch: string; cwd?: string }): Promise<ChildResult> {
  const rssFile = path.join(opts.scratch, `rss-${process.pid}-${Math.random().toString(36).slice(2)}.txt`);
  const gnu = existsSync(GNU_TIME) && process.env.IQA_TEST_NO_GNU_TIME !== '1';
  const cmd = gnu ? GNU_TIME : process.execPath;
  const argv = gnu ? ['-o', rssFile, '-f', '%e %M', process.execPath, ...nodeArgs] : ['--import', pathToFileURL(rssWrapper()).href, ...nodeArgs];
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, argv, {
      cwd: opts.cwd ?? REPO_ROOT,
      env: { ...process.env, IQA_TEST_RSS_FILE: rssFile, NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true, // its own process group: a timeout kills GNU time and node together
    });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      if (stdout.length < MAX_CAPTURE) stdout += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      if (stderr.length < MAX_CAPTURE) stderr += d;
    });
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // already gone
      }
    }, opts.timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (status, signal) => {
      clearTimeout(timer);
      let maxRssKiB = NaN;
      let elapsedMs = performance.now() - t0;
      let st = status;
      let sig = signal;
      if (existsSync(rssFile)) {
        // GNU time writes "Command exited with non-zero status N" or "Command terminated by signal N" first
        const text = readFileSync(rssFile, 'utf8').trim();
        const lines = text.split('\n');
        const last = (lines[lines.length - 1] ?? '').trim().split(/\s+/);
        maxRssKiB = Number(last[last.length - 1]);
        if (gnu && last.length === 2 && Number.isFinite(Number(last[0]))) elapsedMs = Number(last[0]) * 1000;
        const bySignal = /Command terminated by signal (\d+)/.exec(text);
        if (gnu && bySignal) {
          st = null;
          sig = (Object.entries(os.constants.signals).find(([, n]) => n === Number(bySignal[1]))?.[0] ?? 'SIGKILL') as NodeJS.Signals;
        }
        rmSync(rssFile, { force: true });
      }
      resolve({ status: st, signal: sig, stdout, stderr, maxRssKiB, ms: elapsedMs, timedOut });
    });
  });
}

/** Run the CLI (`node bin/iqa-surgeon.js <args>`). */
export function runCliMeasured(args: string[], opts: { timeoutMs: number; scratch: string; cwd?: string }): Promise<ChildResult> {
  return runNodeMeasured([CLI_BIN, ...args], opts);
}
