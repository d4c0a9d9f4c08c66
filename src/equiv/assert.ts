/**
 * `assertEquivalent`: the equivalence check as one call for users' own regression tests. Resolves
 * to the report when the models are equivalent; otherwise throws an `EquivalenceError` whose
 * message is the text report (so a test runner prints exactly what the CLI would).
 */
import { CheckFailedError } from '../errors.js';
import { compareModels, type EquivOptions, type ModelRef } from './compare.js';
import { formatReport, type EquivReport } from './report.js';

export class EquivalenceError extends CheckFailedError {
  readonly result: EquivReport;
  constructor(result: EquivReport) {
    const text = formatReport(result);
    super(text, text);
    this.name = 'EquivalenceError';
    this.result = result;
  }
}

/**
 * Throws `EquivalenceError` unless `b` computes the same as `a` (numeric by default: every output
 * within `atol` OR `rtol` on seeded random inputs; `structural: true` for graph equality).
 * `a` and `b` are file paths or `Model`s. Bad input (a missing file) throws a `UserError`.
 */
export async function assertEquivalent(a: ModelRef, b: ModelRef, opts: EquivOptions = {}): Promise<EquivReport> {
  const report = await compareModels(a, b, opts);
  if (!report.equivalent) throw new EquivalenceError(report);
  return report;
}
