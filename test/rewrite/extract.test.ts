import { expect } from 'chai';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { computeStages } from '../../src/analysis/stages.js';
import { UserError } from '../../src/errors.js';
import { Model } from '../../src/ir/model.js';
import { validateModel } from '../../src/validation/validate.js';
import { extract } from '../../src/rewrite/extract.js';
import { FIXTURE_MODELS, REALDATA_ONNX, requireOrSkip } from '../helpers/test-data.js';
import { maxAbs, nodeHex, randomInput, runValues } from './ort-values.js';

const RESNET = path.join(FIXTURE_MODELS, 'resnet18_iqa.onnx');
const ULTRAFACE = path.join(REALDATA_ONNX, 'ultraface_RFB-320.onnx');

/**
 * Extract stage `k` and check its outputs equal the full model's intermediate values.
 * (The equiv-based check, `equiv --per-layer`, awaits the equivalence issue; this compares with
 * ONNX Runtime directly.)
 */
async function checkStage(file: string, inputDims: number[], k: number): Promise<void> {
  const full = Model.load(file);
  const map = await computeStages(full, { inputShapes: { [full.graph.inputs[0]!.name]: inputDims } });
  const stage = map.stages[k]!;
  const r = await extract(full, { inputs: [stage.inputEdge], outputs: [stage.edge] });
  const sub = r.model;
  await validateModel(sub);
  expect(sub.graph.inputs.map((v) => v.name)).to.deep.equal([stage.inputEdge]);
  expect(sub.graph.outputs.map((v) => v.name)).to.deep.equal([stage.edge]);
  // types and shapes filled in
  expect(sub.graph.inputs[0]!.elemType).to.equal(1);
  expect(sub.graph.inputs[0]!.declaredShape?.length).to.equal(4);
  expect(sub.graph.outputs[0]!.declaredShape?.slice(1)).to.deep.equal(stage.shape);
  // fewer nodes, all of them byte-identical to the original's
  const orig = new Set(full.graph.nodes.map((n) => nodeHex(n.proto)));
  expect(sub.graph.nodes.length).to.be.greaterThan(0).and.lessThan(full.graph.nodes.length);
  for (const n of sub.graph.nodes) expect(orig.has(nodeHex(n.proto)), n.label).to.equal(true);
  // numerics: the full model's intermediate values through the extracted stage
  const x = randomInput(inputDims, 5);
  const vals = await runValues(full, { [full.graph.inputs[0]!.name]: x }, [stage.inputEdge, stage.edge]);
  const out = await runValues(sub, { [stage.inputEdge]: vals[stage.inputEdge]! });
  expect(maxAbs(out[stage.edge]!, vals[stage.edge]!)).to.be.at.most(1e-6);
}

describe('rewrite/extract', () => {
  it('extracts a middle stage of a ResNet-18 export whose outputs equal the full model\'s intermediate values', async () => {
    await checkStage(RESNET, [1, 3, 64, 64], 3);
  });

  it('extracts a middle stage of a real PyTorch export (UltraFace)', async function () {
    requireOrSkip(this, existsSync(ULTRAFACE), ULTRAFACE);
    await checkStage(ULTRAFACE, [1, 3, 240, 320], 3);
  });

  it('extracts from the graph input to an intermediate tensor and leaves the original alone', async () => {
    const full = Model.load(RESNET);
    const before = full.toBytes();
    const r = await extract(full, { inputs: ['input'], outputs: ['/layer1/layer1.1/relu_1/Relu_output_0', '/relu/Relu_output_0'] });
    expect(r.model.graph.outputs.map((v) => v.name)).to.deep.equal(['/layer1/layer1.1/relu_1/Relu_output_0', '/relu/Relu_output_0']);
    expect(r.model.graph.inputs[0]!.info).to.deep.equal(full.graph.inputs[0]!.info);
    expect(r.changes[0]).to.match(/^kept \d+ of 49 nodes/);
    expect(Buffer.compare(Buffer.from(full.toBytes()), Buffer.from(before))).to.equal(0);
    await validateModel(r.model);
  });

  it('refuses cuts that do not separate the graph, with a message naming the tensors', async () => {
    const full = Model.load(RESNET);
    const err = async (inputs: string[], outputs: string[]): Promise<string> => {
      try {
        await extract(full, { inputs, outputs });
      } catch (e) {
        expect(e).to.be.instanceOf(UserError);
        return (e as Error).message;
      }
      throw new Error('expected a refusal');
    };
    // a residual block has two paths: cutting one of them leaves the graph input reachable
    expect(await err(['/layer2/layer2.1/conv1/Conv_output_0'], ['/layer2/layer2.1/relu_1/Relu_output_0'])).to.contain("depends on graph input 'input'");
    expect(await err(['nope'], ['score'])).to.contain("'nope' is not a tensor");
    expect(await err(['input'], ['fc.weight'.replace('fc', 'nothing')])).to.contain('is not a tensor');
  });
});
