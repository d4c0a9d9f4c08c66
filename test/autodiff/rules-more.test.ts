/**
 * Gradient rules of pools, BatchNormalization, shape/slice ops, ReduceMean and the smooth unary
 * ops, each on a small model, against central finite differences of ONNX Runtime's forward
 * (test/autodiff/harness.ts); the opset policy (raise to 16 only when no forward node changes
 * meaning) and the refusal of what a rule cannot do.
 */
import { expect } from 'chai';
import { buildGradientGraph, checkDifferentiable } from '../../src/autodiff/index.js';
import { UserError } from '../../src/errors.js';
import type { AttributeProto, NodeProto } from '../../src/onnx/proto-types.js';
import { expectGradientsMatch, expectWrongGradientFails, randn, RELU_STEPS, smallCase, type TVal } from './harness.js';

const ints = (name: string, v: number[]): AttributeProto => ({ name, ints: v, type: 7 });
const int = (name: string, v: number): AttributeProto => ({ name, i: v, type: 2 });
const flt = (name: string, v: number): AttributeProto => ({ name, f: v, type: 1 });
const nd = (op: string, ins: string[], attrs: AttributeProto[] = [], outs = ['y'], name = `n_${op}`): NodeProto => ({ op_type: op, input: ins, output: outs, name, attribute: attrs });
const n = (dims: number[]): number => dims.reduce((a, b) => a * b, 1);
const val = (name: string, dims: number[], seed: number, init = false, scale = 1): TVal => ({ name, dims, data: randn(n(dims), seed, scale), init });
const i64 = (name: string, data: number[]): TVal => ({ name, dims: [data.length], data, init: true, type: 7 });

describe('autodiff rules: pools, norm, shape, slice, reduce, unary', function () {
  this.timeout(120000);

  const maxCases: [string, AttributeProto[], number[]][] = [
    ['3x3 stride 2 pads 1 (overlapping, the ResNet stem)', [ints('kernel_shape', [3, 3]), ints('strides', [2, 2]), ints('pads', [1, 1, 1, 1])], [2, 3, 9, 8]],
    ['2x2 stride 2 (VGG)', [ints('kernel_shape', [2, 2]), ints('strides', [2, 2])], [2, 3, 8, 6]],
    ['3x3 stride 2 ceil_mode', [ints('kernel_shape', [3, 3]), ints('strides', [2, 2]), int('ceil_mode', 1)], [1, 2, 8, 8]],
  ];
  for (const [what, attrs, dims] of maxCases) {
    it(`MaxPool ${what}`, async () => {
      const kase = smallCase([nd('MaxPool', ['x'], attrs)], [val('x', dims, 11)], ['y']);
      const r = await expectGradientsMatch(kase, { steps: RELU_STEPS });
      expect(r.graph.opset?.version).to.equal(16);
      await expectWrongGradientFails(kase, { steps: RELU_STEPS }, r);
    });
  }

  it('MaxPool on an opset-11 model whose Squeeze would change meaning at 13: non-overlapping works, overlapping is refused by name', async () => {
    const nodes = [nd('Unsqueeze', ['x'], [ints('axes', [0])], ['u'], 'unsq'), nd('Squeeze', ['u'], [ints('axes', [0])], ['s'], 'sq')];
    const ok = smallCase([...nodes, nd('MaxPool', ['s'], [ints('kernel_shape', [2, 2]), ints('strides', [2, 2])])], [val('x', [1, 2, 6, 6], 3)], ['y'], { opset: 11 });
    const r = await expectGradientsMatch(ok, { steps: RELU_STEPS });
    expect(r.graph.opset?.version).to.equal(11);
    expect(r.graph.opset?.note).to.match(/Unsqueeze \(node 'unsq'\) changes meaning at opset 13/);
    const bad = smallCase([...nodes, nd('MaxPool', ['s'], [ints('kernel_shape', [3, 3]), ints('strides', [2, 2])], ['y'], 'pool1')], [val('x', [1, 2, 7, 7], 3)], ['y'], { opset: 11 });
    expect(() => checkDifferentiable(bad.model, { loss: { kind: 'mean', output: 'y' }, inputs: ['x'] })).to.throw(UserError, /op 'MaxPool' cannot differentiate node 'pool1': overlapping windows need ScatterElements with reduction 'add' \(opset 16\)/);
  });

  const avgCases: [string, AttributeProto[], number[]][] = [
    ['2x2 stride 2', [ints('kernel_shape', [2, 2]), ints('strides', [2, 2])], [2, 3, 6, 7]],
    ['3x3 stride 2 pads 1, count_include_pad 0', [ints('kernel_shape', [3, 3]), ints('strides', [2, 2]), ints('pads', [1, 1, 1, 1])], [1, 2, 7, 8]],
    ['3x3 stride 2 pads 1, count_include_pad 1', [ints('kernel_shape', [3, 3]), ints('strides', [2, 2]), ints('pads', [1, 1, 1, 1]), int('count_include_pad', 1)], [1, 2, 7, 8]],
    ['3x3 stride 2 ceil_mode, pads 1 0', [ints('kernel_shape', [3, 3]), ints('strides', [2, 2]), ints('pads', [1, 1, 0, 0]), int('ceil_mode', 1)], [1, 2, 8, 8]],
  ];
  for (const [what, attrs, dims] of avgCases) {
    it(`AveragePool ${what}`, async () => {
      await expectGradientsMatch(smallCase([nd('AveragePool', ['x'], attrs)], [val('x', dims, 12)], ['y']));
    });
  }

  it('GlobalAveragePool and GlobalMaxPool', async () => {
    await expectGradientsMatch(smallCase([nd('GlobalAveragePool', ['x'])], [val('x', [2, 3, 5, 4], 13)], ['y']));
    await expectGradientsMatch(smallCase([nd('GlobalMaxPool', ['x'])], [val('x', [2, 3, 5, 4], 14)], ['y']), { steps: RELU_STEPS });
  });

  it('BatchNormalization (inference form): x, scale, B, mean and var', async () => {
    const vals = [val('x', [2, 3, 4, 5], 1), val('s', [3], 2, true), val('b', [3], 3, true), val('m', [3], 4, true), { name: 'v', dims: [3], data: [0.5, 1.3, 2.2], init: true }];
    const kase = smallCase([nd('BatchNormalization', ['x', 's', 'b', 'm', 'v'], [flt('epsilon', 1e-3)])], vals, ['y']);
    await expectGradientsMatch(kase);
    await expectWrongGradientFails(kase);
  });

  it('Reshape, Flatten, Transpose, Squeeze, Unsqueeze in a chain', async () => {
    const nodes = [
      nd('Reshape', ['x', 'shp'], [], ['a'], 'r'),
      nd('Transpose', ['a'], [ints('perm', [2, 0, 1])], ['b'], 't'),
      nd('Unsqueeze', ['b', 'ax'], [], ['c'], 'u'),
      nd('Squeeze', ['c', 'ax'], [], ['d'], 's'),
      nd('Flatten', ['d'], [int('axis', 1)], ['e'], 'f'),
      nd('Mul', ['e', 'w'], [], ['y'], 'm'),
    ];
    const vals = [val('x', [2, 12], 1), i64('shp', [2, 3, 4]), i64('ax', [1]), val('w', [4, 6], 2, true)];
    await expectGradientsMatch(smallCase(nodes, vals, ['y']));
  });

  it('Concat (axis 1) and Slice (negative starts, two axes, clamped ends)', async () => {
    const nodes = [
      nd('Concat', ['a', 'b'], [int('axis', 1)], ['c'], 'cat'),
      nd('Slice', ['c', 'st', 'en', 'ax'], [], ['y'], 'sl'),
    ];
    const vals = [val('a', [2, 3, 4], 1), val('b', [2, 2, 4], 2), i64('st', [1, -3]), i64('en', [100, 4]), i64('ax', [1, 2])];
    await expectGradientsMatch(smallCase(nodes, vals, ['y']));
  });

  it('ReduceMean over axes [2,3] (keepdims 0 and 1) and over everything', async () => {
    await expectGradientsMatch(smallCase([nd('ReduceMean', ['x'], [ints('axes', [2, -1]), int('keepdims', 0)])], [val('x', [2, 3, 4, 5], 1)], ['y']));
    await expectGradientsMatch(smallCase([nd('ReduceMean', ['x'], [ints('axes', [1])])], [val('x', [2, 3, 4], 2)], ['y']));
    await expectGradientsMatch(smallCase([nd('ReduceMean', ['x'], [int('keepdims', 0)])], [val('x', [2, 3, 4], 3)], ['y']));
  });

  it('Sigmoid, Tanh, Neg, Identity, Clip', async () => {
    const x = randn(24, 5).map((v) => (Math.abs(Math.abs(v) - 0.8) < 0.05 ? v * 1.2 : v));
    const nodes = [
      nd('Sigmoid', ['x'], [], ['a'], 'sg'),
      nd('Tanh', ['x'], [], ['b'], 'th'),
      nd('Neg', ['x'], [], ['c'], 'ng'),
      nd('Identity', ['x'], [], ['d'], 'id'),
      nd('Clip', ['x', 'lo', 'hi'], [], ['e'], 'cl'),
    ];
    const vals = [{ name: 'x', dims: [2, 12], data: x }, { name: 'lo', dims: [], data: [-0.8], init: true }, { name: 'hi', dims: [], data: [0.8], init: true }];
    await expectGradientsMatch(smallCase(nodes, vals, ['a', 'b', 'c', 'd', 'e'], { params: [] }), { steps: RELU_STEPS });
  });

  it('refuses an op without a rule, naming op and node, before anything runs; integer paths are not differentiated', () => {
    const mystery: NodeProto = { ...nd('Mystery', ['r'], [], ['y'], '/head/Mystery'), domain: 'com.example' };
    const kase = smallCase([nd('Relu', ['x'], [], ['r'], 'relu1'), mystery], [val('x', [2, 3], 1)], ['y']);
    kase.model.proto.opset_import!.push({ domain: 'com.example', version: 1 });
    expect(() => checkDifferentiable(kase.model, { loss: { kind: 'mean', output: 'y' }, inputs: ['x'] })).to.throw(UserError, "cannot differentiate: no gradient rule for op 'com.example::Mystery' (node '/head/Mystery')");
    expect(() => buildGradientGraph(kase.model, { loss: { kind: 'mean', output: 'y' }, inputs: ['x'] })).to.throw(UserError, /no gradient rule for op 'com.example::Mystery'/);
    // Shape -> Cast -> Mul: the Shape path is integer, only x's direct path is differentiated
    const shapeCase = smallCase(
      [nd('Shape', ['x'], [], ['s'], 'shape'), nd('Cast', ['s'], [int('to', 1)], ['sf'], 'cast'), nd('ReduceMean', ['sf'], [int('keepdims', 0)], ['m'], 'rm'), nd('Mul', ['x', 'm'], [], ['y'], 'mul')],
      [val('x', [2, 3], 1)],
      ['y'],
    );
    expect(() => checkDifferentiable(shapeCase.model, { loss: { kind: 'mean', output: 'y' }, inputs: ['x'] })).to.not.throw();
  });
});
