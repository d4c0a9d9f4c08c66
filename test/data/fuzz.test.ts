/**
 * Fuzzing the data commands (rows in src/reliability/data-rows.ts): damaged images and damaged KonIQ
 * CSVs must end with exit 0 or a one-line exit 1, within the time and memory bounds. Needs dist/
 * (built by npm test's pretest). IQA_FUZZ_CASES / IQA_FUZZ_SEED change the share.
 */
import { expect } from 'chai';
import { DATA_FUZZ_TARGETS, DATA_INPUT_KINDS } from '../../src/reliability/data-rows.js';
import { runFuzz } from '../../src/reliability/fuzz.js';
import { formatCaseList } from '../reliability/fuzz-report.js';
import { requireBuild } from '../helpers/test-data.js';

const CASES = Math.max(20, Math.round(Number(process.env.IQA_FUZZ_CASES ?? 300) / 5));
const SEED = Number(process.env.IQA_FUZZ_SEED ?? 20261125);

describe('fuzzing the data commands', function () {

  before(function () {
    requireBuild(['dist/cli/fuzz-worker.js', 'dist/data/loader.js']);
  });

  it(`${CASES} seeded cases of damaged images and CSVs: exit 0 or a clear exit 1`, async () => {
    const report = await runFuzz({ cases: CASES, seed: SEED, childEvery: 5, timeLimitMs: 5000, memLimitMiB: 1024, targetTable: DATA_FUZZ_TARGETS, kindTable: DATA_INPUT_KINDS });
    console.log(`      ${report.cases} cases in ${(report.wallMs / 1000).toFixed(1)} s: ${report.accepted} accepted, ${report.rejected} rejected, ${report.failures.length} failures`);
    expect(report.failures, formatCaseList(report.failures)).to.deep.equal([]);
    for (const t of DATA_FUZZ_TARGETS) expect(report.byTarget[t.id]!.accepted + report.byTarget[t.id]!.rejected, t.id).to.be.greaterThan(0);
    expect(report.rejected).to.be.greaterThan(0);
  });
});
