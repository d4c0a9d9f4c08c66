import { expect } from 'chai';
import path from 'node:path';
import { Model } from '../../src/ir/model.js';
import { validateModel } from '../../src/validation/validate.js';
import { tensorToNumbers } from '../../src/onnx/tensor-data.js';
import { fold } from '../../src/rewrite/fold.js';
import { setShape } from '../../src/rewrite/set-shape.js';
import { FLOAT, floatTensor, int64Tensor, model as buildModel, modelBytes, node, tensorInfo } from '../helpers/proto-build.js';
import { FIXTURE_MODELS } from '../helpers/test-data.js';
import { maxAbs, nodeHex, randomInput, runValues } from './ort-values.js';

/**
 * A PyTorch-style flatten: y = Reshape(x * (w1 + w2), Concat(Unsqueeze(Gather(Shape(x), 0)), [-1])),
 * plus a constant subgraph (w1 + w2).
 */
function shapeChainModel(batch: number | string): Model {
  return Model.fromBytes(
    modelBytes(
      buildModel({
        nodes: [
          node('Shape', ['x'], ['s'], 'shape'),
          node('Gather', ['s', 'zero'], ['n'], 'gather', { attribute: [{ name: 'axis', i: 0, type: 2 }] }),
          node('Unsqueeze', ['n', 'axes'], ['n1'], 'unsqueeze'),
          node('Concat', ['n1', 'minus1'], ['target'], 'concat', { attribute: [{ name: 'axis', i: 0, type: 2 }] }),
          node('Add', ['w1', 'w2'], ['w'], 'add_w'),
          node('Mul', ['x', 'w'], ['xw'], 'mul'),
          node('Reshape', ['xw', 'target'], ['y'], 'reshape'),
        ],
        inputs: [tensorInfo('x', FLOAT, [batch, 3, 4, 4])],
        outputs: [tensorInfo('y', FLOAT, [batch, 48])],
        initializers: [
          int64Tensor('zero', [], [0]),
          int64Tensor('axes', [1], [0]),
          int64Tensor('minus1', [1], [-1]),
          floatTensor('w1', [4], [1, 2, 3, 4]),
          floatTensor('w2', [4], [0.5, 0.5, 0.5, 0.5]),
        ],
      }),
    ),
  );
}

describe('rewrite/fold', () => {
  it('folds constant subgraphs and the Shape->Gather->Unsqueeze->Concat chain of a fixed-size input', async () => {
    const m = shapeChainModel(2);
    const before = Model.fromBytes(m.toBytes());
    const r = await fold(m);
    expect(r.modified).to.equal(true);
    expect(r.changes[0]).to.equal('folded 5 nodes into 2 constants (1 Shape/Size node resolved from static shapes)');
    expect(m.graph.nodes.map((n) => n.name)).to.deep.equal(['mul', 'reshape']);
    // readers keep their names, so their bytes do not change
    expect(nodeHex(m.graph.node('reshape')!.proto)).to.equal(nodeHex(before.graph.node('reshape')!.proto));
    expect(nodeHex(m.graph.node('mul')!.proto)).to.equal(nodeHex(before.graph.node('mul')!.proto));
    expect(tensorToNumbers(m.graph.value('target').initializer!)).to.deep.equal([2, -1]);
    expect(Array.from(tensorToNumbers(m.graph.value('w').initializer!))).to.deep.equal([1.5, 2.5, 3.5, 4.5]);
    expect(m.graph.initializers().map((v) => v.name).sort()).to.deep.equal(['target', 'w']);
    await validateModel(m);
    const x = randomInput([2, 3, 4, 4]);
    const [a, b] = await Promise.all([runValues(before, { x }), runValues(m, { x })]);
    expect(maxAbs(a.y!, b.y!)).to.equal(0);
  });

  it('leaves Shape chains of a dynamic input alone and says why; set-shape then fold folds them', async () => {
    const m = shapeChainModel('batch');
    const r = await fold(m);
    expect(r.changes[0]).to.equal('folded 1 node into 1 constant');
    expect(r.changes).to.include("note: 1 Shape/Size node reads a tensor whose shape is not static; fix the input size with set-shape first");
    expect(m.graph.node('shape')).to.not.equal(undefined);
    await setShape(m, { shapes: { x: [3, 3, 4, 4] } });
    const r2 = await fold(m);
    expect(r2.changes[0]).to.equal('folded 4 nodes into 1 constant (1 Shape/Size node resolved from static shapes)');
    await validateModel(m);
  });

  it('does not de-quantize QDQ weights and is a no-op on a model without constant subgraphs', async () => {
    const qdq = Model.load(path.join(FIXTURE_MODELS, 'qdq_conv.onnx'));
    const bytes = Buffer.from(qdq.toBytes());
    const r = await fold(qdq);
    expect(r.modified).to.equal(false);
    expect(Buffer.compare(Buffer.from(qdq.toBytes()), bytes)).to.equal(0);
    const resnet = Model.load(path.join(FIXTURE_MODELS, 'resnet18_iqa.onnx'));
    expect((await fold(resnet)).changes).to.deep.equal(['nothing to fold']);
  });
});
