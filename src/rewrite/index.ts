/** General graph rewriting: one pure pass per file, and patch files that run them in order. */
export { extract, type ExtractOptions } from './extract.js';
export { rename, type RenameOptions } from './rename.js';
export { setShape, type SetShapeOptions } from './set-shape.js';
export { replaceOp, parseOpSpec, describeSpec, type ReplaceOpOptions, type OpSpec } from './replace-op.js';
export { removeNode, type RemoveOptions } from './remove.js';
export { fold, type FoldOptions } from './fold.js';
export { cleanupAndSort } from './cleanup.js';
export { selectNodes, stageNodes, type Selection, type SelectOptions } from './select.js';
export {
  applyPatch,
  applyStep,
  parsePatch,
  normalizePatch,
  normalizeStep,
  describeStep,
  recordPatch,
  recordedPatches,
  PATCH_METADATA_KEY,
  STEP_OPS,
  type Patch,
  type PatchStep,
  type PatchRecord,
  type StepReport,
  type ApplyOptions,
} from './patch.js';
