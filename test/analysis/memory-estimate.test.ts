/**
 * The static memory estimate (issue 11, defect 5): ONNX Runtime runs on untrusted graphs are
 * refused before ORT allocates when the estimate is over --max-memory (a 1 KB graph previously
 * reached 1.8 GB), and `splice` says what a session on its trainable form needs (defect 8).
 */
import { expect } from 'chai';
import { statSync } from 'node:fs';
import path from 'node:path';
import { estimateMemory } from '../../src/analysis/memory-estimate.js';
import { CheckFailedError, UserError } from '../../src/errors.js';
import { runModel } from '../../src/equiv/runner.js';
import { Model } from '../../src/ir/model.js';
import type { ModelProto } from '../../src/onnx/proto-types.js';
import { setMaxMemoryBytes } from '../../src/runtime/memory-limit.js';
import { readBlockEntries } from '../../src/surgery/block-metadata.js';
import { materialize } from '../../src/surgery/materialize.js';
import { rfftBins } from '../../src/surgery/robust-block/dft.js';
import { materializeAdvice, MATERIALIZE_ADVICE_BYTES, sessionMemory } from '../../src/surgery/session-memory.js';
import { spliceRobustBlock } from '../../src/surgery/splice.js';
import { validateModel } from '../../src/validation/validate.js';
import { cli } from '../helpers/cli.js';
import { floatTensor, int64Tensor, node, tensorInfo } from '../helpers/proto-build.js';
import { TempDirs } from '../helpers/temp-dir.js';
import { FIXTURE_MODELS } from '../helpers/test-data.js';

/** ~300 bytes: ConstantOfShape to 2^20 x 2^20 float32 (4 TiB), reduced to a scalar. */
function bombProto(): ModelProto {
  return {
    ir_version: 8,
    opset_import: [{ domain: '', version: 13 }],
    graph: {
      name: 'bomb',
      node: [node('ConstantOfShape', ['shape'], ['big'], 'fill'), node('Add', ['big', 'x'], ['sum'], 'add'), node('ReduceSum', ['sum'], ['y'], 'reduce', { attribute: [{ name: 'keepdims', i: 0, type: 2 }] })],
      initializer: [int64Tensor('shape', [2], [2 ** 20, 2 ** 20])],
      input: [tensorInfo('x', 1, [1, 1])],
      output: [tensorInfo('y', 1, [])],
    },
  };
}

describe('analysis/memory-estimate', () => {
  const temps = new TempDirs('iqa-memory');
  after(() => temps.cleanup());
  afterEach(() => setMaxMemoryBytes(undefined));

  it('counts initializers and the peak of live activations, hand-computed on a small graph', () => {
    // x [2,8] f32 (64 B) -> Relu a (64) -> MatMul W[8,16] b (128) -> Relu c (128) -> y ; W is 512 B
    const m = new Model({
      ir_version: 8,
      opset_import: [{ domain: '', version: 13 }],
      graph: {
        name: 'g',
        node: [node('Relu', ['x'], ['a']), node('MatMul', ['a', 'W'], ['b']), node('Relu', ['b'], ['c']), node('Sigmoid', ['c'], ['y'])],
        initializer: [floatTensor('W', [8, 16], new Array(128).fill(0.5))],
        input: [tensorInfo('x', 1, ['batch', 8])],
        output: [tensorInfo('y', 1, ['batch', 16])],
      },
    });
    const e = estimateMemory(m, { inputShapes: { x: [2, 8] } });
    expect(e.initializerBytes).to.equal(512);
    // the fed input stays alive (the caller owns it): x 64; +a = 128; +b = 256 (a freed -> 192);
    // +c = 320 (b freed -> 192); +y = 320
    expect(e.peakActivationBytes).to.equal(320);
    expect(e.sumActivationBytes).to.equal(64 + 128 + 128 + 128);
    expect(e.bytes).to.equal(512 + 320);
    expect(e.unknownValues).to.equal(0);
    // symbolic dims default to 1
    expect(estimateMemory(m).peakActivationBytes).to.equal(160);
  });

  it('a ~300-byte graph that expands to 4 TiB is refused before ONNX Runtime runs (exit 1, names the estimate and --max-memory)', async () => {
    const proto = bombProto();
    const m = new Model(proto);
    expect(m.toBytes().length).to.be.below(1024);
    const e = estimateMemory(m);
    expect(e.peakActivationBytes).to.be.at.least(4 * 2 ** 40);
    setMaxMemoryBytes(2 ** 30);
    // equiv's runner (this previously reached ONNX Runtime, which allocated until it failed)
    const err = await runModel(m, { x: { elemType: 1, dims: [1, 1], data: new Float32Array([1]) } }).then(
      () => undefined,
      (x: unknown) => x,
    );
    expect(err).to.be.instanceOf(UserError);
    expect((err as UserError).code).to.equal('limit-memory');
    expect((err as Error).message).to.match(/static memory estimate is 4\.0 TiB|static memory estimate is \d+ GiB/).and.contain('--max-memory');
    // validation: a refusal of the machinery, not a failed check
    const v = await validateModel(new Model(bombProto())).then(
      () => undefined,
      (x: unknown) => x,
    );
    expect(v).to.be.instanceOf(UserError).and.not.instanceOf(CheckFailedError);
    // the CLI: exit 1, one line
    const dir = temps.make('bomb');
    const file = path.join(dir, 'bomb.onnx');
    new Model(bombProto()).save(file);
    expect(statSync(file).size).to.be.below(1024);
    const r = await cli('equiv', file);
    expect(r.code, r.err).to.equal(1);
    expect(r.err.trim().split('\n')).to.have.length(1);
    expect(r.err).to.match(/^iqa-surgeon: error: refusing to run ONNX Runtime on .*static memory estimate.*--max-memory/);
  });

  it('--max-memory is validated', async () => {
    const r = await cli('--max-memory', 'lots', 'inspect', path.join(FIXTURE_MODELS, 'resnet18_iqa.onnx'));
    expect(r.code).to.equal(1);
    expect(r.err).to.contain("--max-memory 'lots' must be a number of GiB");
  });

  it('the parametric Cayley block: the estimate holds the in-graph Q (hand count), and materialize moves it to initializers', async () => {
    const shape = [1, 3, 64, 64];
    const m = Model.load(path.join(FIXTURE_MODELS, 'resnet18_iqa.onnx'));
    const base = sessionMemory(m, { input: shape });
    const report = await spliceRobustBlock(m, { stage: 'layer2', orth: 'cayley', form: 'parametric', inputShapes: { input: shape } });
    const c = readBlockEntries(m)![0]!.cayley!;
    // Q = (I - A)(I + A)^-1 per frequency: real and imaginary parts, n x m bins of cout x cin float32
    const qBytes = 2 * 4 * c.n * rfftBins(c.n) * c.cout * c.cin;
    const mem = report.sessionMemory!;
    expect(mem).to.deep.equal(sessionMemory(m, { input: shape }));
    expect(mem.peakActivationBytes).to.be.at.least(qBytes);
    expect(mem.bytes).to.be.above(base.bytes + qBytes);
    await materialize(m);
    const mat = sessionMemory(m, { input: shape });
    expect(mat.initializerBytes - base.initializerBytes).to.be.at.least(qBytes);
    expect(mat.peakActivationBytes).to.be.below(mem.peakActivationBytes);
  });

  it('splice points to materialize above 8 GiB, for trainable forms only', () => {
    expect(materializeAdvice(MATERIALIZE_ADVICE_BYTES, true)).to.equal(undefined);
    expect(materializeAdvice(MATERIALIZE_ADVICE_BYTES + 1, false)).to.equal(undefined);
    const line = materializeAdvice(20 * 1024 ** 3, true)!;
    expect(line).to.match(/needs about 20 GiB \(over 8\.0 GiB\): run `iqa-surgeon materialize`/);
    expect(line).to.not.contain('\n');
  });

  it('the post-splice check skips ONNX Runtime when the estimate is over --max-memory, and says so', async () => {
    const shape = [1, 3, 64, 64];
    const m = Model.load(path.join(FIXTURE_MODELS, 'resnet18_iqa.onnx'));
    setMaxMemoryBytes(1024); // any session is over: the check would otherwise need ORT (the block changes H x W)
    const report = await spliceRobustBlock(m, { stage: 'layer1', square: 8, inputShapes: { input: shape } });
    expect(report.outShape.slice(1)).to.deep.equal([8, 8]);
    expect(report.runtimeCheckSkipped).to.match(/^skipped the ONNX Runtime check of the result: its static memory estimate of .* is over the limit of 1\.0 KiB \(--max-memory\)$/);
  });
});
