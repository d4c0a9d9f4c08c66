/**
 * The probe: values no rule can shape (data-dependent ops, ops of other domains) get their actual
 * shapes from one ONNX Runtime run (source 'probe'), rules continue from them, symbolic input dims
 * are set to 1 unless inputShapes says otherwise (and the notes say so), and errors are UserErrors.
 */
import { expect } from 'chai';
import path from 'node:path';
import { probeValues } from '../../src/analysis/shape-probe.js';
import { inferShapes, inferShapesStatic } from '../../src/analysis/shapes/infer.js';
import { UserError } from '../../src/errors.js';
import { Model } from '../../src/ir/model.js';
import { model, node } from '../helpers/proto-build.js';
import { FIXTURE_MODELS } from '../helpers/test-data.js';
import { FLOAT, buildModel, floatTensor, op, tensorInfo } from './shapes/rule-harness.js';

/** x -> Greater(0.5) -> NonZero (data-dependent) -> Transpose; Shape(nz) -> Gather. */
function nonZeroModel(): Model {
  return buildModel({
    nodes: [
      op('Greater', ['x', 'half'], ['g']),
      op('NonZero', ['g'], ['nz']),
      op('Transpose', ['nz'], ['t']),
      op('Shape', ['nz'], ['s']),
      op('Relu', ['x'], ['r']),
    ],
    inputs: [tensorInfo('x', FLOAT, ['N', 4])],
    initializers: [floatTensor('half', [], [0.5])],
    outputs: ['t', 's', 'r'],
  });
}

describe('shape probe', () => {
  it('shapes a data-dependent op by running ONNX Runtime; rules take over downstream', async () => {
    const map = await inferShapes(nonZeroModel(), { inputShapes: { x: [3, 4] } });
    const nz = map.get('nz')!;
    expect(nz.source).to.equal('probe');
    expect(nz.shape).to.have.length(2);
    const [rank, count] = nz.shape as number[];
    expect(rank).to.equal(2);
    expect(count).to.be.within(0, 12);
    expect(nz.note).to.equal('probed with input shapes x=[3, 4]');
    expect(map.get('t')).to.deep.include({ shape: [count, 2], source: 'rule', rule: 'Transpose' });
    expect(map.get('s')).to.deep.include({ shape: [2], source: 'rule', value: [2, count] });
    expect(map.get('g')).to.deep.include({ shape: [3, 4], source: 'rule', rule: 'Greater' });
    expect(map.notes).to.deep.equal([]);
  });

  it('substitutes 1 for symbolic input dims and says so; statically shaped values stay symbolic', async () => {
    const map = await inferShapes(nonZeroModel());
    expect(map.get('nz')!.source).to.equal('probe');
    expect(map.get('nz')!.note).to.equal('probed with input shapes x=[1, 4]');
    expect(map.notes.join('\n')).to.match(/dim 0 of input 'x' \(N\) set to 1/);
    expect(map.get('r')).to.deep.include({ shape: ['N', 4], source: 'rule' });
  });

  it('probe: false (and inferShapesStatic) leave such values open', async () => {
    for (const map of [await inferShapes(nonZeroModel(), { probe: false }), inferShapesStatic(nonZeroModel())]) {
      expect(map.get('nz')).to.equal(undefined);
      expect(map.get('t')).to.equal(undefined);
      expect(map.get('r')!.shape).to.deep.equal(['N', 4]);
    }
  });

  it('probes ops of other domains (com.microsoft Gelu) and continues with rules', async () => {
    const m = new Model(
      model({
        nodes: [node('Gelu', ['x'], ['y'], 'gelu', { domain: 'com.microsoft' }), node('Relu', ['y'], ['z'], 'relu')],
        inputs: [tensorInfo('x', FLOAT, [2, 5])],
        outputs: [{ name: 'z' }],
        extraOpsets: [{ domain: 'com.microsoft', version: 1 }],
      }),
    );
    const map = await inferShapes(m);
    expect(map.get('y')).to.deep.include({ shape: [2, 5], source: 'probe', elemType: FLOAT });
    expect(map.get('z')).to.deep.include({ shape: [2, 5], source: 'rule', rule: 'Relu' });
  });

  it('probeValues reports actual shapes and small contents', async () => {
    const m = Model.load(path.join(FIXTURE_MODELS, 'resnet18_iqa.onnx'));
    const flat = m.graph.nodes.find((n) => n.opType === 'Flatten')!.outputs[0]!.name;
    const r = await probeValues(m, [flat, 'score'], { inputShapes: { input: [2, 3, 64, 64] } });
    expect(r.values.get(flat)).to.deep.include({ shape: [2, 64], elemType: FLOAT });
    expect(r.values.get('score')!.shape).to.deep.equal([2, 1]);
    expect(r.values.get('score')!.value).to.have.length(2);
    expect(r.inputShapes).to.deep.equal({ input: [2, 3, 64, 64] });
  });

  it('a graph input without a declared shape needs inputShapes', async () => {
    const m = buildModel({ nodes: [op('NonZero', ['x'], ['nz'])], inputs: [{ name: 'x', type: { tensor_type: { elem_type: FLOAT } } }] });
    try {
      await inferShapes(m);
      expect.fail('expected a UserError');
    } catch (e) {
      expect(e).to.be.instanceOf(UserError);
      expect((e as UserError).code).to.equal('probe-needs-input-shape');
      expect((e as Error).message).to.match(/graph input 'x' has no declared shape: give one in inputShapes/);
    }
    const map = await inferShapes(m, { inputShapes: { x: [6] } });
    expect(map.get('nz')!.shape![0]).to.equal(1);
  });

  it('unknown names are UserErrors', async () => {
    const m = nonZeroModel();
    try {
      await probeValues(m, ['nope']);
      expect.fail('expected a UserError');
    } catch (e) {
      expect((e as UserError).code).to.equal('no-such-value');
    }
  });
});
