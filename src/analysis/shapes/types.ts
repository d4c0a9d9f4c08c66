/**
 * Types shared by shape inference. They live with the op registry (`src/ops/shape-common/`),
 * beside the shape rules that use them; re-exported here for analysis and its importers.
 */
export type * from '../../ops/shape-common/types.js';
