/** writeParameters (src/differentiable/write-back.ts): the engine-neutral, bit-exact write-back into the IR. */
import { expect } from 'chai';
import { blockConstants, selectTrainable } from '../../src/differentiable/parameters.js';
import { spliceRobustBlock } from '../../src/surgery/splice.js';
import { writeParameters } from '../../src/differentiable/write-back.js';
import { UserError } from '../../src/errors.js';
import { Model } from '../../src/ir/model.js';
import { DataType } from '../../src/onnx/data-types.js';
import { tensorRawBytes, tensorTypedData } from '../../src/onnx/tensor-data.js';
import { smoothCnn } from '../helpers/finite-diff.js';

function fails(f: () => unknown, re: RegExp): void {
  try {
    f();
  } catch (e) {
    expect(e).to.be.instanceOf(UserError);
    expect(String((e as Error).message)).to.match(re);
    return;
  }
  throw new Error('expected a UserError');
}

describe('differentiable: writeParameters', () => {
  it('replaces only initializers whose bits changed; the others keep their proto (float_data stays float_data)', () => {
    const m = smoothCnn(4, { reshapeHead: true });
    // c1.b as float_data (not raw_data): unchanged values must not re-encode it
    const c1b = m.graph.value('c1.b');
    const vals = Array.from(tensorTypedData(c1b.initializer!) as Float32Array);
    c1b.initializer = { name: 'c1.b', dims: [8], data_type: DataType.FLOAT, float_data: vals };
    const bytes = m.toBytes();
    const oldC1b = c1b.initializer;
    const fcb = Float32Array.of(-0);
    const c1w = tensorTypedData(m.graph.value('c1.w').initializer!) as Float32Array;
    const written = writeParameters(m, new Map([['c1.b', Float32Array.from(vals)], ['fc.b', fcb], ['c1.w', c1w]]));
    expect(written).to.deep.equal(['fc.b']);
    expect(m.graph.value('c1.b').initializer).to.equal(oldC1b);
    expect(Array.from(tensorRawBytes(m.graph.value('fc.b').initializer!))).to.deep.equal([0, 0, 0, 0x80]);
    // everything else re-encodes to the original bytes: with fc.b's original value back, the whole file is identical
    const back = Model.fromBytes(bytes).graph.value('fc.b').initializer!;
    expect(writeParameters(m, new Map([['fc.b', tensorTypedData(back) as Float32Array]]))).to.deep.equal(['fc.b']);
    expect(Buffer.from(m.toBytes()).equals(Buffer.from(bytes))).to.equal(true);
  });

  it('checks every name and size before writing anything', () => {
    const m = smoothCnn(4, { reshapeHead: true });
    const before = m.toBytes();
    fails(() => writeParameters(m, new Map([['fc.b', Float32Array.of(7)], ['head.shape', Float32Array.of(1, 2)]])), /'head\.shape' is INT64|head\.shape.*not float32/i);
    fails(() => writeParameters(m, new Map([['fc.b', Float32Array.of(7)], ['nope', Float32Array.of(1)]])), /'nope'/);
    fails(() => writeParameters(m, new Map([['fc.b', Float32Array.of(7)], ['c1.b', new Float32Array(3)]])), /'c1\.b' has 8 elements/);
    fails(() => writeParameters(m, new Map([['f', Float32Array.of(1)]])), /'f' is a computed value/);
    expect(Buffer.from(m.toBytes()).equals(Buffer.from(before))).to.equal(true);
  });

  it('selectTrainable: an integer initializer named as a selector says it is not a parameter', async () => {
    const m = smoothCnn(4, { reshapeHead: true });
    expect(await selectTrainable(m, ['c1.*', 'fc.b'])).to.deep.equal(['c1.w', 'c1.b', 'fc.b']);
    let msg = '';
    await selectTrainable(m, ['head.shape']).catch((e: Error) => (msg = e.message));
    expect(msg).to.match(/initializer 'head\.shape' is .*not float32/);
  });

  it("selectTrainable: a spliced RobustBlock's constants (DFT bases, inverse machinery) are never selected, its parameters are", async () => {
    const m = Model.load('graphs/linearity_r18w16.onnx');
    const backbone = await selectTrainable(m, ['all']);
    await spliceRobustBlock(m, { stage: 'layer3' });
    const all = await selectTrainable(m, ['all']);
    const block = ['robust_block.reduce.weight', 'robust_block.reduce.bias', 'robust_block.orth.weight', 'robust_block.orth.alpha', 'robust_block.orth.bias'];
    expect(new Set(all)).to.deep.equal(new Set([...backbone, ...block]));
    const constants = [...blockConstants(m)];
    expect(constants.length).to.be.greaterThan(10);
    expect(constants.some((n) => n.includes('dft'))).to.equal(true);
    expect(new Set(await selectTrainable(m, ['robust_block.*']))).to.deep.equal(new Set(block));
    expect(new Set(await selectTrainable(m, ['robust-block']))).to.deep.equal(new Set(block));
    let msg = '';
    await selectTrainable(m, [constants[0]!]).catch((e: Error) => (msg = e.message));
    expect(msg).to.match(/constant of a spliced RobustBlock/);
  });
});
