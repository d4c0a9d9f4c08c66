/**
 * Normalizations: BatchNormalization (with its training outputs), LayerNormalization (with Mean
 * and InvStdDev), and the same-shape ones (InstanceNormalization, LRN, GroupNormalization, MVN,
 * Softmax, LogSoftmax, Hardmax).
 */
import { DataType } from '../onnx/data-types.js';
import type { ShapeRule } from './shape-common/types.js';
import { normAxis, out, same } from './shape-common/util.js';
import type { ShapeRuleTable } from './types.js';

/** Y like X; the optional statistics outputs (training mode, old opsets) are per channel: [C]. */
const batchNorm: ShapeRule = (node, inputs) => {
  const x = inputs[0]?.shape;
  const y = same(inputs[0]);
  if (!x || !y) return undefined;
  const perChannel = inputs[1]?.shape ?? (x.length >= 2 ? [x[1]!] : undefined);
  const statType = inputs[3]?.elemType ?? inputs[0]?.elemType;
  return node.outputs.map((_, i) => (i === 0 ? y : perChannel ? out([...perChannel], statType) : undefined));
};

/** Y like X; Mean and InvStdDev keep the dims before `axis` and are 1 from `axis` on. */
const layerNorm: ShapeRule = (node, inputs) => {
  const x = inputs[0]?.shape;
  const y = same(inputs[0]);
  if (!x || !y) return undefined;
  const axis = normAxis(node, node.attrInt('axis', -1), x.length);
  const statType = node.attrInt('stash_type', 1) === 1 ? DataType.FLOAT : inputs[0]?.elemType;
  const stat = [...x.slice(0, axis), ...x.slice(axis).map(() => 1)];
  return [y, out([...stat], statType), out([...stat], statType)];
};

const sameShape: ShapeRule = (_node, inputs) => [same(inputs[0])];

export const NORM_SHAPE_RULES: ShapeRuleTable = {
  BatchNormalization: batchNorm,
  LayerNormalization: layerNorm,
  InstanceNormalization: sameShape,
  GroupNormalization: sameShape,
  LRN: sameShape,
  MeanVarianceNormalization: sameShape,
  Softmax: sameShape,
  LogSoftmax: sameShape,
  Hardmax: sameShape,
};
