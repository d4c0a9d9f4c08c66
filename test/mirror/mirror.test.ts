import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { compareModels } from '../../src/equiv/compare.js';
import { UnsupportedOpError, UserError } from '../../src/errors.js';
import { Model } from '../../src/ir/model.js';
import { currentBackend, loadBackend } from '../../src/mirror/backend.js';
import { Mirror } from '../../src/mirror/mirror.js';
import { supportProblems } from '../../src/mirror/support.js';
import { tensorRawBytes, tensorTypedData } from '../../src/onnx/tensor-data.js';
import { spliceRobustBlock } from '../../src/surgery/splice.js';
import { materialize } from '../../src/surgery/materialize.js';
import { cli } from '../helpers/cli.js';
import { floatTensor, model, node, tensorInfo, FLOAT } from '../helpers/proto-build.js';
import { runWithInputs } from '../helpers/ort-compare.js';
import { TempDirs } from '../helpers/temp-dir.js';
import { randomFloats } from '../helpers/seeded-random.js';
import { FIXTURE_MODELS, REALDATA_ONNX, requireOrSkip } from '../helpers/test-data.js';

const FLOAT_FIXTURES = ['resnet18_iqa', 'resnet50_iqa', 'vgg16_iqa', 'linearity_iqa', 'resnet18_iqa_static'];
const GRAPHS = ['graphs/linearity_r18w16.onnx', 'graphs/dbcnn_vgg_bilinear.onnx'];
const TOL = { atol: 1e-4, rtol: 1e-3 };

/** n values uniform in [0, 1) from a seed (image-like inputs). */
const seeded = (n: number, seed: number): Float32Array => randomFloats(seed, n, 0, 1);

describe('mirror: the TensorFlow.js mirror against ONNX Runtime', function () {
  this.timeout(300_000);
  const temps = new TempDirs('mirror');
  after(() => temps.cleanup());

  before(async () => {
    await loadBackend('auto');
  });

  it('prints which backend runs (here: the tfjs cpu backend with the toolkit\'s conv kernels)', () => {
    const b = currentBackend()!;
    expect(b).to.not.equal(undefined);
    expect(b.description).to.match(/tfjs/);
    console.log(`      backend: ${b.description}`);
  });

  for (const name of FLOAT_FIXTURES) {
    it(`agrees with ONNX Runtime on fixtures/models/${name}.onnx (equiv --mirror)`, async () => {
      const r = await compareModels(path.join(FIXTURE_MODELS, `${name}.onnx`), undefined, { mirror: true, ...TOL });
      expect(r.equivalent, r.summary).to.equal(true);
      expect(r.runtime).to.match(/tfjs mirror/);
    });
  }

  for (const file of GRAPHS) {
    it(`agrees with ONNX Runtime on the default graph ${file}`, async () => {
      const r = await compareModels(file, undefined, { mirror: true, ...TOL });
      expect(r.equivalent, r.summary).to.equal(true);
    });
  }

  for (const file of ['mnist.onnx', 'super_resolution_core_opset11.onnx', 'ultraface_RFB-320.onnx']) {
    it(`agrees with ONNX Runtime on ../shared/realdata/onnx/${file}`, async function () {
      const p = path.join(REALDATA_ONNX, file);
      requireOrSkip(this, existsSync(p), `../shared/realdata/onnx/${file}`);
      const r = await compareModels(p, undefined, { mirror: true, ...TOL });
      expect(r.equivalent, r.summary).to.equal(true);
    });
  }

  it('matches the fixture model reference output computed by PyTorch', async () => {
    const exp = JSON.parse(readFileSync(path.join(FIXTURE_MODELS, 'resnet18_iqa.expected.json'), 'utf8')) as { input: number[]; input_shape: number[]; output: number[] };
    const m = await Mirror.create(Model.load(path.join(FIXTURE_MODELS, 'resnet18_iqa.onnx')));
    try {
      const out = await m.forward({ input: { dims: exp.input_shape, data: Float32Array.from(exp.input) } });
      const got = Array.from(out.score!.data);
      got.forEach((v, i) => expect(Math.abs(v - exp.output[i]!)).to.be.below(1e-4 + 1e-3 * Math.abs(exp.output[i]!)));
    } finally {
      m.dispose();
    }
  });

  describe('spliced RobustBlock models', () => {
    const variants: { label: string; opts: Record<string, unknown>; materialize?: boolean }[] = [
      { label: 'Cayley, parametric (exact Schur inverse in the graph)', opts: {} },
      { label: 'Cayley, parametric (Newton-Schulz in the graph)', opts: { inverse: 'newton-schulz' as const } },
      { label: 'Cayley, parametric, com.microsoft Inverse', opts: { inverse: 'com.microsoft' } },
      { label: 'Cayley, materialized', opts: {}, materialize: true },
      { label: 'AOL', opts: { orth: 'aol' } },
      { label: 'Cayley, max pool, 3x3 reduce conv', opts: { pool: 'max', kernel: 3 } },
    ];
    for (const v of variants) {
      it(`agrees with ONNX Runtime after splicing at layer3: ${v.label}`, async () => {
        const m = Model.load(path.join(FIXTURE_MODELS, 'resnet18_iqa.onnx'));
        await spliceRobustBlock(m, { stage: 'layer3', inputShapes: { input: [1, 3, 64, 64] }, ...v.opts });
        if (v.materialize) await materialize(m);
        const r = await compareModels(m, undefined, { mirror: true, ...TOL, inputShapes: { input: [1, 3, 64, 64] } });
        expect(r.equivalent, r.summary).to.equal(true);
      });
    }
  });

  it('equiv --mirror --per-layer compares every intermediate value and finds none diverging', async () => {
    const r = await compareModels(path.join(FIXTURE_MODELS, 'linearity_iqa.onnx'), undefined, { mirror: true, perLayer: true, ...TOL });
    expect(r.equivalent, r.summary).to.equal(true);
    expect(r.perLayer!.compared).to.be.greaterThan(20);
    expect(r.perLayer!.failing).to.equal(0);
  });

  it('setParameter changes what the mirror computes', async () => {
    // the mirror reads the IR; perturb one conv weight in the IR after ONNX Runtime has run A
    const m = Model.load(path.join(FIXTURE_MODELS, 'resnet18_iqa.onnx'));
    const mirror = await Mirror.create(m, { trainable: ['fc.weight'] });
    try {
      const w = mirror.getParameter('fc.weight');
      const base = await mirror.forward({ input: { dims: [1, 3, 64, 64], data: seeded(3 * 64 * 64, 3) } });
      mirror.setParameter('fc.weight', { dims: w.dims, data: w.data.map((x) => x + 1e-2) as Float32Array });
      const after = await mirror.forward({ input: { dims: [1, 3, 64, 64], data: seeded(3 * 64 * 64, 3) } });
      expect(Math.abs(after.score!.data[0]! - base.score!.data[0]!)).to.be.greaterThan(1e-4);
    } finally {
      mirror.dispose();
    }
  });

  describe('support check', () => {
    it('reports an op without a kernel with its node name before anything runs', async () => {
      const proto = model({
        inputs: [tensorInfo('x', FLOAT, [1, 4])],
        outputs: [tensorInfo('y', FLOAT, [1, 4])],
        nodes: [node('Relu', ['x'], ['r'], 'first_relu'), node('Hardmax', ['r'], ['h'], 'hm'), node('NonMaxSuppressionLike', ['h'], ['y'], 'the_odd_one')],
      });
      const m = new Model(proto);
      const problems = supportProblems(m);
      expect(problems.map((p) => p.node)).to.include('the_odd_one');
      let caught: unknown;
      try {
        await Mirror.create(m);
      } catch (e) {
        caught = e;
      }
      expect(caught).to.be.instanceOf(UnsupportedOpError);
      expect((caught as Error).message).to.contain("'the_odd_one'").and.contain('NonMaxSuppressionLike');
    });

    it('refuses float16 and quantized fixtures with the node and the reason', async () => {
      for (const f of ['resnet18_iqa_fp16', 'qdq_conv']) {
        let caught: unknown;
        try {
          await Mirror.create(Model.load(path.join(FIXTURE_MODELS, `${f}.onnx`)));
        } catch (e) {
          caught = e;
        }
        expect(caught, f).to.be.instanceOf(UnsupportedOpError);
        expect((caught as Error).message).to.match(/at node '/);
      }
    });
  });

  describe('parameters', () => {
    it('selects trainable parameters by name, glob and stage; a selector matching nothing is an error', async () => {
      const m = Model.load(path.join(FIXTURE_MODELS, 'resnet18_iqa.onnx'));
      const all = await Mirror.create(m, { trainable: ['all'] });
      const names = all.parameterNames();
      expect(all.trainableNames()).to.deep.equal(names);
      all.dispose();
      const byName = await Mirror.create(m, { trainable: ['fc.weight'] });
      expect(byName.trainableNames()).to.deep.equal(['fc.weight']);
      byName.dispose();
      const byGlob = await Mirror.create(m, { trainable: ['fc.*'] });
      expect(byGlob.trainableNames()).to.have.members(['fc.weight', 'fc.bias']);
      byGlob.dispose();
      const byStage = await Mirror.create(m, { trainable: ['stage:layer4'], inputShapes: { input: [1, 3, 64, 64] } });
      expect(byStage.trainableNames().length).to.be.greaterThan(4);
      expect(byStage.trainableNames().every((n) => names.includes(n))).to.equal(true);
      expect(byStage.trainableNames()).to.not.include('fc.weight');
      byStage.dispose();
      let caught: unknown;
      try {
        await Mirror.create(m, { trainable: ['no_such_weight*'] });
      } catch (e) {
        caught = e;
      }
      expect(caught).to.be.instanceOf(UserError);
      expect((caught as Error).message).to.contain('no_such_weight*');
    });

    it('writes trained values back bit-exactly and leaves every other initializer byte-identical', async () => {
      const src = path.join(FIXTURE_MODELS, 'resnet18_iqa.onnx');
      const m = Model.load(src);
      const mirror = await Mirror.create(m, { trainable: ['fc.weight', 'fc.bias'] });
      const w = mirror.getParameter('fc.weight');
      const next = Float32Array.from(w.data as Float32Array, (x, i) => x * 1.5 + i * 1e-7);
      mirror.setParameter('fc.weight', { dims: w.dims, data: next });
      const written = mirror.writeBack();
      expect(written).to.deep.equal(['fc.weight']); // fc.bias did not change: not rewritten
      const x = seeded(2 * 3 * 64 * 64, 9);
      const fromMirror = await mirror.forward({ input: { dims: [2, 3, 64, 64], data: x } });
      mirror.dispose();
      const out = path.join(temps.make('wb'), 'trained.onnx');
      m.save(out);
      const back = Model.load(out);
      const got = tensorTypedData(back.graph.value('fc.weight').initializer!) as Float32Array;
      expect(new Uint32Array(got.buffer)).to.deep.equal(new Uint32Array(next.buffer));
      const orig = Model.load(src);
      // the saved file differs from the source only inside fc.weight's payload: every other byte is untouched
      const a = readFileSync(src);
      const b = readFileSync(out);
      const payload = Buffer.from(tensorRawBytes(orig.graph.value('fc.weight').initializer!));
      const at = a.indexOf(payload);
      expect(at).to.be.greaterThan(0);
      expect(b.length).to.equal(a.length);
      let outside = 0;
      for (let i = 0; i < a.length; i++) if (a[i] !== b[i] && (i < at || i >= at + payload.length)) outside++;
      expect(outside).to.equal(0);
      expect(b.subarray(at, at + payload.length).equals(payload)).to.equal(false);
      for (const v of orig.graph.initializers()) {
        if (v.name === 'fc.weight') continue;
        const a = Buffer.from(tensorTypedData(v.initializer!).buffer as ArrayBuffer);
        const b = Buffer.from(tensorTypedData(back.graph.value(v.name).initializer!).buffer as ArrayBuffer);
        expect(a.equals(b), v.name).to.equal(true);
      }
      // ONNX Runtime on the written file computes what the mirror computed
      const ort = await runWithInputs(out, { input: { dims: [2, 3, 64, 64], data: x } });
      const o = ort.score!.data;
      Array.from(fromMirror.score!.data).forEach((v, i) => expect(Math.abs(v - o[i]!)).to.be.below(1e-4));
    });

    it('parameters are tf.Variables: a tfjs optimizer step on the trainable ones changes only them', async () => {
      const m = await Mirror.create(Model.load(path.join(FIXTURE_MODELS, 'resnet18_iqa.onnx')), { trainable: ['fc.*'] });
      try {
        const tf = m.tf;
        const names = m.parameterNames();
        const before = new Map(names.map((n) => [n, Float32Array.from(m.getParameter(n).data as Float32Array)]));
        const x = tf.tensor(seeded(2 * 3 * 64 * 64, 5), [2, 3, 64, 64]);
        const vars = m.trainableNames().map((n) => m.parameterTensor(n));
        expect(vars.every((v) => v.trainable)).to.equal(true);
        expect(m.parameterTensor('onnx::Conv_202').trainable).to.equal(false);
        tf.train.sgd(0.1).minimize(() => tf.mean(m.evaluate(new Map([['input', x]])).get('score')!) as never, false, vars);
        x.dispose();
        for (const n of names) {
          const same = (m.getParameter(n).data as Float32Array).every((v, i) => v === before.get(n)![i]);
          expect(same, n).to.equal(!n.startsWith('fc.'));
        }
      } finally {
        m.dispose();
      }
    });

    it('built-in losses and explicit cotangents: values and the head bias gradient match closed forms', async () => {
      const m = await Mirror.create(Model.load(path.join(FIXTURE_MODELS, 'resnet18_iqa.onnx')), { trainable: ['fc.bias'] });
      try {
        const feeds = { input: { dims: [4, 3, 64, 64], data: seeded(4 * 3 * 64 * 64, 21) } };
        const y = Array.from((await m.forward(feeds)).score!.data);
        const t = Float32Array.from([0.5, 1, 1.5, 2]);
        const target = { dims: [4, 1], data: t };
        const d = y.map((v, i) => v - t[i]!);
        const close = (a: number, b: number): void => {
          expect(Math.abs(a - b)).to.be.below(1e-5 + 1e-4 * Math.abs(b));
        };
        // score = x W^T + b: d mean((y-t)^2) / db = 2 mean(y-t); d mean|y-t| / db = mean(sign(y-t)); d mean(y) / db = 1
        const mse = await m.gradients(feeds, { kind: 'mse', target });
        close(mse.loss, d.reduce((a, v) => a + v * v, 0) / 4);
        close(mse.paramGrads['fc.bias']!.data[0]!, (2 * d.reduce((a, v) => a + v, 0)) / 4);
        const l1 = await m.gradients(feeds, { kind: 'l1', target });
        close(l1.loss, d.reduce((a, v) => a + Math.abs(v), 0) / 4);
        close(l1.paramGrads['fc.bias']!.data[0]!, d.reduce((a, v) => a + Math.sign(v), 0) / 4);
        const mean = await m.gradients(feeds, { kind: 'mean' });
        close(mean.paramGrads['fc.bias']!.data[0]!, 1);
        const cot = Float32Array.from([1, -2, 3, 0.5]);
        const vjp = await m.gradients(feeds, { score: { dims: [4, 1], data: cot } });
        close(vjp.loss, y.reduce((a, v, i) => a + v * cot[i]!, 0));
        close(vjp.paramGrads['fc.bias']!.data[0]!, 2.5);
        expect(Array.from(vjp.outputs.score!.data)).to.deep.equal(y);
        let caught: unknown;
        try {
          await m.gradients(feeds, { score: { dims: [2, 1], data: new Float32Array(2) } });
        } catch (e) {
          caught = e;
        }
        expect(caught).to.be.instanceOf(UserError);
      } finally {
        m.dispose();
      }
    });

    it('leaks no tensors: forward, gradients and dispose return tfjs memory to where it was', async () => {
      const tf = currentBackend()!.tf;
      const start = tf.memory().numTensors;
      const m = await Mirror.create(Model.load(path.join(FIXTURE_MODELS, 'linearity_iqa.onnx')), { trainable: ['all'] });
      const held = tf.memory().numTensors;
      const feeds = { input: { dims: [2, 3, 64, 96], data: seeded(2 * 3 * 64 * 96, 8) } };
      await m.forward(feeds);
      await m.gradients(feeds, { kind: 'mean' }, { inputs: ['input'] });
      await m.forward(feeds, ['/layer3/layer3.1/relu_1/Relu_output_0']);
      expect(tf.memory().numTensors).to.equal(held);
      m.dispose();
      expect(tf.memory().numTensors).to.equal(start);
    });

    it('refuses a parameter value of the wrong shape', async () => {
      const m = await Mirror.create(Model.load(path.join(FIXTURE_MODELS, 'resnet18_iqa.onnx')));
      try {
        expect(() => m.setParameter('fc.weight', { dims: [2, 2], data: new Float32Array(4) })).to.throw(UserError, /fc.weight/);
      } finally {
        m.dispose();
      }
    });
  });

  describe('CLI', () => {
    it('equiv --mirror exits 0 and names the backend in the report', async () => {
      const r = await cli('equiv', path.join(FIXTURE_MODELS, 'vgg16_iqa.onnx'), '--mirror');
      expect(r.code, r.err).to.equal(0);
      expect(r.out).to.contain('EQUIVALENT').and.contain('tfjs mirror');
    });

    it('equiv --mirror with two models, or --backend without --mirror, is a usage error (exit 1, one line)', async () => {
      const f = path.join(FIXTURE_MODELS, 'vgg16_iqa.onnx');
      for (const args of [[f, f, '--mirror'], [f, '--backend', 'cpu'], [f, '--mirror', '--backend', 'quantum']]) {
        const r = await cli('equiv', ...args);
        expect(r.code, args.join(' ')).to.equal(1);
        expect(r.err.trim().split('\n')).to.have.length(1);
      }
    });

    it('ops lists the registry; ops <model> checks that the mirror runs every node (exit 3 naming those it cannot)', async () => {
      const list = await cli('ops', '--json');
      expect(list.code, list.err).to.equal(0);
      const ops = JSON.parse(list.out).ops as { op: string; shapeRule: boolean; mirrorTypes: string[] }[];
      expect(ops.length).to.be.greaterThan(60);
      expect(ops.find((o) => o.op === 'Conv')).to.include({ shapeRule: true });
      const ok = await cli('ops', path.join(FIXTURE_MODELS, 'resnet50_iqa.onnx'));
      expect(ok.code, ok.err).to.equal(0);
      expect(ok.out).to.match(/the mirror runs all \d+ nodes/);
      const bad = await cli('ops', path.join(FIXTURE_MODELS, 'qdq_conv.onnx'));
      expect(bad.code).to.equal(3);
      expect(bad.out).to.match(/QuantizeLinear|DequantizeLinear/);
    });

    it('--backend forces a backend in a fresh process: the native ones load or fail with one line saying why', () => {
      const bin = path.resolve('bin/iqa-surgeon.js');
      const f = path.join(FIXTURE_MODELS, 'linearity_iqa.onnx');
      const cpu = spawnSync(process.execPath, [bin, 'equiv', f, '--mirror', '--backend', 'cpu'], { encoding: 'utf8' });
      expect(cpu.status, cpu.stderr).to.equal(0);
      expect(cpu.stdout).to.contain('B: tfjs mirror on cpu');
      for (const native of ['tfjs-node-gpu', 'tfjs-node']) {
        const r = spawnSync(process.execPath, [bin, 'equiv', f, '--mirror', '--backend', native], { encoding: 'utf8' });
        if (r.status === 0) expect(r.stdout).to.contain(`tfjs mirror on ${native}`);
        else {
          expect(r.status, r.stderr).to.equal(1);
          expect(r.stderr.trim().split('\n')).to.have.length(1);
          expect(r.stderr).to.contain(`--backend ${native}: @tensorflow/${native}`);
        }
      }
    });

    it('equiv --mirror refuses a model the mirror cannot run before ONNX Runtime runs it: one line, exit 1', async () => {
      const r = await cli('equiv', path.join(FIXTURE_MODELS, 'qdq_conv.onnx'), '--mirror');
      expect(r.code).to.equal(1);
      expect(r.err.trim().split('\n')).to.have.length(1);
      expect(r.err).to.match(/unsupported op (QuantizeLinear|DequantizeLinear) at node '/);
    });

    it('equiv --mirror on a model with an unsupported op exits 1 naming the node', async () => {
      const dir = temps.make('cli-unsup');
      const proto = model({
        inputs: [tensorInfo('x', FLOAT, [1, 4])],
        outputs: [tensorInfo('y', FLOAT, [1, 4])],
        nodes: [node('Relu', ['x'], ['r'], 'ok'), node('Det', ['r'], ['y'], 'det_node')],
        initializers: [floatTensor('unused', [1], [0])],
      });
      const f = path.join(dir, 'm.onnx');
      new Model(proto).save(f);
      const r = await cli('equiv', f, '--mirror');
      expect(r.code).to.equal(1);
      expect(r.err).to.contain('det_node').and.contain('Det');
    });
  });
});
