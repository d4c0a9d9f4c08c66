/**
 * Mirror benchmark: the TensorFlow.js mirror's forward, forward+backward with respect to every
 * parameter (fine-tuning) and with respect to the input (attacks), against ONNX Runtime's forward
 * on the same model and batch, in the same process. Also the share of the mirror's forward time
 * spent in Transpose kernels (on the cpu backend convs run in NCHW directly and only weights and
 * pools are transposed; on the native backends every conv/pool transposes its activations).
 */
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { HostTensor } from '../differentiable/model.js';
import { DataType } from '../onnx/data-types.js';
import { openRunner } from '../runtime/session.js';
import { Model } from '../ir/model.js';
import { loadBackend } from '../mirror/backend.js';
import { Mirror } from '../mirror/mirror.js';
import { mulberry32 } from '../util/random.js';
import { median } from './measure.js';

export interface MirrorBenchRow {
  model: string;
  backend: string;
  input: number[];
  ortForwardMs: number;
  mirrorForwardMs: number;
  mirrorTrainStepMs: number;
  mirrorInputGradMs: number;
  ratio: { forward: number; trainStep: number; inputGrad: number };
  transposeShare: number;
}


async function time(reps: number, f: () => Promise<unknown>): Promise<number> {
  await f(); // warm-up
  const t: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    await f();
    t.push(performance.now() - t0);
  }
  return median(t);
}

function randomInput(dims: number[], seed: number): Float32Array {
  return Float32Array.from({ length: dims.reduce((a, b) => a * b, 1) }, mulberry32(seed));
}

export async function runMirrorBench(repoRoot: string, log: (s: string) => void = () => {}): Promise<MirrorBenchRow[]> {
  const backend = await loadBackend('auto');
  log(`backend: ${backend.description}`);
  const cases = [
    { file: 'fixtures/models/resnet18_iqa.onnx', dims: [8, 3, 64, 64], reps: 5 },
    { file: 'graphs/linearity_r18w16.onnx', dims: [8, 3, 96, 128], reps: 3 },
  ];
  const rows: MirrorBenchRow[] = [];
  for (const c of cases) {
    const model = Model.load(path.join(repoRoot, c.file));
    const inputName = model.graph.inputs.find((v) => !v.isInitializer)!.name;
    const data = randomInput(c.dims, 7);
    const host: Record<string, HostTensor> = { [inputName]: { dims: c.dims, data } };
    // ONNX Runtime baseline: one session (default optimizations), runs timed without session creation
    const session = await openRunner(model, { optimization: 'all', logSeverity: 3 });
    const ortFeed = { [inputName]: { elemType: DataType.FLOAT, dims: c.dims, data } };
    let ortMs: number;
    try {
      ortMs = await time(c.reps, () => session.run(ortFeed));
    } finally {
      await session.dispose();
    }
    const mirror = await Mirror.create(model, { trainable: ['all'] });
    try {
      const fwd = await time(c.reps, () => mirror.forward(host));
      const train = await time(Math.max(1, c.reps - 2), () => mirror.gradients(host, { kind: 'mean' }));
      const inGrad = await time(Math.max(1, c.reps - 2), () => mirror.gradients(host, { kind: 'mean' }, { inputs: [inputName], params: [] }));
      // kernel-level profile of one forward
      const tf = backend.tf;
      const prof = await tf.profile(() => {
        const x = tf.tensor(data, c.dims, 'float32');
        const env = mirror.evaluate(new Map([[inputName, x]]));
        return [...env.values()][0]!;
      });
      let total = 0;
      let transpose = 0;
      for (const k of prof.kernels) {
        const ms = Number(await k.kernelTimeMs);
        total += ms;
        if (k.name === 'Transpose') transpose += ms;
      }
      const row: MirrorBenchRow = {
        model: c.file,
        backend: backend.choice,
        input: c.dims,
        ortForwardMs: ortMs,
        mirrorForwardMs: fwd,
        mirrorTrainStepMs: train,
        mirrorInputGradMs: inGrad,
        ratio: { forward: fwd / ortMs, trainStep: train / ortMs, inputGrad: inGrad / ortMs },
        transposeShare: total > 0 ? transpose / total : 0,
      };
      rows.push(row);
      log(
        `  ${c.file} [${c.dims.join(',')}]: ORT forward ${ortMs.toFixed(1)} ms; mirror forward ${fwd.toFixed(1)} ms (${row.ratio.forward.toFixed(1)}x), ` +
          `forward+backward all params ${train.toFixed(1)} ms (${row.ratio.trainStep.toFixed(1)}x), input gradient ${inGrad.toFixed(1)} ms (${row.ratio.inputGrad.toFixed(1)}x); ` +
          `Transpose kernels ${(100 * row.transposeShare).toFixed(1)}% of the mirror forward`,
      );
    } finally {
      mirror.dispose();
    }
  }
  return rows;
}
