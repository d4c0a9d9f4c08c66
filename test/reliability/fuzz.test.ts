/**
 * The CI share of the fuzzing campaign (`npm run fuzz` runs the full one): a few hundred seeded
 * cases over every command and input kind in src/reliability/targets.ts and inputs.ts, each of
 * which must end with exit 0 or a one-line exit 1 (3 where the command validates its result),
 * within the time and memory bounds. Deterministic: the same seed gives the same cases.
 * IQA_FUZZ_CASES / IQA_FUZZ_SEED change the share. Needs dist/ (built by npm test's pretest).
 */
import { expect } from 'chai';
import { runFuzz } from '../../src/reliability/fuzz.js';
import { formatCaseList } from './fuzz-report.js';
import { requireBuild } from '../helpers/test-data.js';

const CASES = Number(process.env.IQA_FUZZ_CASES ?? 300);
const SEED = Number(process.env.IQA_FUZZ_SEED ?? 20261125);

describe('fuzzing (CI share of npm run fuzz)', function () {

  before(function () {
    requireBuild(['dist/cli/fuzz-worker.js', 'dist/cli/main.js']);
  });

  it(`${CASES} seeded cases over every command and input: exit 0 or a clear exit 1, within 5 s and 1 GiB`, async () => {
    const report = await runFuzz({ cases: CASES, seed: SEED, childEvery: 10, timeLimitMs: 5000, memLimitMiB: 1024 });
    console.log(
      `      ${report.cases} cases in ${(report.wallMs / 1000).toFixed(1)} s: ${report.accepted} accepted, ${report.rejected} rejected, ` +
        `${report.failures.length} failures; slowest ${report.maxMs.toFixed(0)} ms, largest child RSS ${report.maxRssMiB.toFixed(0)} MiB`,
    );
    expect(report.failures, formatCaseList(report.failures)).to.deep.equal([]);
    expect(report.skipped, 'mutations that could not be made').to.be.below(CASES / 20);
    // the share reaches every target and both outcomes
    for (const t of Object.keys(report.byTarget)) expect(report.byTarget[t]!.accepted + report.byTarget[t]!.rejected, t).to.be.greaterThan(0);
    expect(report.accepted).to.be.greaterThan(CASES / 10);
    expect(report.rejected).to.be.greaterThan(CASES / 10);
    expect(report.childCases).to.be.greaterThan(0);
  });

  it('is repeatable: the same seed and case give the same outcome', async () => {
    const a = await runFuzz({ cases: 20, seed: 99, start: 40, childEvery: 0 });
    const b = await runFuzz({ cases: 20, seed: 99, start: 40, childEvery: 0 });
    const sorted = (o: Record<string, unknown>): unknown[] => Object.entries(o).sort(([x], [y]) => (x < y ? -1 : 1));
    const sig = (r: typeof a): string => JSON.stringify([r.accepted, r.rejected, sorted(r.byMutator), sorted(r.messages)]);
    expect(sig(a)).to.equal(sig(b));
  });
});
