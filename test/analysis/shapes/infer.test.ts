/**
 * Acceptance: on every fixture model and every real graph, the inferred shape (and element type)
 * of every value equals what ONNX Runtime produces, and values made by the listed ops come from
 * static rules, not from the probe. Symbolic dims are checked by evaluating them for the sizes
 * ONNX Runtime ran with (batch 2, and other image sizes where the model accepts them).
 */
import { expect } from 'chai';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { inferShapes, inferShapesStatic, ShapeMap } from '../../../src/analysis/shapes/infer.js';
import type { ShapeInfo } from '../../../src/analysis/shapes/types.js';
import { UserError } from '../../../src/errors.js';
import { Model } from '../../../src/ir/model.js';
import { runAllValues, shapeMismatches, type ActualValue } from '../../helpers/ort-all-values.js';
import { FIXTURE_MODELS, REALDATA_ONNX, requireOrSkip } from '../../helpers/test-data.js';
import { LISTED_OPS } from './listed-ops.js';
import { FLOAT, buildModel, op, tensorInfo } from './rule-harness.js';

const BATCH = 2;

function modelFiles(dir: string): string[] {
  return existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.onnx')).sort().map((f) => path.join(dir, f)) : [];
}

/** Concrete feed shapes: declared dims, symbolic ones bound from `bindings`. */
function feedShapes(m: Model, bindings: Record<string, number>): Record<string, number[]> {
  const out: Record<string, number[]> = {};
  for (const v of m.graph.inputs) {
    if (v.isInitializer) continue;
    out[v.name] = v.declaredShape!.map((d) => (typeof d === 'number' ? d : bindings[d!]!));
  }
  return out;
}

/** Values produced by listed ops whose shape did not come from a rule. */
function notRuled(m: Model, map: ShapeMap): string[] {
  const bad: string[] = [];
  for (const n of m.graph.nodes) {
    if (!LISTED_OPS.has(n.opType)) continue;
    for (const o of n.outputs) {
      const info = o && map.get(o);
      if (o && info?.source !== 'rule') bad.push(`${o.name} (${n.opType}): ${info?.source ?? 'no shape'}`);
    }
  }
  return bad;
}

async function checkModel(file: string): Promise<{ values: number; sources: Record<string, number> }> {
  const m = Model.load(file);
  const map = await inferShapes(m);
  const actual = await runAllValues(m, feedShapes(m, { batch: BATCH }));
  expect(shapeMismatches(map, actual, { batch: BATCH }), path.basename(file)).to.deep.equal([]);
  expect(notRuled(m, map), path.basename(file)).to.deep.equal([]);
  const sources: Record<string, number> = {};
  for (const [, info] of map.entries()) sources[info.source] = (sources[info.source] ?? 0) + 1;
  expect(sources.probe ?? 0, `${path.basename(file)} needed the probe`).to.equal(0);
  return { values: actual.size, sources };
}

describe('shape inference agrees with ONNX Runtime on every value', () => {
  const fixtures = modelFiles(FIXTURE_MODELS);
  it('finds the fixture models', () => expect(fixtures.length).to.be.at.least(7));
  for (const file of fixtures) {
    it(`fixture ${path.basename(file)}`, async () => {
      const r = await checkModel(file);
      expect(r.values).to.be.greaterThan(20);
    });
  }

  for (const name of ['mnist.onnx', 'ultraface_RFB-320.onnx', 'super_resolution_core_opset11.onnx']) {
    it(`real graph ${name}`, async function () {
      const file = path.join(REALDATA_ONNX, name);
      requireOrSkip(this, existsSync(file), `real graph ${file}`);
      await checkModel(file);
    });
  }

  it('keeps the symbolic batch through a whole network', async () => {
    const map = await inferShapes(Model.load(path.join(FIXTURE_MODELS, 'resnet18_iqa.onnx')));
    expect(map.get('input')).to.deep.include({ shape: ['batch', 3, 64, 64], source: 'graph-input' });
    expect(map.get('score')).to.deep.include({ shape: ['batch', 1], source: 'rule', rule: 'Gemm' });
  });

  for (const fixture of ['resnet18_iqa.onnx', 'vgg16_iqa.onnx', 'linearity_iqa.onnx']) {
    it(`symbolic image sizes give expressions that hold at other sizes (${fixture})`, async () => {
      const m = Model.load(path.join(FIXTURE_MODELS, fixture));
      const map = inferShapesStatic(m, { inputShapes: { input: ['batch', 3, 'H', 'W'] } });
      for (const [H, W] of [[72, 88], [97, 65]] as const) {
        const actual = await runAllValues(m, { input: [3, 3, H, W] });
        expect(shapeMismatches(map, actual, { batch: 3, H, W })).to.deep.equal([]);
      }
    });
  }

  it('inputShapes with numbers gives all-number shapes', async () => {
    const m = Model.load(path.join(FIXTURE_MODELS, 'resnet50_iqa.onnx'));
    const map = inferShapesStatic(m, { inputShapes: { input: [4, 3, 80, 48] } });
    for (const [name, info] of map.entries()) expect(info.shape!.every((d) => typeof d === 'number'), name).to.equal(true);
    expect(shapeMismatches(map, await runAllValues(m, { input: [4, 3, 80, 48] }))).to.deep.equal([]);
  });

  it('bad inputShapes are UserErrors saying what is wrong', () => {
    const m = Model.load(path.join(FIXTURE_MODELS, 'qdq_conv.onnx'));
    expect(() => inferShapesStatic(m, { inputShapes: { image: [1, 3, 16, 16] } })).to.throw(UserError, /'image', which is not a graph input \(inputs: input\)/);
    expect(() => inferShapesStatic(m, { inputShapes: { input: [1, 3, 16] } })).to.throw(UserError, /declares rank 4: \[1, 3, 16, 16\]/);
    expect(() => inferShapesStatic(m, { inputShapes: { input: [1, 3, -16, 16] } })).to.throw(UserError, /non-negative integers or symbol names/);
    // overriding a declared number is allowed and noted
    const map = inferShapesStatic(m, { inputShapes: { input: [1, 3, 20, 16] } });
    expect(map.get('score')!.shape).to.deep.equal([1, 4, 20, 16]);
    expect(map.notes.join('\n')).to.match(/overrides the declared \[1, 3, 16, 16\]/);
  });

  it('uses declared value_info (source value-info) where no rule applies and the probe is off', async () => {
    const m = buildModel({
      nodes: [op('NonZero', ['x'], ['nz']), op('Transpose', ['nz'], ['t'])],
      inputs: [tensorInfo('x', FLOAT, [2, 3])],
      outputs: ['t'],
    });
    m.graph.setValueInfo(m.graph.value('nz'), tensorInfo('nz', 7, [2, 'nnz']));
    const map = await inferShapes(m, { probe: false });
    expect(map.get('nz')).to.deep.include({ shape: [2, 'nnz'], source: 'value-info' });
    expect(map.get('t')).to.deep.include({ shape: ['nnz', 2], source: 'rule', rule: 'Transpose' });
  });
});

describe('the comparison harness itself', () => {
  it('detects a wrong dim, a wrong type and a missing value', async () => {
    const m = Model.load(path.join(FIXTURE_MODELS, 'resnet18_iqa_static.onnx'));
    const map = inferShapesStatic(m);
    const actual = await runAllValues(m, { input: [1, 3, 64, 64] });
    expect(shapeMismatches(map, actual)).to.deep.equal([]);
    const conv = m.graph.nodes.find((n) => n.opType === 'Conv')!.outputs[0]!.name;
    const pool = m.graph.nodes.find((n) => n.opType === 'MaxPool')!.outputs[0]!.name;
    const corrupted = new Map<string, ShapeInfo>(map.entries());
    const c = corrupted.get(conv)!;
    corrupted.set(conv, { ...c, shape: [1, c.shape![1]!, 31, 32] });
    corrupted.set('score', { ...corrupted.get('score')!, elemType: 11 });
    corrupted.delete(pool);
    const problems = shapeMismatches(new ShapeMap(corrupted), actual);
    expect(problems).to.have.length(3);
    expect(problems.join('\n')).to.match(new RegExp(`${conv}: inferred \\[1, 8, 31, 32\\]`));
    expect(problems.join('\n')).to.match(/score: inferred element type 11 but actual 1/);
    expect(problems.join('\n')).to.match(new RegExp(`${pool}: not inferred`));
  });

  it('detects a wrong symbolic expression (evaluated with the bindings)', async () => {
    const m = Model.load(path.join(FIXTURE_MODELS, 'resnet18_iqa.onnx'));
    const map = inferShapesStatic(m);
    const actual: Map<string, ActualValue> = await runAllValues(m, { input: [2, 3, 64, 64] });
    expect(shapeMismatches(map, actual, { batch: 2 })).to.deep.equal([]);
    expect(shapeMismatches(map, actual, { batch: 3 }).length).to.be.greaterThan(40);
    expect(shapeMismatches(map, actual, {}).length).to.be.greaterThan(40);
  });

  it('ShapeMap looks values up by name or by Value', () => {
    const m = Model.load(path.join(FIXTURE_MODELS, 'qdq_conv.onnx'));
    const map = inferShapesStatic(m);
    const v = m.graph.outputs[0]!;
    expect(map.get(v)).to.equal(map.get(v.name));
    expect(map.size).to.equal([...m.graph.values()].length);
    expect([...map.entries()].length).to.equal(map.size);
  });
});
