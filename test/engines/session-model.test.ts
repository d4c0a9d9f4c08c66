/**
 * The ONNX Runtime engine's session models (parameters fed as graph inputs, extra outputs) and
 * host-tensor conversion, run in real ONNX Runtime sessions; the runtime's session counter.
 */
import { expect } from 'chai';
import { hostToRuntime, runtimeToHost } from '../../src/engines/host-tensors.js';
import { sessionModel } from '../../src/engines/session-model.js';
import { UserError } from '../../src/errors.js';
import { DataType } from '../../src/onnx/data-types.js';
import { tensorTypedData } from '../../src/onnx/tensor-data.js';
import { openRunner, sessionCount, type RuntimeTensor } from '../../src/runtime/index.js';
import { gaussian, smoothCnn } from '../helpers/finite-diff.js';

const DIMS = [2, 3, 24, 24];
const image = (): RuntimeTensor => ({ elemType: DataType.FLOAT, dims: DIMS, data: Float32Array.from(gaussian(2 * 3 * 24 * 24, 3), (v) => 0.5 + 0.2 * v) });

describe('engines: session models and host tensors', function () {
  this.timeout(120_000);

  it('fed parameters become float32 graph inputs: fed with their values the outputs are bit-identical; fed other values, they change; the user model is untouched', async () => {
    const model = smoothCnn(4, { reshapeHead: true });
    const before = model.toBytes();
    const fed = sessionModel(model, ['c2.w', 'fc.b'], ['g']);
    expect(Buffer.from(model.toBytes()).equals(Buffer.from(before))).to.equal(true);
    expect(fed.graph.initializers().map((v) => v.name)).to.not.include.members(['c2.w', 'fc.b']);
    expect(fed.graph.inputs.map((v) => v.name)).to.deep.equal(['image', 'c2.w', 'fc.b']);
    expect(fed.graph.outputs.map((v) => v.name)).to.deep.equal(['score', 'g']);
    const value = (n: string): Float32Array => tensorTypedData(model.graph.lookup(n)!.initializer!) as Float32Array;
    const count0 = sessionCount();
    const plain = await openRunner(model);
    const open = await openRunner(fed);
    expect(sessionCount() - count0).to.equal(2);
    try {
      const y0 = (await plain.run({ image: image() })).score!.data as Float32Array;
      const feeds = { image: image(), 'c2.w': { elemType: 1, dims: [16, 8, 3, 3], data: value('c2.w') }, 'fc.b': { elemType: 1, dims: [1], data: value('fc.b') } };
      const r = await open.run(feeds);
      expect(Array.from(r.score!.data as Float32Array)).to.deep.equal(Array.from(y0));
      expect(r.g!.dims).to.deep.equal([2, 16, 1, 1]);
      const r2 = await open.run({ ...feeds, 'fc.b': { elemType: 1, dims: [1], data: Float32Array.of(value('fc.b')[0]! + 1) } });
      const y2 = r2.score!.data as Float32Array;
      for (let i = 0; i < y0.length; i++) expect(y2[i]! - y0[i]!).to.be.closeTo(1, 1e-5);
    } finally {
      await plain.dispose();
      await open.dispose();
    }
  });

  it('host tensors take the declared element type (int32 -> int64), come back as float32 / int32, and wrong sizes are UserErrors', () => {
    const t = hostToRuntime({ dims: [3], data: Int32Array.of(1, -2, 3) }, DataType.INT64, 'x');
    expect(t.elemType).to.equal(DataType.INT64);
    expect(Array.from(t.data as BigInt64Array)).to.deep.equal([1n, -2n, 3n]);
    expect(Array.from(runtimeToHost(t, 'x').data)).to.deep.equal([1, -2, 3]);
    expect(runtimeToHost({ elemType: DataType.DOUBLE, dims: [1], data: Float64Array.of(0.5) }, 'y').data).to.be.instanceOf(Float32Array);
    expect(() => hostToRuntime({ dims: [2, 2], data: new Float32Array(3) }, DataType.FLOAT, "input 'x'")).to.throw(UserError, "input 'x': 3 values for dims [2,2]");
    expect(() => hostToRuntime({ dims: [1], data: new Float32Array(1) }, DataType.FLOAT16, "input 'h'")).to.throw(UserError, 'float16');
    expect(() => runtimeToHost({ elemType: DataType.INT64, dims: [1], data: BigInt64Array.of(2n ** 40n) }, 'z')).to.throw(UserError, 'outside int32');
  });
});
