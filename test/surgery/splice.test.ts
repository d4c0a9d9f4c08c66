import { expect } from 'chai';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { computeStages } from '../../src/analysis/stages.js';
import { UserError } from '../../src/errors.js';
import { Model } from '../../src/ir/model.js';
import { float32Tensor } from '../../src/surgery/emit.js';
import { materialize } from '../../src/surgery/materialize.js';
import { SPLICE_METADATA_KEY, spliceRobustBlock, type SpliceOptions } from '../../src/surgery/splice.js';
import { randomFloats } from '../helpers/seeded-random.js';
import { FIXTURE_MODELS, REALDATA_ONNX, requireOrSkip } from '../helpers/test-data.js';
import { maxRelErr, type Tensor64 } from './block-harness.js';

async function run(model: Model, shape: number[], seed = 7): Promise<Record<string, ort.Tensor>> {
  const session = await ort.InferenceSession.create(model.toBytes());
  const n = shape.reduce((a, b) => a * b, 1);
  const name = session.inputNames[0]!;
  return session.run({ [name]: new ort.Tensor('float32', randomFloats(seed, n), shape) });
}

const fixture = (name: string): Model => Model.load(path.join(FIXTURE_MODELS, name));

describe('surgery/splice', () => {
  const cases: [string, number[]][] = [
    ['resnet18_iqa.onnx', [1, 3, 64, 64]],
    ['resnet50_iqa.onnx', [1, 3, 64, 64]],
    ['vgg16_iqa.onnx', [1, 3, 64, 64]],
    ['linearity_iqa.onnx', [1, 3, 64, 96]],
  ];
  for (const [file, shape] of cases) {
    it(`${file}: a Cayley block at every stage runs in ONNX Runtime with the output shape unchanged`, async () => {
      const base = fixture(file);
      const ref = await run(base, shape);
      const map = await computeStages(base, { inputShapes: { input: shape } });
      for (const st of map.stages) {
        const m = fixture(file);
        const r = await spliceRobustBlock(m, { stage: String(st.index), inputShapes: { input: shape } });
        expect(r.inShape).to.deep.equal(st.shape);
        const s = Math.min(st.shape[1] as number, st.shape[2] as number);
        expect(r.outShape).to.deep.equal([st.shape[0], s, s]);
        const pos = new Map(m.graph.nodes.map((n, i) => [n, i]));
        for (const n of m.graph.nodes) for (const i of n.inputs) if (i?.producer()) expect(pos.get(i.producer()!)!, `${n.label} reads ${i.name} before it is produced`).to.be.lessThan(pos.get(n)!);
        const out = await run(m, shape);
        for (const [k, v] of Object.entries(ref)) {
          expect([...out[k]!.dims]).to.deep.equal([...v.dims]);
          expect(Array.from(out[k]!.data as Float32Array).every(Number.isFinite)).to.equal(true);
        }
      }
    });
  }

  for (const orth of ['cayley', 'aol'] as const) {
    it(`${orth}: the parametric and the materialized form give the same outputs within 1e-4`, async () => {
      const m = fixture('linearity_iqa.onnx');
      await spliceRobustBlock(m, { stage: 'layer3', orth, inputShapes: { input: [2, 3, 64, 96] } });
      const a = await run(m, [2, 3, 64, 96]);
      const mat = m.clone();
      const rep = await materialize(mat);
      expect(rep.blocks[0]!.folded.length).to.equal(orth === 'cayley' ? 2 : 1);
      expect(mat.graph.hasValue('robust_block.orth.weight')).to.equal(false);
      const meta = JSON.parse(mat.metadata().get(SPLICE_METADATA_KEY)!);
      expect(meta[0].form).to.equal('materialized');
      expect(Object.keys(meta[0].materializedParams)).to.include('robust_block.orth.weight');
      const b = await run(mat, [2, 3, 64, 96]);
      expect(maxRelErr(b.score!.data as Float32Array, a.score!.data as Float32Array)).to.be.lessThan(1e-4);
      // materializing again is a no-op
      expect((await materialize(mat)).blocks[0]!.folded).to.deep.equal([]);
    });
  }

  describe('whole block against the PyTorch golden outputs', () => {
    const golden = JSON.parse(readFileSync('fixtures/robust-block/golden.json', 'utf8')) as {
      block: { name: string; x: Tensor64; reduce_W: Tensor64; reduce_b: Tensor64; cayley_W: Tensor64; cayley_b: Tensor64; alpha: number; y: Tensor64 }[];
    };
    for (const g of golden.block) {
      it(`${g.name}`, async () => {
        const shape = g.x.shape;
        const model = new Model({
          ir_version: 8,
          opset_import: [{ domain: '', version: 13 }],
          graph: {
            name: 'g',
            input: [{ name: 'x', type: { tensor_type: { elem_type: 1, shape: { dim: shape.map((d) => ({ dim_value: d })) } } } }],
            node: [{ op_type: 'Identity', input: ['x'], output: ['y'], name: 'id' }],
            output: [{ name: 'y' }],
          },
        });
        const opts: SpliceOptions = { edge: 'x', ...(g.name === 'paper_code' ? { compat: 'paper-code' as const } : {}) };
        await spliceRobustBlock(model, opts);
        const set = (name: string, t: Tensor64, dims = t.shape): void => {
          const v = model.graph.value(`robust_block.${name}`);
          v.initializer = { ...float32Tensor(dims, t.data), name: v.name };
        };
        set('reduce.weight', g.reduce_W);
        set('reduce.bias', g.reduce_b);
        set('orth.weight', g.cayley_W);
        set('orth.bias', g.cayley_b, [g.cayley_b.shape[0]!, 1, 1]);
        set('orth.alpha', { shape: [], data: [g.alpha] });
        const session = await ort.InferenceSession.create(model.toBytes());
        const out = await session.run({ x: new ort.Tensor('float32', Float32Array.from(g.x.data), shape) });
        expect([...out.y!.dims]).to.deep.equal(g.y.shape);
        expect(maxRelErr(out.y!.data as Float32Array, g.y.data)).to.be.lessThan(1e-4);
      });
    }
  });

  it('refuses when a downstream op depends on the spatial size, naming the node', async () => {
    const m = fixture('resnet18_iqa_static.onnx');
    try {
      await spliceRobustBlock(m, { stage: 'layer4', square: 1 });
      expect.fail('should refuse');
    } catch (e) {
      expect(e).to.be.instanceOf(UserError);
      expect((e as UserError).code).to.equal('splice-size-dependent');
      expect((e as Error).message).to.match(/\[64,2,2\].*\[64,1,1\]/).and.match(/Gemm/);
    }
  });

  it('ultraface (opset 9, non-square levels): refused without --restore-size, runs with it', async function () {
    const file = path.join(REALDATA_ONNX, 'ultraface_RFB-320.onnx');
    requireOrSkip(this, existsSync(file), `real graph ${file}`);
    let refused = false;
    try {
      await spliceRobustBlock(Model.load(file), { stage: '3' });
    } catch (e) {
      refused = (e as UserError).code === 'splice-size-dependent';
    }
    expect(refused).to.equal(true);
    const base = Model.load(file);
    const ref = await run(base, [1, 3, 240, 320]);
    const m = Model.load(file);
    const r = await spliceRobustBlock(m, { stage: '3', restoreSize: true });
    expect(r.inShape).to.deep.equal([128, 15, 20]);
    expect(r.outShape).to.deep.equal([128, 15, 20]);
    const out = await run(m, [1, 3, 240, 320]);
    expect(Object.keys(out).sort()).to.deep.equal(Object.keys(ref).sort());
    for (const k of Object.keys(ref)) expect([...out[k]!.dims]).to.deep.equal([...ref[k]!.dims]);
  });

  it('a dynamic spatial size needs --input-shape, which is then recorded in the file', async () => {
    const m = fixture('resnet18_iqa.onnx');
    const dims = m.graph.inputs[0]!.info!.type!.tensor_type!.shape!.dim!;
    dims[2] = { dim_param: 'H' };
    dims[3] = { dim_param: 'W' };
    const m2 = Model.fromBytes(m.toBytes());
    try {
      await spliceRobustBlock(m2, { stage: 'layer3' });
      expect.fail('should refuse');
    } catch (e) {
      expect((e as UserError).code).to.equal('dynamic-size');
      expect((e as Error).message).to.contain('--input-shape');
    }
    const m3 = Model.fromBytes(m.toBytes());
    const r = await spliceRobustBlock(m3, { stage: 'layer3', inputShapes: { input: [2, 3, 96, 96] } });
    expect(r.fixedInputs).to.deep.equal({ input: [2, 3, 96, 96] });
    expect(Model.fromBytes(m3.toBytes()).graph.inputs[0]!.declaredShape).to.deep.equal([2, 3, 96, 96]);
    expect(r.inShape).to.deep.equal([32, 6, 6]);
    await run(m3, [2, 3, 96, 96]);
  });

  it('bad choices are clear errors', async () => {
    const m = fixture('resnet18_iqa.onnx');
    const codes: string[] = [];
    for (const o of [{}, { stage: '1', edge: 'x' }, { stage: 'layer9' }, { edge: 'nope' }, { edge: 'fc.weight' }, { stage: '1', reduce: 2 }] as SpliceOptions[]) {
      try {
        await spliceRobustBlock(fixture('resnet18_iqa.onnx'), o);
        codes.push('ok');
      } catch (e) {
        codes.push((e as UserError).code);
      }
    }
    expect(codes).to.deep.equal(['usage', 'usage', 'no-such-stage', 'no-such-value', 'bad-edge', 'usage']);
    void m;
  });
});
