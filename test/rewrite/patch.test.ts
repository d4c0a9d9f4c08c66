import { expect } from 'chai';
import path from 'node:path';
import { CheckFailedError, UserError } from '../../src/errors.js';
import { Model } from '../../src/ir/model.js';
import { staticProblems } from '../../src/validation/validate.js';
import { encode } from '../../src/onnx/codec.js';
import { applyPatch, normalizePatch, normalizeStep, parsePatch, PATCH_METADATA_KEY, recordedPatches } from '../../src/rewrite/patch.js';
import { FIXTURE_MODELS } from '../helpers/test-data.js';

const RESNET = path.join(FIXTURE_MODELS, 'resnet18_iqa.onnx');
const STATIC = path.join(FIXTURE_MODELS, 'resnet18_iqa_static.onnx');

const YAML = `
version: 1
description: smooth activations in the last stage, 96x128 input
steps:
  - set-shape: { input: "input=1,3,96,128" }
  - replace-op: { op: Relu, with: SiLU, where: "stage:layer4" }
  - rename: { map: { input: image, score: quality } }
  - cleanup:
`;

describe('rewrite/patch', () => {
  it('parses YAML and JSON into the same normalised steps', () => {
    const y = parsePatch(YAML, 'p.yaml');
    const j = parsePatch(
      JSON.stringify([
        { op: 'set-shape', input: ['input=1,3,96,128'] },
        { op: 'replace-op', replace: 'Relu', with: 'silu', where: 'stage:layer4' },
        { rename: { map: 'input=image,score=quality' } },
        { op: 'cleanup' },
      ]),
      'p.json',
    );
    expect(j.steps).to.deep.equal(y.steps);
    expect(y.steps).to.deep.equal([
      { op: 'set-shape', shapes: { input: [1, 3, 96, 128] } },
      { op: 'replace-op', replace: 'Relu', with: 'SiLU', where: 'stage:layer4' },
      { op: 'rename', map: { input: 'image', score: 'quality' } },
      { op: 'cleanup' },
    ]);
    expect(y.description).to.equal('smooth activations in the last stage, 96x128 input');
    // a recorded step is itself a valid step
    for (const s of y.steps) expect(normalizeStep(s, 'x')).to.deep.equal(s);
  });

  it('rejects malformed patches with the step and the option named', () => {
    const bad = (text: string, re: RegExp): void => {
      expect(() => parsePatch(text, 'p.yaml')).to.throw(UserError, re);
    };
    bad('steps: []', /no steps/);
    bad('- frobnicate: {}', /p\.yaml: step 1 \(frobnicate\): unknown operation/);
    bad('- prune: { after: layer3 }', /'prune' is not available in this version/);
    bad('- rename: { maps: { a: b } }', /step 1 \(rename\): unknown option 'maps' \(options: map\)/);
    bad('- cleanup: {}\n- replace-op: { op: Relu }', /step 2 \(replace-op\): 'with'/);
    bad('- set-shape: { input: "input=1,3,x-1" }', /not a shape/);
    bad('version: 2\nsteps: [ { cleanup: {} } ]', /version 2 is not supported/);
    bad('steps: [ {', /not valid YAML/);
  });

  it('applies steps in order, validating each, and records the patch in metadata_props', async () => {
    const m = Model.load(RESNET);
    const { model, steps } = await applyPatch(m, parsePatch(YAML, 'p.yaml'), { source: 'p.yaml' });
    expect(steps.map((s) => s.step.op)).to.deep.equal(['set-shape', 'replace-op', 'rename', 'cleanup']);
    expect(model.graph.inputs[0]!.name).to.equal('image');
    expect(model.graph.inputs[0]!.declaredShape).to.deep.equal([1, 3, 96, 128]);
    expect(model.graph.nodes.filter((n) => n.opType === 'Sigmoid')).to.have.length(4);
    const rec = recordedPatches(model);
    expect(rec).to.have.length(1);
    expect(rec[0]).to.include({ tool: 'iqa-surgeon 0.1.0', source: 'p.yaml', description: 'smooth activations in the last stage, 96x128 input' });
    expect(rec[0]!.steps).to.have.length(4);
    // a second patch appends to the record
    await applyPatch(model, parsePatch('- rename: { map: { quality: mos } }'), { source: 'second.yaml' });
    expect(recordedPatches(model).map((r) => r.source)).to.deep.equal(['p.yaml', 'second.yaml']);
    expect(JSON.parse(model.metadata().get(PATCH_METADATA_KEY)!)).to.have.length(2);
  });

  it('runs splice (src/surgery) as a step, leaving the node list topologically sorted', async () => {
    const patch = parsePatch('- set-shape: { input: "input=1,3,64,64" }\n- splice: { stage: layer3, orth: aol }\n- replace-op: { op: Relu, with: Elu, where: "stage:layer4" }');
    expect(patch.steps[1]).to.deep.equal({ op: 'splice', stage: 'layer3', orth: 'aol' });
    const { model, steps } = await applyPatch(Model.load(RESNET), patch);
    expect(steps[1]!.changes[0]).to.match(/^spliced a RobustBlock \(aol\) on '\/layer3\/layer3.1\/relu_1\/Relu_output_0' \(stage layer3\)/);
    expect(staticProblems(model)).to.deep.equal([]);
    expect(model.metadata().has('iqa-surgeon.robust_block')).to.equal(true);
    expect(() => parsePatch('- splice: { stage: 3, edge: x }')).to.throw(UserError, /exactly one of 'stage' or 'edge'/);
    expect(() => parsePatch('- splice: { stage: 3, restoreSize: 1 }')).to.throw(UserError, /'restoreSize' must be a boolean/);
  });

  it('a recorded patch repeats the surgery exactly', async () => {
    const first = (await applyPatch(Model.load(RESNET), parsePatch(YAML, 'p.yaml'), { source: 'p.yaml' })).model;
    const recorded = normalizePatch(recordedPatches(first)[0]!.steps, 'recorded');
    const second = (await applyPatch(Model.load(RESNET), recorded, { source: 'again' })).model;
    const graphHex = (m: Model): string => Buffer.from(encode(m.syncProto().graph!, 'GraphProto')).toString('hex');
    expect(graphHex(second)).to.equal(graphHex(first));
  });

  it('stops at a failing step: a check failure names the step and the node; bad arguments are UserErrors', async () => {
    try {
      await applyPatch(Model.load(STATIC), parsePatch('- rename: { map: { score: quality } }\n- set-shape: { input: "input=1,3,96,128" }'));
      throw new Error('expected a check failure');
    } catch (e) {
      expect(e).to.be.instanceOf(CheckFailedError);
      expect((e as CheckFailedError).report).to.match(/^iqa-surgeon: check failed: step 2 of 2 \(set-shape\): the model cannot take the new input shape at node '\/fc\/Gemm'/);
    }
    try {
      await applyPatch(Model.load(RESNET), parsePatch('- remove: { node: /no/such/node }\n- cleanup: {}'));
      throw new Error('expected a UserError');
    } catch (e) {
      expect(e).to.be.instanceOf(UserError);
      expect((e as Error).message).to.equal("step 1 of 2 (remove): no node named '/no/such/node'");
    }
  });
});
