/** Dim arithmetic and broadcasting; defined in `src/ops/shape-common/dims.ts` (re-exported). */
export * from '../../ops/shape-common/dims.js';
