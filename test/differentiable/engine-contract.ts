/**
 * The contract every `DifferentiableModel` engine must pass (the tfjs mirror today, an ONNX
 * Runtime gradient engine later): call `describeEngineContract(name, makeEngine)` from a test file
 * with a function that builds the engine under test (through the factory, src/engines/factory.ts).
 *
 * On the small smooth CNN of test/helpers/finite-diff.ts (tanh/softplus/sigmoid, average pooling;
 * an int64 `head.shape` initializer that is not a parameter):
 * - gradients for the input (built-in loss `mean`) and for parameters (explicit cotangents, i.e.
 *   a vector-Jacobian product) match central finite differences of the engine's own forward along
 *   random directions: relative error <= MAX_REL = 1e-2 (float32 differences, best of three steps
 *   3e-2, 1e-2, 3e-3 times ||x||; measured on the mirror: 3e-6..4e-4), and the same check fails on a
 *   gradient scaled by 1.05, so it can fail;
 * - write-back is exact: values given to setParameter come back bit for bit after writeBack,
 *   encoding and decoding the model; unchanged and untouched initializers keep their bytes;
 * - repeated forward/gradient/get/set calls do not grow the engine's live memory (memoryStats);
 * - unknown inputs, unknown parameters and initializers that are not parameters are UserErrors
 *   naming the name.
 */
import { expect } from 'chai';
import type { DifferentiableModel, HostTensor } from '../../src/differentiable/model.js';
import { UserError } from '../../src/errors.js';
import { Model } from '../../src/ir/model.js';
import { tensorRawBytes, tensorTypedData } from '../../src/onnx/tensor-data.js';
import { checkDirection, direction, gaussian, MAX_REL, report, smoothCnn, type Check } from '../helpers/finite-diff.js';
import { requireOrSkip } from '../helpers/test-data.js';

/** Build the engine under test for `model` with the given trainable selectors. */
export type MakeEngine = (model: Model, trainable: string[]) => Promise<DifferentiableModel>;

const DIMS = [2, 3, 24, 24];
const TRAINABLE = ['c1.w', 'c2.b', 'c3.w', 'fc.w'];

function fixture(): Model {
  return smoothCnn(21, { reshapeHead: true });
}

function image(seed: number): HostTensor {
  return { dims: DIMS, data: Float32Array.from(gaussian(DIMS.reduce((a, b) => a * b, 1), seed), (v) => 0.5 + 0.25 * v) };
}

function mean(h: HostTensor): number {
  let s = 0;
  for (const v of h.data) s += v;
  return s / h.data.length;
}

function weighted(h: HostTensor, w: Float32Array): number {
  let s = 0;
  for (let i = 0; i < w.length; i++) s += w[i]! * Number(h.data[i]);
  return s;
}

function bits(a: Float32Array): Uint32Array {
  return new Uint32Array(a.buffer, a.byteOffset, a.length);
}

/** The UserError `p` rejects with (or `f` throws); fails when there is none or it is another error. */
async function userError(p: (() => unknown) | Promise<unknown>): Promise<UserError> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    expect(e, String(e)).to.be.instanceOf(UserError);
    return e as UserError;
  }
  throw new Error('expected a UserError, got none');
}

export function describeEngineContract(name: string, makeEngine: MakeEngine): void {
  describe(`engine contract: ${name}`, function () {
    this.timeout(600_000);
    let model: Model;
    let engine: DifferentiableModel;
    const x = image(5);

    beforeEach(async () => {
      model = fixture();
      engine = await makeEngine(model, TRAINABLE);
    });
    afterEach(() => engine.dispose());

    it('describes itself and lists its inputs, outputs and parameters', () => {
      expect(engine.describe()).to.be.a('string').and.include(engine.engine);
      expect(engine.inputNames).to.deep.equal(['image']);
      expect(engine.outputNames).to.deep.equal(['score']);
      expect(engine.parameterNames()).to.deep.equal(['c1.w', 'c1.b', 'c2.w', 'c2.b', 'c3.w', 'c3.b', 'fc.w', 'fc.b']);
      expect(engine.trainableNames()).to.deep.equal(TRAINABLE);
    });

    /** Input and parameter gradients, their finite-difference checks, and the same checks on a gradient 5% off. */
    async function gradientChecks(scale: number): Promise<Check[]> {
      const checks: Check[] = [];
      // input gradient of the built-in loss `mean`; the reported loss is the forward's
      const g = await engine.gradients({ image: x }, { kind: 'mean' }, { inputs: ['image'], params: [] });
      const y0 = (await engine.forward({ image: x })).score!;
      expect(Math.abs(g.loss - mean(y0))).to.be.at.most(1e-6 + 1e-5 * Math.abs(mean(y0)));
      expect(Object.keys(g.paramGrads)).to.deep.equal([]);
      const gx = Float32Array.from(g.inputGrads.image!.data as Float32Array, (v) => v * scale);
      const fx = async (arr: Float32Array): Promise<number> => mean((await engine.forward({ image: { dims: DIMS, data: arr } })).score!);
      let k = 0;
      for (let rep = 0; rep < 2; rep++) {
        const d = direction(gx, () => gaussian(gx.length, 700 + k++));
        checks.push(await checkDirection("input 'image'", fx, x.data as Float32Array, gx, d));
      }
      // parameter gradients (default: the trainable set) of explicit cotangents: sum(w * y)
      const w = Float32Array.from(gaussian(y0.data.length, 99));
      const gp = await engine.gradients({ image: x }, { score: { dims: y0.dims, data: w } });
      expect(Object.keys(gp.paramGrads).sort()).to.deep.equal([...TRAINABLE].sort());
      expect(Math.abs(gp.loss - weighted(y0, w))).to.be.at.most(1e-5 + 1e-5 * Math.abs(gp.loss));
      for (const p of TRAINABLE) {
        const base = engine.getParameter(p);
        const grad = Float32Array.from(gp.paramGrads[p]!.data as Float32Array, (v) => v * scale);
        expect(gp.paramGrads[p]!.dims).to.deep.equal(base.dims);
        const fp = async (arr: Float32Array): Promise<number> => {
          engine.setParameter(p, { dims: base.dims, data: arr });
          return weighted((await engine.forward({ image: x })).score!, w);
        };
        try {
          const d = direction(grad, () => gaussian(grad.length, 800 + k++));
          checks.push(await checkDirection(`parameter '${p}'`, fp, base.data as Float32Array, grad, d));
        } finally {
          engine.setParameter(p, base);
        }
      }
      return checks;
    }

    it(`gradients for the input and the trainable parameters match central finite differences (rel <= ${MAX_REL})`, async () => {
      const checks = await gradientChecks(1);
      expect(checks.length).to.equal(2 + TRAINABLE.length);
      for (const c of checks) expect(c.rel, report(checks)).to.be.at.most(MAX_REL);
    });

    it('the same check fails on a gradient scaled by 1.05', async () => {
      const checks = await gradientChecks(1.05);
      for (const c of checks) expect(c.rel, report(checks)).to.be.greaterThan(MAX_REL);
    });

    it('write-back is bit-exact and leaves unchanged and untouched initializers byte-identical', async () => {
      const before = new Map(model.graph.initializers().map((v) => [v.name, tensorRawBytes(v.initializer!).slice()] as const));
      const old = engine.getParameter('c3.w');
      // new values: perturbed, with a negative zero, a tiny normal and a large value
      const next = Float32Array.from(old.data as Float32Array, (v, i) => v + 1e-3 * Math.sin(i));
      next[0] = -0;
      next[1] = 1.1754944e-38;
      next[2] = -3.4e38;
      engine.setParameter('c3.w', { dims: old.dims, data: next });
      expect(Array.from(bits(engine.getParameter('c3.w').data as Float32Array))).to.deep.equal(Array.from(bits(next)));
      // the same bits again: an unchanged parameter
      engine.setParameter('fc.w', engine.getParameter('fc.w'));
      // forward and gradient calls in between change nothing
      await engine.gradients({ image: x }, { kind: 'mean' });
      expect(engine.writeBack(['fc.w', 'c1.b'])).to.deep.equal([]);
      expect(engine.writeBack()).to.deep.equal(['c3.w']);
      const reloaded = Model.fromBytes(model.toBytes());
      for (const v of reloaded.graph.initializers()) {
        if (v.name === 'c3.w') {
          expect(Array.from(bits(tensorTypedData(v.initializer!) as Float32Array)), 'c3.w written back').to.deep.equal(Array.from(bits(next)));
        } else {
          expect(Buffer.from(tensorRawBytes(v.initializer!)).equals(Buffer.from(before.get(v.name)!)), `${v.name} untouched`).to.equal(true);
        }
      }
      expect(reloaded.graph.initializers().map((v) => v.name)).to.deep.equal([...before.keys()]);
    });

    it('repeated forward, gradient, get and set calls do not grow live engine memory', async function () {
      requireOrSkip(this, typeof engine.memoryStats === 'function', `memoryStats() of the ${name} engine`);
      const round = async (): Promise<void> => {
        await engine.forward({ image: x });
        await engine.gradients({ image: x }, { kind: 'mse', target: { dims: [2, 1], data: Float32Array.of(0.3, 0.7) } }, { inputs: ['image'] });
        const w = engine.getParameter('c2.b');
        engine.setParameter('c2.b', w);
      };
      for (let i = 0; i < 2; i++) await round(); // warm-up: caches, lazily built constants
      const start = engine.memoryStats!();
      const seen = [];
      for (let i = 0; i < 5; i++) {
        await round();
        seen.push(engine.memoryStats!());
      }
      for (const s of seen) expect(s, `live memory after warm-up ${JSON.stringify(start)}, then ${JSON.stringify(seen)}`).to.deep.equal(start);
    });

    it('unknown inputs and parameters, and initializers that are not parameters, are UserErrors naming them', async () => {
      const one = (dims: number[]): HostTensor => ({ dims, data: new Float32Array(dims.reduce((a, b) => a * b, 1)) });
      expect((await userError(engine.forward({ image: x, nope_in: x }))).message).to.include('nope_in');
      expect((await userError(engine.gradients({ image: x }, { kind: 'mean' }, { inputs: ['nope_in'] }))).message).to.include('nope_in');
      expect((await userError(() => engine.getParameter('nope.w'))).message).to.include('nope.w');
      expect((await userError(() => engine.setParameter('nope.w', one([1])))).message).to.include('nope.w');
      expect((await userError(engine.gradients({ image: x }, { kind: 'mean' }, { params: ['nope.w'] }))).message).to.include('nope.w');
      expect((await userError(() => engine.writeBack(['nope.w']))).message).to.include('nope.w');
      // head.shape exists but is an int64 initializer: not a parameter, cannot train
      expect((await userError(() => engine.getParameter('head.shape'))).message).to.include('head.shape');
      expect((await userError(() => engine.setParameter('head.shape', one([2])))).message).to.include('head.shape');
      expect((await userError(engine.gradients({ image: x }, { kind: 'mean' }, { params: ['head.shape'] }))).message).to.include('head.shape');
      expect((await userError(makeEngine(fixture(), ['head.shape']))).message).to.include('head.shape');
      expect((await userError(makeEngine(fixture(), ['nope.*']))).message).to.include('nope.*');
    });
  });
}
