/** Symbolic dims (polynomials over named dims); defined in `src/ops/shape-common/symbolic.ts` (re-exported). */
export * from '../../ops/shape-common/symbolic.js';
