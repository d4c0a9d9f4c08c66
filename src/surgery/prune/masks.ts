/**
 * Pruning masks in the graph: a parameter p read by a node becomes Mul(p, mask) with a constant
 * 0/1 mask along its channel axis (axis 0), so a pruned channel stays exactly zero through
 * fine-tuning (its gradient is masked too); the stored values of pruned channels are zeroed as well,
 * so the file itself holds zeros there.
 */
import { UserError } from '../../errors.js';
import type { Graph } from '../../ir/graph.js';
import type { Node } from '../../ir/node.js';
import { DataType } from '../../onnx/data-types.js';
import { tensorDims, tensorTypedData } from '../../onnx/tensor-data.js';
import { float32Tensor } from '../emit.js';

/** Suffix of mask initializers (parameter selection leaves them out: they are not trainable). */
export const MASK_SUFFIX = '.prune_mask';

export interface MaskedParameter {
  /** The parameter's initializer name. */
  parameter: string;
  /** The mask initializer's name. */
  mask: string;
  /** The node that reads the masked value. */
  node: string;
}

/** Float32 data of an initializer input of `node` (input `index`), checked to have `channels` rows. */
function parameterData(node: Node, index: number, channels: number): { name: string; dims: number[]; data: Float32Array } {
  const v = node.input(index);
  const t = v?.initializer;
  if (!v || !t) throw new UserError('prune', `input ${index} of ${node.opType} '${node.name}' is not an initializer; it cannot be masked`);
  if (t.data_type !== DataType.FLOAT) throw new UserError('prune', `parameter '${v.name}' of '${node.name}' is not float32; only float32 models can be pruned`);
  const dims = tensorDims(t);
  if (dims[0] !== channels) throw new UserError('prune', `parameter '${v.name}' of '${node.name}' has ${dims[0]} rows, not the ${channels} channels being pruned`);
  return { name: v.name, dims, data: Float32Array.from(tensorTypedData(t) as Float32Array) };
}

/**
 * Zero the channels `pruned` of input `index` of `node` and read it through a mask. Returns what
 * was added. The parameter must be read by this node only (a shared parameter is refused).
 */
export function maskParameter(g: Graph, node: Node, index: number, channels: number, pruned: readonly number[]): MaskedParameter {
  const { name, dims, data } = parameterData(node, index, channels);
  const v = node.input(index)!;
  if (v.uses().length !== 1 || v.isGraphOutput) throw new UserError('prune', `parameter '${name}' is shared by several nodes; masking it for '${node.name}' would change the others`);
  const per = data.length / channels;
  for (const c of pruned) data.fill(0, c * per, (c + 1) * per);
  v.initializer = { ...float32Tensor(dims, data), name };
  const mask = new Float32Array(channels).fill(1);
  for (const c of pruned) mask[c] = 0;
  const maskDims = [channels, ...dims.slice(1).map(() => 1)];
  const maskValue = g.addInitializer(`${name}${MASK_SUFFIX}`, float32Tensor(maskDims, mask));
  const mul = g.addNode({ opType: 'Mul', inputs: [v, maskValue], name: `${name}${MASK_SUFFIX}/Mul`, outputs: [`${name}.masked`], before: node });
  node.setInput(index, mul.output(0));
  return { parameter: name, mask: maskValue.name, node: node.name };
}
