import type { CaseOutcome } from '../../src/reliability/fuzz.js';

/** Failed cases as readable lines for an assertion message. */
export function formatCaseList(failures: CaseOutcome[]): string {
  return failures
    .slice(0, 20)
    .map((f) => `case ${f.index} [${f.target} ${f.seed} ${f.mutator} ${f.mode}] ${f.failure}: ${f.message} (${f.note}; kept at ${f.keptAt})`)
    .join('\n');
}
