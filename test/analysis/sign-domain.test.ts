/**
 * The sign analysis behind domain-safe splices (issue 12, item 4): each guarded op is proved safe
 * when its input comes from ReLU features the safe way, and not proved when the same input is
 * signed (what a spliced block's output is); safe patterns (|x| + eps, x * x, Pow 2, a clipped
 * norm) stay proved on signed inputs.
 */
import { expect } from 'chai';
import { domainChecks, valueSigns } from '../../src/analysis/sign-domain.js';
import { Model } from '../../src/ir/model.js';
import type { NodeProto } from '../../src/onnx/proto-types.js';
import { floatTensor, int64Tensor, node, tensorInfo } from '../helpers/proto-build.js';

/** x [1,4] -> (Relu when `relu`) -> f -> the given nodes reading 'f'. */
function model(relu: boolean, nodes: NodeProto[], outputs: string[]): Model {
  return new Model({
    ir_version: 8,
    opset_import: [{ domain: '', version: 13 }],
    graph: {
      name: 'g',
      input: [tensorInfo('x', 1, [1, 4])],
      output: outputs.map((o) => ({ name: o })),
      initializer: [
        floatTensor('eps', [], [1e-8]),
        floatTensor('half', [], [0.5]),
        floatTensor('neg_half', [], [-0.5]),
        floatTensor('two', [], [2]),
        floatTensor('clip_min', [], [1e-12]),
        floatTensor('w_pos', [4, 4], Array(16).fill(0.25)),
        int64Tensor('axes', [1], [1]),
      ],
      node: [node(relu ? 'Relu' : 'Identity', ['x'], ['f'], 'feat'), ...nodes],
    },
  });
}

const held = (m: Model): Record<string, boolean> => Object.fromEntries(domainChecks(m).map((d) => [d.node.name, d.held]));

describe('analysis/sign-domain', () => {
  const guarded: [string, NodeProto[]][] = [
    ['sqrt(f + eps)', [node('Add', ['f', 'eps'], ['a'], 'add'), node('Sqrt', ['a'], ['y'], 'op')]],
    ['log(f + eps)', [node('Add', ['f', 'eps'], ['a'], 'add'), node('Log', ['a'], ['y'], 'op')]],
    ['pow(f, 0.5)', [node('Pow', ['f', 'half'], ['y'], 'op')]],
    ['pow(f + eps, -0.5)', [node('Add', ['f', 'eps'], ['a'], 'add'), node('Pow', ['a', 'neg_half'], ['y'], 'op')]],
    ['f / (sum f + eps)', [node('ReduceSum', ['f', 'axes'], ['s'], 'sum'), node('Add', ['s', 'eps'], ['a'], 'add'), node('Div', ['f', 'a'], ['y'], 'op')]],
    ['sqrt(f @ w_pos)', [node('MatMul', ['f', 'w_pos'], ['a'], 'mm'), node('Sqrt', ['a'], ['y'], 'op')]],
    ['sqrt(reshape of f)', [node('Reshape', ['f', 'axes'], ['a'], 'rs'), node('Sqrt', ['a'], ['y'], 'op')]],
  ];
  for (const [what, nodes] of guarded) {
    it(`${what}: proved with ReLU features, not with signed ones`, () => {
      expect(held(model(true, nodes, ['y'])).op).to.equal(true);
      expect(held(model(false, nodes, ['y'])).op).to.equal(false);
    });
  }

  const safe: [string, NodeProto[]][] = [
    ['sqrt(|f| + eps)', [node('Abs', ['f'], ['a'], 'abs'), node('Add', ['a', 'eps'], ['b'], 'add'), node('Sqrt', ['b'], ['y'], 'op')]],
    ['sqrt(f * f)', [node('Mul', ['f', 'f'], ['a'], 'sq'), node('Sqrt', ['a'], ['y'], 'op')]],
    ['sqrt(pow(f, 2))', [node('Pow', ['f', 'two'], ['a'], 'sq'), node('Sqrt', ['a'], ['y'], 'op')]],
    ['f / clip(||f||, 1e-12)', [node('ReduceL2', ['f'], ['n'], 'norm', { attribute: [{ name: 'axes', ints: [1], type: 7 }] }), node('Clip', ['n', 'clip_min'], ['c'], 'clip'), node('Div', ['f', 'c'], ['y'], 'op')]],
    ['log(sigmoid(f))', [node('Sigmoid', ['f'], ['a'], 'sig'), node('Log', ['a'], ['y'], 'op')]],
  ];
  for (const [what, nodes] of safe) {
    it(`${what}: proved even on signed features`, () => {
      expect(held(model(false, nodes, ['y'])).op).to.equal(true);
    });
  }

  it('signs: ReLU is nonneg, + eps positive, a signed sum any; Sqrt of a negative-capable value is not proved', () => {
    const m = model(true, [node('Add', ['f', 'eps'], ['a'], 'add'), node('Sub', ['f', 'a'], ['d'], 'sub'), node('Sqrt', ['d'], ['y'], 'op')], ['y']);
    const s = valueSigns(m);
    expect([s.get(m.graph.value('f')), s.get(m.graph.value('a')), s.get(m.graph.value('d'))]).to.deep.equal(['nonneg', 'pos', 'any']);
    expect(held(m).op).to.equal(false);
  });
});
