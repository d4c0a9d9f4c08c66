import { expect } from 'chai';
import { existsSync } from 'node:fs';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { Model } from '../../src/ir/model.js';
import { loadBackend } from '../../src/mirror/backend.js';
import { Mirror } from '../../src/mirror/mirror.js';
import type { NodeProto } from '../../src/onnx/proto-types.js';
import { invertBatch } from '../../src/ops/microsoft.js';
import { spliceRobustBlock } from '../../src/surgery/splice.js';
import { FIXTURE_MODELS, requireOrSkip } from '../helpers/test-data.js';
import { checkGradient, FLOAT as F, op, problem, requireGradients, run1, seq } from '../helpers/op-harness.js';

const MS = [{ domain: 'com.microsoft', version: 1 }];
const inv = (): NodeProto => ({ ...op('Inverse', ['x']), domain: 'com.microsoft' });

/** A well-conditioned random-ish batch of n x n matrices (diagonally dominant). */
function batch(count: number, n: number, seed = 1): number[] {
  const out: number[] = [];
  for (let b = 0; b < count; b++) for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) out.push(Math.sin(seed + 3.1 * b + 1.7 * i + 0.9 * j) + (i === j ? n : 0));
  return out;
}

/** max |A_k Y_k - I| over a batch. */
function identityError(a: number[], y: number[], n: number): number {
  let err = 0;
  for (let b = 0; b < a.length / (n * n); b++) {
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let k = 0; k < n; k++) s += a[b * n * n + i * n + k]! * y[b * n * n + k * n + j]!;
        err = Math.max(err, Math.abs(s - (i === j ? 1 : 0)));
      }
    }
  }
  return err;
}

describe('ops/microsoft (mirror kernels)', () => {
  before(async () => {
    await loadBackend('cpu');
  });

  it('invertBatch: Gauss-Jordan with partial pivoting (a zero leading entry needs a row swap)', () => {
    const a = [0, 2, 1, 3, 1, 0, 1, 1, 1];
    const y = invertBatch(a, 3) as Float64Array;
    expect(identityError(a, Array.from(y), 3)).to.be.below(1e-14);
    expect(invertBatch([1, 2, 2, 4], 2)).to.equal(0);
    expect(invertBatch([1, 0, 0, 1, 1, 2, 2, 4], 2)).to.equal(1);
  });

  it('com.microsoft::Inverse: A Y = I over a [2,3,4,4] batch', async () => {
    const a = batch(6, 4);
    const y = await run1({ nodes: [inv()], inputs: [{ name: 'x', type: F, dims: [2, 3, 4, 4], data: a }], extraOpsets: MS });
    expect(y.dims).to.deep.equal([2, 3, 4, 4]);
    expect(identityError(a, y.data, 4)).to.be.below(1e-5);
  });

  it('a singular matrix is an error naming the node and the matrix', async () => {
    let msg = '';
    try {
      await run1({ nodes: [{ ...inv(), name: 'the_inverse' }], inputs: [{ name: 'x', type: F, dims: [2, 2, 2], data: [1, 0, 0, 1, 1, 2, 2, 4] }], extraOpsets: MS });
    } catch (e) {
      msg = (e as Error).message;
    }
    expect(msg).to.match(/the_inverse.*matrix 1 of the batch \[2\] is singular/);
    expect(problem({ nodes: [inv()], inputs: [{ name: 'x', type: F, dims: [2, 3], data: seq(6) }], extraOpsets: MS })).to.equal(undefined);
  });

  it('the gradient -Y^T G Y^T matches finite differences', async function () {
    requireGradients(this);
    await checkGradient({ nodes: [inv()], inputs: [{ name: 'x', type: F, dims: [2, 3, 3], data: batch(2, 3, 5) }], extraOpsets: MS }, 'x', 1e-2, 1e-2);
  });

  it('a RobustBlock spliced with --inverse com.microsoft runs in the mirror as in ONNX Runtime', async function () {
    const file = path.join(FIXTURE_MODELS, 'linearity_iqa.onnx');
    requireOrSkip(this, existsSync(file), file);
    const m = Model.load(file);
    const shape = [1, 3, 64, 96];
    await spliceRobustBlock(m, { stage: 'layer3', inverse: 'com.microsoft', inputShapes: { input: shape } });
    expect(m.graph.nodes.some((n) => n.domain === 'com.microsoft' && n.opType === 'Inverse')).to.equal(true);
    const x = Float32Array.from({ length: 3 * 64 * 96 }, (_, i) => Math.sin(i * 0.37));
    const session = await ort.InferenceSession.create(m.toBytes());
    const ref = await session.run({ [session.inputNames[0]!]: new ort.Tensor('float32', x, shape) });
    const mirror = await Mirror.create(m, { backend: 'cpu' });
    try {
      const got = await mirror.forward({ [mirror.inputNames[0]!]: { dims: shape, data: x } });
      for (const [name, want] of Object.entries(ref)) {
        const w = want.data as Float32Array;
        const g = got[name]!.data;
        expect(g.length).to.equal(w.length);
        w.forEach((v, i) => expect(Math.abs(Number(g[i]) - v), `${name}[${i}]`).to.be.at.most(1e-4 + 1e-3 * Math.abs(v)));
      }
    } finally {
      mirror.dispose();
    }
  });
});
