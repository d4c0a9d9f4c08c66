/**
 * Pools: MaxPool (with its Indices output), AveragePool, LpPool, and the global pools.
 */
import { DataType } from '../onnx/data-types.js';
import type { ShapeRule } from './shape-common/types.js';
import { fail, out, requireRank } from './shape-common/util.js';
import type { ShapeRuleTable } from './types.js';
import { windowAttrs, windowOut } from './shape-common/window.js';

function pool(opts: { dilations: (opset: number) => boolean; ceilMode: (opset: number) => boolean; indices?: boolean }): ShapeRule {
  return (node, inputs, ctx) => {
    const x = inputs[0]?.shape;
    if (!x) return undefined;
    requireRank(node, x, 3, 'input X');
    const kernel = node.attrInts('kernel_shape');
    if (!kernel) return fail(node, 'kernel_shape is required');
    if (kernel.length !== x.length - 2) fail(node, `kernel_shape [${kernel.join(', ')}] does not match input rank ${x.length}`);
    const attrs = windowAttrs(node, kernel, { dilations: opts.dilations(ctx.opset), ceilMode: opts.ceilMode(ctx.opset) });
    const shape = [x[0]!, x[1]!, ...kernel.map((_, i) => windowOut(node, x[i + 2]!, attrs, i))];
    const result = [out(shape, inputs[0]?.elemType)];
    if (opts.indices) result.push(out([...shape], DataType.INT64));
    return result;
  };
}

const globalPool: ShapeRule = (node, inputs) => {
  const x = inputs[0]?.shape;
  if (!x) return undefined;
  requireRank(node, x, 3, 'input X');
  return [out([x[0]!, x[1]!, ...x.slice(2).map(() => 1)], inputs[0]?.elemType)];
};

export const POOL_SHAPE_RULES: ShapeRuleTable = {
  MaxPool: pool({ dilations: (v) => v >= 10, ceilMode: (v) => v >= 10, indices: true }),
  AveragePool: pool({ dilations: (v) => v >= 19, ceilMode: (v) => v >= 10 }),
  LpPool: pool({ dilations: (v) => v >= 18, ceilMode: (v) => v >= 18 }),
  GlobalMaxPool: globalPool,
  GlobalAveragePool: globalPool,
  GlobalLpPool: globalPool,
};
