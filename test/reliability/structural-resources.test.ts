/**
 * Issue 11, defect 5 (structural part): a 190k-node model took 24.5 s and 1.6 GB in `cleanup` and
 * 1.7 GB in `equiv`, inside the default caps. The resource promise (docs/RELIABILITY.md) now holds
 * for the structural commands: a chain model at the default node cap runs within 1 GiB above its
 * size, and the 200,000-node model is refused at the cap with one line. Each command is a child
 * process with its peak RSS measured; the time bound is a generous hang bound only (timings are in
 * `npm run bench -- --only structural`, docs/BENCHMARKS.md).
 */
import { expect } from 'chai';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { chainModelBytes } from '../../src/bench/chain-model.js';
import { DEFAULT_LIMITS } from '../../src/onnx/model-io.js';
import { runCliMeasured, type ChildResult } from '../../src/reliability/child-run.js';
import { TempDirs } from '../helpers/temp-dir.js';
import { requireBuild } from '../helpers/test-data.js';

const tmp = new TempDirs('iqa-structural');
const HANG_MS = 240_000;
const GiB_KiB = 1024 * 1024;

function expectWithinPromise(r: ChildResult, fileBytes: number, what: string): void {
  expect(r.timedOut, `${what}: hung`).to.equal(false);
  expect(r.signal, `${what}: killed`).to.equal(null);
  if (Number.isFinite(r.maxRssKiB)) expect(r.maxRssKiB, `${what}: peak RSS KiB`).to.be.below(GiB_KiB + fileBytes / 1024);
}

describe('structural commands keep the resource promise (issue 11, defect 5)', () => {
  let dir = '';
  let atCap = '';
  let atCapBytes = 0;
  let huge = '';
  let hugeBytes = 0;
  before(() => {
    requireBuild();
    dir = tmp.make('chain');
    const a = chainModelBytes(DEFAULT_LIMITS.maxNodes);
    atCap = path.join(dir, 'at-cap.onnx');
    writeFileSync(atCap, a);
    atCapBytes = a.length;
    const b = chainModelBytes(200_000);
    huge = path.join(dir, 'chain200k.onnx');
    writeFileSync(huge, b);
    hugeBytes = b.length;
  });
  after(() => tmp.cleanup());

  it(`cleanup of a ${DEFAULT_LIMITS.maxNodes}-node chain (the default cap) succeeds within 1 GiB above its size`, async () => {
    const r = await runCliMeasured(['cleanup', atCap, '-o', path.join(dir, 'clean.onnx')], { timeoutMs: HANG_MS, scratch: dir });
    expectWithinPromise(r, atCapBytes, 'cleanup');
    expect(r.status, r.stderr).to.equal(0);
  });

  it(`equiv --structural of the ${DEFAULT_LIMITS.maxNodes}-node chain with itself: equal, within 1 GiB above the two files`, async () => {
    const r = await runCliMeasured(['equiv', '--structural', atCap, atCap], { timeoutMs: HANG_MS, scratch: dir });
    expectWithinPromise(r, 2 * atCapBytes, 'equiv');
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stdout).to.match(new RegExp(`EQUIVALENT: structurally equal \\(${DEFAULT_LIMITS.maxNodes} nodes\\)`));
  });

  for (const args of [['cleanup', '-o', 'out.onnx'], ['equiv', '--structural'], ['inspect']]) {
    it(`${args[0]} of a 200,000-node chain is refused at the node cap, one line, exit 1 (was: 1.6 GB and 25 s)`, async () => {
      const argv = args[0] === 'equiv' ? [...args, huge, huge] : args[0] === 'cleanup' ? ['cleanup', huge, '-o', path.join(dir, 'out.onnx')] : ['inspect', huge];
      const r = await runCliMeasured(argv, { timeoutMs: HANG_MS, scratch: dir });
      expectWithinPromise(r, hugeBytes, args[0]!);
      expect(r.status, r.stderr).to.equal(1);
      expect(r.stderr).to.match(new RegExp(`^iqa-surgeon: error: the model has more than ${DEFAULT_LIMITS.maxNodes} nodes, over the limit \\(raise it with --max-nodes\\)\\n$`));
      if (Number.isFinite(r.maxRssKiB)) expect(r.maxRssKiB / 1024, 'a refusal costs little: peak RSS MiB').to.be.below(400);
    });
  }
});
