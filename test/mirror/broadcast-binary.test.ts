/**
 * The fast broadcasting float32 Add/Sub/Mul/Div kernels against tfjs-backend-cpu's stock ones, in
 * the same process: results must be bit-identical (the same IEEE operation per element).
 */
import { expect } from 'chai';
import { loadBackend } from '../../src/mirror/backend.js';
import { broadcastBinary, registerFastBinaryKernels, restoreStockBinaryKernels } from '../../src/mirror/kernels/broadcast-binary.js';
import type { TF } from '../../src/ops/types.js';
import { randomFloats } from '../helpers/seeded-random.js';
import { requireOrSkip } from '../helpers/test-data.js';

const SHAPES: [number[], number[]][] = [
  [[2, 8, 5, 7], [1, 8, 1, 1]], // conv bias
  [[2, 8, 5, 7], [8, 1, 1]],
  [[1, 8, 1, 1], [2, 8, 5, 7]],
  [[2, 8, 5, 7], [2, 8, 5, 7]], // residual add
  [[2, 8, 5, 7], []], // scalar
  [[3, 1, 4], [1, 5, 1]], // both broadcast
  [[4, 6], [6]],
  [[4, 6], [4, 1]],
  [[7], [1]],
  [[2, 3, 1, 5], [2, 1, 4, 1]],
  [[0, 3], [1, 3]], // empty
];

function bits(a: Float32Array): number[] {
  return Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));
}

describe('mirror kernels: fast broadcasting Add/Sub/Mul/Div on the cpu backend', () => {
  let tf: TF;
  before(async () => {
    tf = (await loadBackend('auto')).tf;
  });
  after(() => registerFastBinaryKernels());

  const run = (op: 'add' | 'sub' | 'mul' | 'div', a: number[], b: number[], seed: number): Float32Array =>
    tf.tidy(() => {
      const x = tf.tensor(randomFloats(seed, a.reduce((p, d) => p * d, 1)), a);
      const y = tf.tensor(Float32Array.from(randomFloats(seed + 1, b.reduce((p, d) => p * d, 1)), (v) => v + 0.5), b);
      return tf[op](x, y).dataSync() as Float32Array;
    });

  it('gives bit-identical results to the stock kernels on every broadcast pattern', function () {
    requireOrSkip(this, tf.getBackend() === 'cpu', 'the tfjs cpu backend (this test checks its kernels)');
    for (const op of ['add', 'sub', 'mul', 'div'] as const) {
      SHAPES.forEach(([a, b], i) => {
        registerFastBinaryKernels();
        const fast = run(op, a, b, 10 + i);
        restoreStockBinaryKernels();
        const stock = run(op, a, b, 10 + i);
        registerFastBinaryKernels();
        expect(bits(fast), `${op} [${a}] [${b}]`).to.deep.equal(bits(stock));
      });
    }
  });

  it('int32 inputs go to the stock kernel (exact integer results)', () => {
    const r = tf.tidy(() => tf.add(tf.tensor([2147483000, 5], [2], 'int32'), tf.tensor([600], [1], 'int32')).dataSync());
    expect(Array.from(r)).to.deep.equal([2147483600, 605]);
  });

  it('the comparison can fail: a broadcast along the wrong axis differs', () => {
    const a = randomFloats(1, 12);
    const b = randomFloats(2, 3);
    const right = broadcastBinary(a, [4, 3], b, [3], [4, 3], (x, y) => x + y);
    const wrong = broadcastBinary(a, [4, 3], Float32Array.from([...b, b[0]!]), [4, 1], [4, 3], (x, y) => x + y);
    expect(bits(right)).to.not.deep.equal(bits(wrong));
  });
});
