/**
 * A long chain of cheap ops on a tiny tensor (Relu, Add of a shared constant, Identity, in turn):
 * the structural stress model of the resource promise (docs/RELIABILITY.md). `nodes` nodes, about
 * 25 bytes each on disk; used by the structural benchmark and the reliability tests.
 */
import { encode } from '../onnx/codec.js';
import type { ModelProto, NodeProto } from '../onnx/proto-types.js';

export function chainModel(nodes: number): ModelProto {
  const node: NodeProto[] = [];
  let prev = 'x';
  for (let i = 0; i < nodes; i++) {
    const out = i === nodes - 1 ? 'y' : `v${i}`;
    const kind = i % 3;
    if (kind === 0) node.push({ op_type: 'Relu', input: [prev], output: [out], name: `n${i}` });
    else if (kind === 1) node.push({ op_type: 'Add', input: [prev, 'c'], output: [out], name: `n${i}` });
    else node.push({ op_type: 'Identity', input: [prev], output: [out], name: `n${i}` });
    prev = out;
  }
  const info = (name: string) => ({ name, type: { tensor_type: { elem_type: 1, shape: { dim: [{ dim_value: 1 }, { dim_value: 4 }] } } } });
  const c = new Float32Array([0.5, -0.25, 0.125, 0]);
  return {
    ir_version: 8,
    producer_name: 'iqa-surgeon-bench',
    opset_import: [{ domain: '', version: 13 }],
    graph: {
      name: 'chain',
      node,
      input: [info('x')],
      output: [info('y')],
      initializer: [{ name: 'c', dims: [4], data_type: 1, raw_data: new Uint8Array(c.buffer) }],
    },
  };
}

export function chainModelBytes(nodes: number): Uint8Array {
  return encode(chainModel(nodes), 'ModelProto');
}
