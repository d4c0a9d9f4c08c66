/**
 * The trainable Cayley block's inverse (issue 12, item 3): the exact Schur inverse in standard ops
 * (also at opset 9), its record as an inverse region for the autodiff engine (kept consistent by
 * materialize and rename), and the post-splice shape check that does not run the block.
 */
import { expect } from 'chai';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { inferShapes } from '../../src/analysis/shapes/infer.js';
import { INVERSE_REGIONS_KEY, readInverseRegions } from '../../src/ir/inverse-regions.js';
import { UserError } from '../../src/errors.js';
import { Model } from '../../src/ir/model.js';
import { resolveBlockOptions } from '../../src/surgery/robust-block/options.js';
import { rename } from '../../src/rewrite/rename.js';
import { Emitter } from '../../src/surgery/emit.js';
import { evaluateConstants, materialize } from '../../src/surgery/materialize.js';
import { emitSchurInverse } from '../../src/surgery/robust-block/schur-inverse.js';
import { shapeCheckModel } from '../../src/surgery/splice-check.js';
import { spliceRobustBlock } from '../../src/surgery/splice.js';
import { mulberry32 } from '../../src/util/random.js';
import { randomFloats } from '../helpers/seeded-random.js';
import { FIXTURE_MODELS } from '../helpers/test-data.js';

const fixture = (name: string): Model => Model.load(path.join(FIXTURE_MODELS, name));

/** Values of a model run (the named intermediates are made outputs of a copy). */
async function fetch(model: Model, names: string[], shape: number[]): Promise<Record<string, ort.Tensor>> {
  const copy = model.clone();
  for (const n of names) copy.graph.outputs.push(copy.graph.value(n));
  const session = await ort.InferenceSession.create(copy.toBytes(), { logSeverityLevel: 3 });
  const x = new ort.Tensor('float32', randomFloats(3, shape.reduce((a, b) => a * b, 1)), shape);
  return session.run({ [session.inputNames[0]!]: x });
}

/** max |B C - I| over the batch of complex matrices (planes [.., c, c]). */
function complexResidual(br: Float32Array, bi: Float32Array, cr: Float32Array, ci: Float32Array, c: number): number {
  let worst = 0;
  for (let base = 0; base < br.length; base += c * c) {
    for (let i = 0; i < c; i++)
      for (let j = 0; j < c; j++) {
        let re = 0;
        let im = 0;
        for (let k = 0; k < c; k++) {
          const a = br[base + i * c + k]!;
          const b = bi[base + i * c + k]!;
          const x = cr[base + k * c + j]!;
          const y = ci[base + k * c + j]!;
          re += a * x - b * y;
          im += a * y + b * x;
        }
        worst = Math.max(worst, Math.abs(re - (i === j ? 1 : 0)), Math.abs(im));
      }
  }
  return worst;
}

describe('Cayley block: exact inverse, inverse regions, post-splice check', () => {
  for (const opset of [9, 13]) {
    it(`the Schur inverse (opset ${opset}) inverts complex matrices with Hermitian part >= I, across the leaf size`, async () => {
      for (const c of [1, 7, 16, 17, 45]) {
        const next = mulberry32(c);
        const batch = 3;
        const br = new Float64Array(batch * c * c);
        const bi = new Float64Array(batch * c * c);
        // B = I + K + V^H V / c with K skew-Hermitian, V random
        for (let t = 0; t < batch; t++) {
          const vr = Array.from({ length: c * c }, () => next() * 2 - 1);
          const vi = Array.from({ length: c * c }, () => next() * 2 - 1);
          const kr = Array.from({ length: c * c }, () => next() * 2 - 1);
          const ki = Array.from({ length: c * c }, () => next() * 2 - 1);
          for (let i = 0; i < c; i++)
            for (let j = 0; j < c; j++) {
              let sr = 0;
              let si = 0;
              for (let k = 0; k < c; k++) {
                sr += vr[k * c + i]! * vr[k * c + j]! + vi[k * c + i]! * vi[k * c + j]!;
                si += vr[k * c + i]! * vi[k * c + j]! - vi[k * c + i]! * vr[k * c + j]!;
              }
              br[t * c * c + i * c + j] = (i === j ? 1 : 0) + sr / c + kr[i * c + j]! - kr[j * c + i]!;
              bi[t * c * c + i * c + j] = si / c + ki[i * c + j]! + ki[j * c + i]!;
            }
        }
        const scratch = new Model({ ir_version: 7, opset_import: [{ domain: '', version: opset }], graph: { name: 'inv', output: [] } });
        const e = new Emitter(scratch.graph, 'q', opset);
        const r = emitSchurInverse(e, { re: e.f32('br', [1, batch, c, c], br), im: e.f32('bi', [1, batch, c, c], bi) }, c, 4, 'inv');
        expect(e.nodes.some((n) => ['Loop', 'If', 'Scan'].includes(n.opType))).to.equal(false);
        const out = await evaluateConstants(scratch, [r.re, r.im]);
        const f32 = (v: typeof r.re) => new Float32Array(out.get(v)!.raw_data!.slice().buffer);
        const res = complexResidual(Float32Array.from(br), Float32Array.from(bi), f32(r.re), f32(r.im), c);
        expect(res, `c = ${c}`).to.be.lessThan(1e-4);
      }
    });
  }

  it('splice records the exact inverse as a complex region whose output is the inverse of its input; materialize drops it', async () => {
    const m = fixture('resnet18_iqa.onnx');
    await spliceRobustBlock(m, { stage: 'layer3', inputShapes: { input: [1, 3, 64, 64] } });
    const regions = readInverseRegions(m);
    expect(regions).to.have.length(1);
    const r = regions[0]!;
    expect(r.inputImag).to.be.a('string');
    expect(r.outputImag).to.be.a('string');
    for (const name of [r.input, r.output, r.inputImag!, r.outputImag!]) expect(m.graph.hasValue(name), name).to.equal(true);
    expect(m.graph.nodes.some((n) => n.name.includes('/ns/'))).to.equal(false);
    const v = await fetch(m, [r.input, r.inputImag!, r.output, r.outputImag!], [1, 3, 64, 64]);
    const dims = v[r.input]!.dims;
    const c = dims[dims.length - 1]!;
    expect(dims[dims.length - 2]).to.equal(c);
    const res = complexResidual(v[r.input]!.data as Float32Array, v[r.inputImag!]!.data as Float32Array, v[r.output]!.data as Float32Array, v[r.outputImag!]!.data as Float32Array, c);
    expect(res).to.be.lessThan(1e-4);
    // the region follows a renamed value
    rename(m, { map: { [r.output]: 'cayley_inverse_re' } });
    expect(readInverseRegions(m)[0]!.output).to.equal('cayley_inverse_re');
    expect(m.graph.hasValue('cayley_inverse_re')).to.equal(true);
    await materialize(m);
    expect(readInverseRegions(m)).to.deep.equal([]);
    expect(m.metadata().has(INVERSE_REGIONS_KEY)).to.equal(false);
  });

  it('the exact inverse is the default; an iteration count asks for Newton-Schulz and is refused with another inverse', () => {
    expect(resolveBlockOptions({}).inverse).to.equal('schur');
    expect(resolveBlockOptions({ nsIterations: 12 }).inverse).to.equal('newton-schulz');
    expect(() => resolveBlockOptions({ nsIterations: 12, inverse: 'schur' })).to.throw(UserError, /--ns-iterations applies to the Newton-Schulz inverse only/);
    expect(() => resolveBlockOptions({ nsIterations: 12, inverse: 'com.microsoft' }, 'patch')).to.throw(UserError, /'nsIterations' applies/);
  });

  it('a Newton-Schulz splice records a real region (block form in, block inverse out)', async () => {
    const m = fixture('resnet18_iqa.onnx');
    await spliceRobustBlock(m, { stage: 'layer3', inverse: 'newton-schulz', inputShapes: { input: [1, 3, 64, 64] } });
    const [r] = readInverseRegions(m);
    expect(r!.inputImag).to.equal(undefined);
    const v = await fetch(m, [r!.input, r!.output], [1, 3, 64, 64]);
    const b = v[r!.input]!.data as Float32Array;
    const c = v[r!.output]!.data as Float32Array;
    const dims = v[r!.input]!.dims;
    const size = dims[dims.length - 1]!;
    const zero = new Float32Array(b.length);
    expect(complexResidual(b, zero, c, zero, size)).to.be.lessThan(1e-4);
  });

  it('the post-splice check runs a stand-in of the same shape, without the Q subgraph', async () => {
    const m = fixture('resnet18_iqa.onnx');
    const shape = [1, 3, 64, 64];
    await spliceRobustBlock(m, { stage: 'layer3', reduceKernel: 3, pool: 'max', inputShapes: { input: shape } });
    const meta = JSON.parse(m.metadata().get('iqa-surgeon.robust_block')!) as { cayley: { n: number } }[];
    const orth = m.graph.nodes.find((n) => n.name === 'robust_block/orth/Add_bias')!.outputs[0]!.name;
    const pooled = m.graph.nodes.find((n) => n.name === 'robust_block/pool/MaxPool')!.outputs[0]!.name;
    const check = shapeCheckModel(m, { orthOutput: orth, pooled, crop: 1, n: meta[0]!.cayley.n }, 13, 'robust_block');
    expect(check.graph.nodes.filter((n) => n.name.includes('/orth/')).length).to.equal(0);
    const want = await inferShapes(m, { inputShapes: { input: shape } });
    const got = await inferShapes(check, { inputShapes: { input: shape } });
    let compared = 0;
    for (const v of check.graph.values()) {
      if (v.name.startsWith('robust_block')) continue;
      const a = want.get(m.graph.value(v.name))?.shape;
      expect(got.get(v)?.shape, v.name).to.deep.equal(a);
      compared++;
    }
    expect(compared).to.be.greaterThan(20);
    const out = await fetch(check, [], shape);
    const full = await fetch(m, [], shape);
    expect(out.score!.dims).to.deep.equal(full.score!.dims);
  });
});
