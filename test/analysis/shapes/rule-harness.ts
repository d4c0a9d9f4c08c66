/**
 * Tiny hand-built graphs for rule tests: build a model from node protos, infer its shapes with
 * the static rules, and check them against what ONNX Runtime actually produces.
 */
import { expect } from 'chai';
import { inferShapesStatic } from '../../../src/analysis/shapes/infer.js';
import type { ShapeMap } from '../../../src/analysis/shapes/shape-map.js';
import type { Dim } from '../../../src/analysis/shapes/types.js';
import { makeAttribute, type AttrValue } from '../../../src/ir/attributes.js';
import { Model } from '../../../src/ir/model.js';
import type { AttributeProto, NodeProto, TensorProto, ValueInfoProto } from '../../../src/onnx/proto-types.js';
import { model, node } from '../../helpers/proto-build.js';
import { runAllValues, shapeMismatches } from '../../helpers/ort-all-values.js';

export { floatTensor, int64Tensor, tensorInfo, FLOAT } from '../../helpers/proto-build.js';

export const INT64 = 7;

/** A node; attributes as a record (`kind` entries force int/float lists, e.g. scales). */
export function op(opType: string, inputs: string[], outputs: string[], attrs: Record<string, AttrValue | AttributeProto> = {}): NodeProto {
  const attribute = Object.entries(attrs).map(([k, v]) => (isAttr(v) ? { ...v, name: k } : makeAttribute(k, v)));
  return node(opType, inputs, outputs, `${opType.toLowerCase()}_${outputs[0]}`, attribute.length ? { attribute } : {});
}

function isAttr(v: unknown): v is AttributeProto {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && ('floats' in v || 'f' in v || 'ints' in v);
}

/** A float-list attribute even when every entry is an integer (scales [1, 1, 2, 2]). */
export const floats = (xs: number[]): AttributeProto => makeAttribute('', xs, 'floats');
export const float = (x: number): AttributeProto => makeAttribute('', x, 'float');

export interface Case {
  nodes: NodeProto[];
  inputs: ValueInfoProto[];
  initializers?: TensorProto[];
  /** Graph outputs (default: the last node's outputs), declared by name only (no type). */
  outputs?: string[];
  opset?: number;
}

export function buildModel(c: Case): Model {
  const outs = c.outputs ?? (c.nodes[c.nodes.length - 1]!.output ?? []).filter((o) => o !== '');
  const spec = {
    nodes: c.nodes,
    inputs: c.inputs,
    outputs: outs.map((name) => ({ name })),
    opset: c.opset ?? 13,
    ...(c.initializers ? { initializers: c.initializers } : {}),
  };
  return new Model(model(spec));
}

/** Static shapes of a case, asserted equal to ONNX Runtime's for the given feed shapes. */
export async function checkAgainstOrt(c: Case, feedShapes: Record<string, number[]>, bindings: Record<string, number> = {}): Promise<ShapeMap> {
  const m = buildModel(c);
  const map = inferShapesStatic(m);
  const actual = await runAllValues(m, feedShapes);
  expect(shapeMismatches(map, actual, bindings)).to.deep.equal([]);
  return map;
}

/** Assert a value's inferred shape and that a rule (of `rule`, when given) produced it. */
export function expectRuled(map: ShapeMap, name: string, shape: Dim[], rule?: string): void {
  const info = map.get(name);
  expect(info, `no shape for '${name}'`).to.not.equal(undefined);
  expect(info!.shape, `shape of '${name}'`).to.deep.equal(shape);
  expect(info!.source, `source of '${name}'`).to.equal('rule');
  if (rule) expect(info!.rule).to.equal(rule);
}
