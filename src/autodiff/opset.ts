/**
 * Which default-domain opset the gradient graph imports. Gradient rules prefer opset 16
 * (ScatterElements with reduction 'add', for MaxPool's backward), but raising a model's opset
 * changes the meaning of some forward nodes (ReduceSum's axes moved from an attribute to an input
 * at 13, ReduceMean's at 18, Squeeze/Unsqueeze/Split at 13, Softmax's axis at 13, ...). The
 * gradient graph therefore imports max(model's, 16) only when no forward node's op changed
 * meaning between the two; otherwise it keeps the model's opset and rules use older constructs.
 */
import { UserError } from '../errors.js';
import type { Model } from '../ir/model.js';

/** The preferred opset of gradient graphs. */
export const PREFERRED_OPSET = 16;

/**
 * Versions at which an op's existing nodes changed meaning (an attribute became an input, a
 * default changed, an axis convention changed). Versions that only add types or optional
 * attributes with the old default are compatible and not listed.
 */
export const MEANING_CHANGES: Readonly<Record<string, readonly number[]>> = {
  Add: [7], Sub: [7], Mul: [7], Div: [7], Pow: [7], Gemm: [7], PRelu: [7],
  BatchNormalization: [7, 9], InstanceNormalization: [6], Dropout: [7, 12],
  Concat: [4], Reshape: [5], Upsample: [7, 9, 10], Resize: [11], Slice: [10], TopK: [10, 11],
  Clip: [11], Pad: [11], Split: [2, 13, 18], Squeeze: [13], Unsqueeze: [13],
  Softmax: [13], LogSoftmax: [13], Hardmax: [13],
  ReduceSum: [13], ReduceMean: [18], ReduceMax: [18], ReduceMin: [18], ReduceProd: [18], ReduceL1: [18], ReduceL2: [18],
  ReduceLogSum: [18], ReduceLogSumExp: [18], ReduceSumSquare: [18],
  AveragePool: [7, 10, 11], MaxPool: [8, 10, 11], LpPool: [11], RoiAlign: [16], GroupNormalization: [21],
  Scatter: [11], Cast: [6], Flatten: [9], DepthToSpace: [11], ArgMax: [11], ArgMin: [11], Gather: [11],
};

/**
 * Pools changed only by attributes added with the old behaviour as default (count_include_pad at
 * 7, ceil_mode and dilations at 10) and by the SAME_* output-size rule at 11: a pool node without
 * auto_pad SAME_* means the same at 16.
 */
const POOLS = new Set(['AveragePool', 'MaxPool', 'LpPool']);

/** The smallest IR version that may import a given default-domain opset. */
function irFor(opset: number): number {
  if (opset >= 21) return 10;
  if (opset >= 19) return 9;
  if (opset >= 16) return 8;
  if (opset >= 14) return 7;
  return 3;
}

export interface OpsetChoice {
  version: number;
  irVersion: number;
  /** Why the preferred opset was not taken (when it was not). */
  note?: string;
}

/** The model's default-domain opset (a model importing none is refused). */
export function modelOpset(model: Model): number {
  const v = model.opsetVersion('');
  if (v === undefined) throw new UserError('autodiff-opset', 'the model imports no default-domain (ai.onnx) opset; it cannot be differentiated');
  return v;
}

/** The opset the gradient graph imports, raised to 16 only where no forward node changes meaning. */
export function chooseOpset(model: Model): OpsetChoice {
  const base = modelOpset(model);
  const ir = model.irVersion;
  if (base >= PREFERRED_OPSET) return { version: base, irVersion: ir };
  for (const n of model.graph.allNodes()) {
    if (n.domain !== '') continue;
    if (POOLS.has(n.opType) && !['SAME_UPPER', 'SAME_LOWER'].includes(n.attrString('auto_pad', 'NOTSET'))) continue;
    const change = (MEANING_CHANGES[n.opType] ?? []).find((c) => c > base && c <= PREFERRED_OPSET);
    if (change !== undefined) {
      return { version: base, irVersion: ir, note: `kept the model's opset ${base}: ${n.opType} (node '${n.label}') changes meaning at opset ${change}` };
    }
  }
  return { version: PREFERRED_OPSET, irVersion: Math.max(ir, irFor(PREFERRED_OPSET)) };
}
