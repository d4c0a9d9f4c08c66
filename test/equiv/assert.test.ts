import { expect } from 'chai';
import path from 'node:path';
import { assertEquivalent, EquivalenceError } from '../../src/equiv/assert.js';
import { CheckFailedError, UserError } from '../../src/errors.js';
import { Model } from '../../src/ir/model.js';
import { TempDirs } from '../helpers/temp-dir.js';
import { perturbedCopy, reorderedCopy } from './variants.js';

const RESNET = path.resolve('fixtures/models/resnet18_iqa.onnx');

describe('equiv/assert: assertEquivalent', () => {
  const temps = new TempDirs('equiv-assert');
  after(() => temps.cleanup());

  // the example of docs/EQUIV.md, with the fixture standing in for the released model
  describe('the docs/EQUIV.md example', () => {
    const released = RESNET;
    let patched: string;
    before(() => {
      patched = reorderedCopy(RESNET, temps.make('doc')).file;
    });

    it('the patched model still computes the same as the released one', async () => {
      await assertEquivalent(released, patched, { atol: 1e-4, rtol: 1e-3 });
    });

    it('and has the same graph, whatever the node order', async () => {
      await assertEquivalent(released, patched, { structural: true });
    });
  });

  it('resolves to the report for equivalent models, given as files or Model objects', async () => {
    const r = await assertEquivalent(Model.load(RESNET), RESNET);
    expect(r.schema).to.equal('iqa-surgeon/equiv@1');
    expect(r.equivalent).to.equal(true);
  });

  it('throws an EquivalenceError whose message is the report', async () => {
    const b = perturbedCopy(RESNET, temps.make('bad'), 'fc.weight', 1e-2);
    let caught: unknown;
    try {
      await assertEquivalent(RESNET, b, { atol: 1e-4, rtol: 1e-3 });
    } catch (e) {
      caught = e;
    }
    expect(caught).to.be.instanceOf(EquivalenceError);
    expect(caught).to.be.instanceOf(CheckFailedError);
    const err = caught as EquivalenceError;
    expect(err.message).to.contain(`equiv numeric: A = ${RESNET}, B = ${b}`);
    expect(err.message).to.contain("output 'score' [1,1]: FAIL");
    expect(err.message).to.contain('smallest passing tolerances');
    expect(err.message).to.contain('histogram of |a - b|');
    expect(err.message).to.match(/result: NOT EQUIVALENT/);
    expect(err.result.equivalent).to.equal(false);
  });

  it('structural mode throws with the first difference', async () => {
    const b = perturbedCopy(RESNET, temps.make('bad-structural'), 'fc.weight', 1e-2);
    try {
      await assertEquivalent(RESNET, b, { structural: true });
      expect.fail('should have thrown');
    } catch (e) {
      expect((e as Error).message).to.contain("first difference: node '/fc/Gemm' (Gemm) input 1: initializer 'fc.weight' differs: max abs 0.01 > tolerance 0");
    }
    await assertEquivalent(RESNET, b, { structural: true, atol: 0.0101 });
  });

  it('bad input is a UserError, not an equivalence failure', async () => {
    try {
      await assertEquivalent(RESNET, '/nonexistent/model.onnx');
      expect.fail('should have thrown');
    } catch (e) {
      expect(e).to.be.instanceOf(UserError);
    }
  });
});
