/**
 * Kills: every command that writes, run on a large-ish model (ResNet-50 widened to ~25 MB) and
 * killed with SIGKILL at seeded random moments, must leave either the previous output or the
 * complete new one (byte-identical to an unkilled run), never a partial file, and must never
 * touch its input. Rows: convert (inline and with external data), splice, materialize, the
 * rewriting commands (rename stands for all of them: they share one save path) and apply. For commands writing a model plus a data file, the model may also be absent
 * (it is removed before the pair is replaced, so an old model never reads new data). Temporary
 * files a kill leaves behind are removed by the next write to the same target.
 *
 * Table-driven: a new writing command is one row in writing-commands.ts. Runs the built CLI
 * (dist/); skips when it is missing, like malformed-cli.test.ts.
 */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { widenResnet } from '../../src/bench/make-large-model.js';
import { Model } from '../../src/ir/model.js';
import { mulberry32 } from '../helpers/seeded-random.js';
import { TempDirs } from '../helpers/temp-dir.js';
import { WRITING_COMMANDS, type WritingCommand } from './writing-commands.js';
import { requireBuild } from '../helpers/test-data.js';

const BIN = path.resolve('bin/iqa-surgeon.js');
const TRIALS = Number(process.env.IQA_KILL_TRIALS ?? 12);
const tmp = new TempDirs('iqa-kill');

const sha = (file: string): string | undefined => (existsSync(file) ? createHash('sha256').update(readFileSync(file)).digest('hex') : undefined);

/**
 * Run the CLI; kill it `killAfterMs` after the start, or (with `watchDir`) that long after a
 * temporary file first appears in `watchDir`, i.e. while the output is being written.
 */
function runCli(args: string[], killAfterMs?: number, watchDir?: string): Promise<{ status: number | null; signal: string | null; stderr: string; ms: number }> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    let timer: NodeJS.Timeout | undefined;
    let poll: NodeJS.Timeout | undefined;
    if (killAfterMs !== undefined && watchDir === undefined) timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
    if (killAfterMs !== undefined && watchDir !== undefined) {
      poll = setInterval(() => {
        if (!readdirSync(watchDir).some((f) => f.endsWith('.tmp'))) return;
        clearInterval(poll);
        timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
      }, 1);
    }
    child.on('error', reject);
    child.on('close', (status, signal) => {
      clearInterval(poll);
      clearTimeout(timer);
      resolve({ status, signal, stderr, ms: performance.now() - t0 });
    });
  });
}

type FileState = 'previous' | 'new' | 'absent' | 'partial';

describe('kills: SIGKILL while writing leaves the previous output or the complete new one', function () {
  let input = '';
  const small = path.resolve('fixtures/models/resnet18_iqa.onnx');

  before(function () {
    requireBuild();
    const dir = tmp.make('input');
    input = path.join(dir, 'wide.onnx');
    widenResnet(path.resolve('fixtures/models/resnet50_iqa.onnx'), 4).save(input, { externalData: false });
  });
  after(() => tmp.cleanup());

  for (const row of WRITING_COMMANDS) {
    it(`${row.id}: ${TRIALS} kills at random moments`, async () => {
      await killTrials(row);
    });
  }

  async function killTrials(row: WritingCommand): Promise<void> {
    const scratch = tmp.make('row');
    const rowInput = row.prepare
      ? await row.prepare(input, scratch, async (args) => {
          const r = await runCli(args);
          expect(r.status, `preparing ${row.id}: ${r.stderr}`).to.equal(0);
        })
      : input;
    const inputs = [input, rowInput];
    const inputHashes = inputs.map(sha);
    // the reference: an unkilled run, and a previous output of the same shape
    const refDir = tmp.make('ref');
    const ref = await runCli(row.argv(rowInput, refDir));
    expect(ref.status, ref.stderr).to.equal(0);
    Model.load(path.join(refDir, row.outputs[0]!)).toBytes(); // a complete output loads
    const newHashes = row.outputs.map((f) => sha(path.join(refDir, f)));
    const prevDir = tmp.make('prev');
    if (row.previous) row.previous(small, prevDir);
    else cpSync(small, path.join(prevDir, row.outputs[0]!));
    const prevHashes = row.outputs.map((f) => sha(path.join(prevDir, f)));
    expect(prevHashes, 'the previous output differs from the new one').to.not.deep.equal(newHashes);

    const rnd = mulberry32(7 + row.id.length);
    const seen: Record<string, number> = {};
    for (let k = 0; k < TRIALS; k++) {
      const dir = tmp.make('trial');
      const withPrevious = k % 2 === 0;
      if (withPrevious) for (const f of row.outputs) cpSync(path.join(prevDir, f), path.join(dir, f));
      // a third of the kills anywhere in the run, a third in its last 40%, a third while a
      // temporary file exists (0-30 ms after it appears: the output is being written)
      const mode = k % 3;
      const delay = mode === 2 ? Math.floor(rnd() * 30) : Math.floor(ref.ms * (mode === 0 ? rnd() * 1.1 : 0.65 + rnd() * 0.4));
      const r = await runCli(row.argv(rowInput, dir), delay, mode === 2 ? dir : undefined);
      const states: FileState[] = row.outputs.map((f, i) => {
        const h = sha(path.join(dir, f));
        if (h === undefined) return 'absent';
        if (h === newHashes[i]) return 'new';
        if (withPrevious && h === prevHashes[i]) return 'previous';
        return 'partial';
      });
      const old = states.every((s) => (withPrevious ? s === 'previous' : s === 'absent'));
      const complete = states.every((s) => s === 'new');
      // multi-file outputs: the referring file may be gone while the others are old or new
      const referrerRemoved = row.outputs.length > 1 && states[0] === 'absent' && states.slice(1).every((s) => s !== 'partial');
      const what = `trial ${k} (kill ${delay} ms after ${mode === 2 ? 'a temporary file appeared' : `the start, of ~${ref.ms.toFixed(0)}`}, ${r.signal ?? `exit ${r.status}`}, previous output: ${withPrevious}): ${row.outputs.map((f, i) => `${f}=${states[i]}`).join(' ')}`;
      expect(old || complete || referrerRemoved, what).to.equal(true);
      expect(inputs.map(sha), `input changed in ${what}`).to.deep.equal(inputHashes);
      const label = complete ? 'new' : old ? 'previous' : 'referrer-removed';
      seen[label] = (seen[label] ?? 0) + 1;
      if (readdirSync(dir).some((f) => f.endsWith('.tmp'))) seen['killed mid-write'] = (seen['killed mid-write'] ?? 0) + 1;
      if (r.signal === null) expect(r.status, r.stderr).to.equal(0);

      // the next unkilled run completes and removes the temporary files the kill left
      if (k === TRIALS - 1 || k % 4 === 3) {
        const again = await runCli(row.argv(rowInput, dir));
        expect(again.status, again.stderr).to.equal(0);
        expect(row.outputs.map((f) => sha(path.join(dir, f)))).to.deep.equal(newHashes);
        expect(readdirSync(dir).filter((f) => f.endsWith('.tmp')), 'temporary files left after a complete run').to.deep.equal([]);
      }
      rmSync(dir, { recursive: true, force: true });
    }
    console.log(`      outcomes: ${Object.entries(seen).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  }
});
