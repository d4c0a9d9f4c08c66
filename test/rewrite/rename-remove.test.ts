import { expect } from 'chai';
import path from 'node:path';
import { CheckFailedError, UserError } from '../../src/errors.js';
import { Model } from '../../src/ir/model.js';
import { staticProblems, validateModel } from '../../src/validation/validate.js';
import { removeNode } from '../../src/rewrite/remove.js';
import { rename } from '../../src/rewrite/rename.js';
import { FLOAT, floatTensor, model as buildModel, modelBytes, node, tensorInfo } from '../helpers/proto-build.js';
import { FIXTURE_MODELS } from '../helpers/test-data.js';
import { maxAbs, nodeHex, randomInput, runValues } from './ort-values.js';

const RESNET = path.join(FIXTURE_MODELS, 'resnet18_iqa.onnx');

async function userError(f: () => unknown, re: RegExp): Promise<void> {
  try {
    await f();
  } catch (e) {
    expect(e).to.be.instanceOf(UserError);
    expect((e as Error).message).to.match(re);
    return;
  }
  throw new Error('expected a UserError');
}

/** x -> Relu(a) -> Identity(b) -> Sigmoid(c) -> y, and a Dropout on a side output. */
function chain(): Model {
  return Model.fromBytes(
    modelBytes(
      buildModel({
        nodes: [
          node('Relu', ['x'], ['r'], 'a'),
          node('Identity', ['r'], ['i'], 'b'),
          node('Sigmoid', ['i'], ['s'], 'c'),
          node('Add', ['s', 'bias'], ['y'], 'd'),
          node('Flatten', ['y'], ['flat'], 'e'),
        ],
        inputs: [tensorInfo('x', FLOAT, [1, 4])],
        outputs: [tensorInfo('y', FLOAT, [1, 4]), tensorInfo('flat', FLOAT, [1, 4])],
        initializers: [floatTensor('bias', [4], [1, 2, 3, 4])],
        valueInfo: [tensorInfo('r', FLOAT, [1, 4]), tensorInfo('i', FLOAT, [1, 4])],
      }),
    ),
  );
}

describe('rewrite/rename', () => {
  it('renames inputs, outputs, tensors and nodes consistently; the model computes the same', async () => {
    const original = Model.load(RESNET);
    const m = Model.load(RESNET);
    const r = rename(m, { map: { input: 'image', score: 'quality', '/fc/Gemm': 'head', '/relu/Relu_output_0': 'stem_out' } });
    expect(r.changes).to.deep.equal([
      "renamed graph input 'input' to 'image' (1 reader)",
      "renamed graph output 'score' to 'quality' (0 readers)",
      "renamed node '/fc/Gemm' (Gemm) to 'head'",
      "renamed tensor '/relu/Relu_output_0' to 'stem_out' (1 reader)",
    ]);
    await validateModel(m);
    const p = m.syncProto().graph!;
    expect(p.input!.map((v) => v.name)).to.deep.equal(['image']);
    expect(p.output!.map((v) => v.name)).to.deep.equal(['quality']);
    expect(p.node!.find((n) => n.name === 'head')!.output).to.deep.equal(['quality']);
    expect(p.node!.find((n) => n.name === '/maxpool/MaxPool')!.input).to.deep.equal(['stem_out']);
    // nodes that touch none of the names are byte-identical
    const touched = new Set(['/conv1/Conv', '/relu/Relu', '/maxpool/MaxPool', '/fc/Gemm']);
    original.graph.nodes.filter((n) => !touched.has(n.name)).forEach((n) => expect(nodeHex(m.graph.node(n.name)!.proto)).to.equal(nodeHex(n.proto)));
    const x = randomInput([1, 3, 64, 64]);
    const [a, b] = await Promise.all([runValues(original, { input: x }), runValues(m, { image: x })]);
    expect(maxAbs(a.score!, b.quality!)).to.equal(0);
  });

  it('swaps names and refuses taken or unknown names', async () => {
    const m = chain();
    rename(m, { map: { r: 'i', i: 'r' } });
    expect(m.syncProto().graph!.node!.map((n) => `${n.input!.join()}>${n.output!.join()}`).slice(0, 2)).to.deep.equal(['x>i', 'i>r']);
    expect(staticProblems(m)).to.deep.equal([]);
    await userError(() => rename(chain(), { map: { r: 's' } }), /cannot rename tensor 'r' to 's': a tensor of that name exists/);
    await userError(() => rename(chain(), { map: { nope: 'z' } }), /no tensor or node named 'nope'/);
  });
});

describe('rewrite/remove', () => {
  it('removes a node wiring its input through, keeping graph output names', async () => {
    const m = chain();
    const r = await removeNode(m, { node: 'b' });
    expect(r.changes).to.deep.equal(["removed node 'b' (Identity); readers of 'i' now read 'r'"]);
    expect(m.graph.nodes.map((n) => n.name)).to.deep.equal(['a', 'c', 'd', 'e']);
    await validateModel(m);
    const m2 = chain();
    const r2 = await removeNode(m2, { node: 'e' });
    expect(r2.changes[1]).to.equal("graph output 'flat' is now 'y'");
    const m3 = chain();
    await removeNode(m3, { node: 'd' });
    expect(m3.graph.outputs.map((v) => v.name)).to.deep.equal(['y', 'flat']);
    expect(m3.graph.hasValue('bias')).to.equal(false);
    await validateModel(m3);
  });

  it('refuses where shapes do not allow, and names a missing node', async () => {
    await userError(() => removeNode(Model.load(RESNET), { node: '/fc/Gemm' }), /its input '\/Flatten_output_0' has shape \[batch,64\] but its output 'score' has \[batch,1\]/);
    await userError(() => removeNode(Model.load(RESNET), { node: '/layer1/layer1.0/Add' }), /2 non-constant inputs/);
    await userError(() => removeNode(Model.load(RESNET), { node: '/layer1/relu' }), /no node named '\/layer1\/relu'/);
    const m = Model.load(RESNET);
    await removeNode(m, { node: '/layer4/layer4.1/relu_1/Relu' });
    await validateModel(m);
  });
});

describe('ir/validate', () => {
  it('names the node when types or shapes are inconsistent, and the runtime check catches bad attributes', async () => {
    const m = chain();
    m.graph.node('c')!.proto.op_type = 'Shape';
    const problems = staticProblems(m);
    expect(problems[0]).to.include({ check: 'shapes', node: 'd' });
    try {
      await validateModel(m, { step: 'step 2 of 3 (replace-op)' });
      throw new Error('expected a check failure');
    } catch (e) {
      expect(e).to.be.instanceOf(CheckFailedError);
      expect((e as CheckFailedError).report).to.match(/^iqa-surgeon: check failed: step 2 of 3 \(replace-op\): the result is not a valid model at node 'd': /);
    }
    const cast = chain();
    cast.graph.node('a')!.proto.op_type = 'Cast';
    cast.graph.node('a')!.proto.attribute = [{ name: 'to', i: 7, type: 2 }];
    expect(staticProblems(cast)[0]).to.deep.equal({ check: 'types', node: 'a', message: "'r' is declared float32 but node 'a' (Cast) produces int64" });
    const unordered = chain();
    unordered.graph.nodes.reverse();
    expect(staticProblems(unordered)[0]).to.include({ check: 'order', node: 'e' });
    const bad = chain();
    bad.graph.node('a')!.proto.op_type = 'NoSuchOp';
    try {
      await validateModel(bad);
      throw new Error('expected a check failure');
    } catch (e) {
      expect((e as Error).message).to.contain("at node 'a': ONNX Runtime cannot load the model").and.contain('NoSuchOp');
    }
  });
});
