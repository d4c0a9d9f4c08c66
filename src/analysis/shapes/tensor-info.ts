/** Shape info of a TensorProto; defined in `src/ops/shape-common/tensor-info.ts` (re-exported). */
export * from '../../ops/shape-common/tensor-info.js';
