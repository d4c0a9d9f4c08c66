/**
 * Fine-tuning on the embedded dataset through the engine factory: a short run on a pruned default
 * model lowers the validation loss, ONNX Runtime on the saved file reproduces the engine's
 * predictions, and a run stopped after epoch 2 and resumed ends bit-identical to an uninterrupted
 * run with the same seed.
 */
import { expect } from 'chai';
import path from 'node:path';
import { listDataset, parseDatasetSpec, selectSplit, type DatasetItem } from '../../src/data/dataset.js';
import { makeDefaultDataset } from '../../src/data/make-default.js';
import { loadPixelBatch } from '../../src/data/pixels.js';
import { readPreprocess, resolvePreprocess } from '../../src/data/preprocess.js';
import { createEngine } from '../../src/engines/factory.js';
import { Model } from '../../src/ir/model.js';
import { pixelMap } from '../../src/attacks/pixels.js';
import { withRunner } from '../../src/runtime/index.js';
import { pruneModel } from '../../src/surgery/prune/prune.js';
import { spliceRobustBlock } from '../../src/surgery/splice.js';
import { epochBatches, finetune, type FinetuneOptions } from '../../src/train/finetune.js';
import { readCheckpoint } from '../../src/train/checkpoint.js';
import { UserError } from '../../src/errors.js';
import { TempDirs } from '../helpers/temp-dir.js';

const temps = new TempDirs('finetune');
after(() => temps.cleanup());

describe('train/finetune on the embedded dataset', function () {
  this.timeout(900_000);
  let train: DatasetItem[];
  let val: DatasetItem[];

  before(async () => {
    const dir = path.join(temps.make('data'), 'd');
    await makeDefaultDataset({ out: dir, size: 24, seed: 3 });
    const items = listDataset(parseDatasetSpec(dir)).items;
    train = selectSplit(items, 'train');
    val = [...selectSplit(items, 'val'), ...selectSplit(items, 'test')];
  });

  const pruned = (): Model => {
    const m = Model.load('graphs/linearity_r18w16.onnx');
    pruneModel(m, { criterion: 'l2', ratio: 0.3 });
    return m;
  };
  const options = (m: Model, extra: Partial<FinetuneOptions> = {}): FinetuneOptions => ({
    train,
    val,
    preprocess: resolvePreprocess(readPreprocess(m)),
    score: { output: m.graph.outputs[0]!.name, reduce: { kind: 'none' }, lowerIsBetter: false },
    batch: 8,
    lr: 1e-3,
    seed: 7,
    ...extra,
  });

  it('batches: shuffled by seed and epoch, a last batch of one joins the previous one', () => {
    const items = Array.from({ length: 17 }, (_, i) => ({ path: `${i}`, name: `${i}`, mos: i }));
    const b = epochBatches(items, 8, 1, 1);
    expect(b.map((x) => x.length)).to.deep.equal([8, 9]);
    expect(epochBatches(items, 8, 1, 1).map((x) => x.map((i) => i.name))).to.deep.equal(b.map((x) => x.map((i) => i.name)));
    expect(epochBatches(items, 8, 1, 2).map((x) => x.map((i) => i.name))).to.not.deep.equal(b.map((x) => x.map((i) => i.name)));
  });

  it('lowers the validation loss of a pruned model; ONNX Runtime on the saved file reproduces the engine', async () => {
    const m = pruned();
    const r = await finetune(m, options(m, { epochs: 2 }));
    expect(r.schema).to.equal('finetune@1');
    expect(r.epochs.map((e) => e.epoch)).to.deep.equal([0, 1, 2]);
    const start = r.epochs[0]!.valLoss;
    const after = Math.min(...r.epochs.slice(1).map((e) => e.valLoss));
    expect(after, JSON.stringify(r.epochs)).to.be.lessThan(start);
    // the saved file: ONNX Runtime and a fresh engine agree on the validation images
    const file = path.join(temps.make('saved'), 'tuned.onnx');
    m.save(file);
    const saved = Model.load(file);
    const spec = resolvePreprocess(readPreprocess(saved));
    const px = await loadPixelBatch(val, spec);
    const data = pixelMap(spec, spec.size[0] * spec.size[1]).toModel(px.data);
    const input = saved.graph.inputs[0]!.name;
    const output = saved.graph.outputs[0]!.name;
    const engine = await createEngine({ model: saved, engine: 'tfjs' });
    const mine = (await engine.forward({ [input]: { dims: [...px.dims], data } }))[output]!.data;
    engine.dispose();
    const ort = await withRunner(file, {}, async (run) => (await run.run({ [input]: { elemType: 1, dims: [...px.dims], data } }))[output]!.data as Float32Array);
    Array.from(mine).forEach((v, i) => expect(v).to.be.closeTo(ort[i]!, 1e-4));
  });

  it('stopped after epoch 2 and resumed: the same weights, bit for bit, as an uninterrupted run', async () => {
    const whole = pruned();
    const ckA = temps.make('ckA');
    await finetune(whole, options(whole, { epochs: 3, checkpointDir: ckA }));
    const parted = pruned();
    const ckB = temps.make('ckB');
    await finetune(pruned(), options(parted, { epochs: 2, checkpointDir: ckB }));
    const r = await finetune(parted, options(parted, { epochs: 3, checkpointDir: ckB, resume: true }));
    expect(r.epochs.map((e) => e.epoch)).to.deep.equal([0, 1, 2, 3]);
    const bytes = (m: Model): string[] => m.graph.initializers().map((v) => Buffer.from(v.initializer!.raw_data ?? new Uint8Array()).toString('base64'));
    expect(bytes(parted)).to.deep.equal(bytes(whole));
    // a different seed refuses to resume
    try {
      await finetune(pruned(), options(parted, { epochs: 3, checkpointDir: ckB, resume: true, seed: 8 }));
      expect.fail('resumed with another seed');
    } catch (e) {
      expect(e).to.be.instanceOf(UserError);
    }
  });

  describe('micro-batches', () => {
    const floats = (m: Model): Float32Array[] => m.graph.initializers().filter((v) => v.initializer!.data_type === 1).map((v) => Float32Array.from(new Float32Array(Uint8Array.from(v.initializer!.raw_data!).buffer)));
    const weightsAfter = async (extra: Partial<FinetuneOptions>): Promise<Float32Array[]> => {
      const m = pruned();
      await finetune(m, options(m, { epochs: 1, ...extra }));
      return floats(m);
    };
    // relative L2 distance of two runs' updates (weights after minus before)
    const dist = (start: Float32Array[], a: Float32Array[], b: Float32Array[]): number => {
      let num = 0;
      let den = 0;
      a.forEach((t, i) => t.forEach((v, j) => {
        const u = v - start[i]![j]!;
        const w = b[i]![j]! - start[i]![j]!;
        num += (u - w) ** 2;
        den += u * u;
      }));
      return Math.sqrt(num / den);
    };
    for (const defence of ['none', 'nt', 'at'] as const) {
      it(`defence ${defence}: a batch of 8 in engine calls of 3 ends at the weights of whole-batch calls${defence === 'none' ? '; a batch of 3 does not' : ''}`, async () => {
        const start = floats(pruned());
        const whole = await weightsAfter({ defence });
        const micro = await weightsAfter({ defence, microBatch: 3 });
        expect(dist(start, whole, whole)).to.equal(0);
        const d = dist(start, whole, micro);
        // the sums differ in rounding only, but Adam's first updates are about lr * sign(g), so a
        // near-zero gradient element can flip: measured 1.7e-3 (defence none), against 1.9 for a batch of 3
        expect(d, `micro-batched update differs by ${d}`).to.be.lessThan(1e-2);
        if (defence === 'none') {
          const wrong = dist(start, whole, await weightsAfter({ batch: 3 }));
          expect(wrong, `batch 3 differs by only ${wrong}`).to.be.greaterThan(0.05);
        }
      });
    }

    it('a spliced RobustBlock (its Cayley a weight stage, summed through once per step in calls of 3), defence nt: the whole-batch weights', async () => {
      // the block's trained parameters
      const params = ['reduce.weight', 'reduce.bias', 'orth.weight', 'orth.alpha', 'orth.bias'].map((n) => `robust_block.${n}`);
      const blockFloats = (m: Model): Float32Array[] => params.map((n) => Float32Array.from(new Float32Array(Uint8Array.from(m.graph.lookup(n)!.initializer!.raw_data!).buffer)));
      // the last epoch's weights, from its checkpoint (the model gets the best epoch's: maybe the start)
      const splicedAfter = async (extra: Partial<FinetuneOptions>): Promise<Float32Array[]> => {
        const m = Model.load('graphs/linearity_r18w16.onnx');
        await spliceRobustBlock(m, { stage: 'layer3' });
        const checkpointDir = path.join(temps.make('ckpt'), 'c');
        await finetune(m, options(m, { epochs: 1, defence: 'nt', trainable: ['robust-block'], checkpointDir, ...extra }));
        const last = readCheckpoint(checkpointDir)!.params;
        return params.map((n) => last.get(n)!);
      };
      const m0 = Model.load('graphs/linearity_r18w16.onnx');
      await spliceRobustBlock(m0, { stage: 'layer3' });
      const start = blockFloats(m0);
      const whole = await splicedAfter({});
      const micro = await splicedAfter({ microBatch: 3 });
      const d = dist(start, whole, micro);
      // measured 6.7e-7, against 1.6 for a batch of 3
      expect(d, `micro-batched update differs by ${d}`).to.be.lessThan(1e-4);
      const wrong = dist(start, whole, await splicedAfter({ batch: 3 }));
      expect(wrong, `batch 3 differs by only ${wrong}`).to.be.greaterThan(0.05);
    });
  });

  it('refuses unscored data, a batch of one and out-of-range options with a UserError', async () => {
    const m = pruned();
    const unscored = train.map((t) => ({ ...t, mos: undefined }));
    for (const extra of [{ train: unscored }, { batch: 1 }, { lr: 0 }, { epochs: 0 }, { loss: 'huber' as 'l1' }, { defence: 'pgd' as 'nt' }, { microBatch: 0 }, { microBatch: 1025 }, { microBatch: 1.5 }]) {
      try {
        await finetune(m, options(m, extra));
        expect.fail(`accepted ${JSON.stringify(extra).slice(0, 60)}`);
      } catch (e) {
        expect(e, String(e)).to.be.instanceOf(UserError);
      }
    }
  });
});
