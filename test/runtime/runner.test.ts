/**
 * src/runtime: the one ONNX Runtime layer. Sessions open from the file path when the model is on
 * disk and unmodified (external data beside it), from a temporary folder with external data when a
 * modified model has external data, and from a buffer only for small self-contained models
 * (issue 11, defect 9); a failure of the validation machinery is not a failed check.
 */
import { expect } from 'chai';
import { closeSync, openSync, ftruncateSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { CheckFailedError, UserError } from '../../src/errors.js';
import { Model } from '../../src/ir/model.js';
import { encode } from '../../src/onnx/codec.js';
import type { ModelProto } from '../../src/onnx/proto-types.js';
import { encodeWithInMemoryWeights } from '../../src/runtime/in-memory-weights.js';
import { isSizeLimitMessage, openRunner, sessionSource, withRunner } from '../../src/runtime/session.js';
import { setMaxMemoryBytes } from '../../src/runtime/memory-limit.js';
import { noticeLines } from '../../src/runtime/notices.js';
import { validateModel } from '../../src/validation/validate.js';
import { floatTensor, node, tensorInfo } from '../helpers/proto-build.js';
import { TempDirs } from '../helpers/temp-dir.js';

const W = Array.from({ length: 16 }, (_, i) => (i % 5) - 2);

function matmulModel(): ModelProto {
  return {
    ir_version: 8,
    opset_import: [{ domain: '', version: 13 }],
    graph: {
      name: 'g',
      node: [node('MatMul', ['x', 'W'], ['h'], 'mm'), node('Relu', ['h'], ['y'], 'relu')],
      initializer: [floatTensor('W', [4, 4], W)],
      input: [tensorInfo('x', 1, [1, 4])],
      output: [tensorInfo('y', 1, [1, 4])],
    },
  };
}

function expected(x: number[]): number[] {
  return [0, 1, 2, 3].map((j) => Math.max(0, x.reduce((a, xi, i) => a + xi * W[i * 4 + j]!, 0)));
}

const X = [1, -2, 3, 0.5];
const feeds = { x: { elemType: 1, dims: [1, 4], data: Float32Array.from(X) } };

describe('runtime: runners', () => {
  const temps = new TempDirs('iqa-runtime');
  after(() => temps.cleanup());

  it('opens an unmodified model with external data by its path, and runs it', async () => {
    const dir = temps.make('ext');
    const file = path.join(dir, 'm.onnx');
    const saved = new Model(matmulModel()).save(file, { externalData: true, externalThresholdBytes: 16 });
    expect(saved.externalTensors).to.equal(1);
    const m = Model.load(file);
    expect(sessionSource(m)).to.equal('path');
    await withRunner(m, {}, async (r) => {
      expect(r.source).to.equal('path');
      expect(r.inputs()).to.deep.equal([{ name: 'x', elemType: 1, dims: [1, 4] }]);
      const out = await r.run(feeds);
      expect(Array.from(out.y!.data as Float32Array)).to.deep.equal(expected(X));
    });
  });

  it('a modified model with external data runs from a temporary folder, never from a buffer', async () => {
    const dir = temps.make('ext-mod');
    const file = path.join(dir, 'm.onnx');
    new Model(matmulModel()).save(file, { externalData: true, externalThresholdBytes: 16 });
    const m = Model.load(file);
    m.graph.nodes[1]!.proto.name = 'relu-renamed';
    m.graph.renameValue(m.graph.value('h'), 'hidden');
    expect(sessionSource(m)).to.equal('temp-path');
    const r = await openRunner(m);
    try {
      expect(r.source).to.equal('temp-path');
      const out = await r.run(feeds, ['y']);
      expect(Array.from(out.y!.data as Float32Array)).to.deep.equal(expected(X));
    } finally {
      await r.dispose();
      await r.dispose(); // twice is fine
    }
  });

  it('a small self-contained model in memory is handed over as a buffer', async () => {
    const m = new Model(matmulModel());
    expect(sessionSource(m)).to.equal('buffer');
    const out = await withRunner(m, {}, async (r) => {
      expect(r.source).to.equal('buffer');
      return r.run(feeds);
    });
    expect(Array.from(out.y!.data as Float32Array)).to.deep.equal(expected(X));
  });

  it('a modified model goes over as a buffer with its large initializers beside it (in-memory external data, not copied): the same outputs as from its file', async () => {
    const dir = temps.make('inmem');
    const [k, n] = [128, 256];
    const w = Float32Array.from({ length: k * n }, (_, i) => Math.sin(i * 0.37));
    const proto: ModelProto = {
      ir_version: 8,
      opset_import: [{ domain: '', version: 13 }],
      graph: {
        name: 'g',
        node: [node('MatMul', ['x', 'w'], ['m'], 'mm'), node('Add', ['m', 'b'], ['y'], 'add')],
        input: [tensorInfo('x', 1, [2, k])],
        output: [tensorInfo('y', 1, [2, n])],
        initializer: [{ name: 'w', dims: [k, n], data_type: 1, raw_data: new Uint8Array(w.buffer) }, floatTensor('b', [n], Array.from({ length: n }, (_, i) => i / n))],
      },
    };
    writeFileSync(path.join(dir, 'm.onnx'), encode(proto, 'ModelProto'));
    const x = { x: { elemType: 1, dims: [2, k], data: Float32Array.from({ length: 2 * k }, (_, i) => Math.cos(i)) } };
    const fromFile = await withRunner(path.join(dir, 'm.onnx'), {}, (r) => r.run(x));
    const m = Model.load(path.join(dir, 'm.onnx'));
    m.setMetadata('edited', 'yes');
    expect(sessionSource(m)).to.equal('buffer');
    const enc = encodeWithInMemoryWeights(m.syncProto());
    expect(enc.externalData).to.have.length(1); // w (128 KB) moves; b (1 KB) stays inline
    expect(enc.externalData[0]!.data).to.equal(m.syncProto().graph!.initializer!.find((t) => t.name === 'w')!.raw_data);
    expect(enc.bytes.byteLength).to.be.below(k * n * 4);
    const fromBuffer = await withRunner(m, {}, (r) => r.run(x));
    expect(Array.from(fromBuffer.y!.data as Float32Array)).to.deep.equal(Array.from(fromFile.y!.data as Float32Array));
    // and a wrong weight is told apart: the check compares values, not just shapes
    const other = Model.load(path.join(dir, 'm.onnx'));
    const wt = other.syncProto().graph!.initializer!.find((t) => t.name === 'w')!;
    wt.raw_data = new Uint8Array(Float32Array.from(w, (v) => v * 1.001).buffer);
    const changed = await withRunner(other, {}, (r) => r.run(x));
    expect(Array.from(changed.y!.data as Float32Array)).to.not.deep.equal(Array.from(fromFile.y!.data as Float32Array));
  });

  it('a model over 2 GB (external data in a sparse file) is opened by path, or saved with external data when modified: never inlined', () => {
    const dir = temps.make('big');
    const n = 2 ** 29 + 16; // 2 GiB + 64 bytes of float32
    const fd = openSync(path.join(dir, 'big.data'), 'w');
    ftruncateSync(fd, n * 4); // sparse: no disk space used
    closeSync(fd);
    const proto = matmulModel();
    proto.graph!.initializer!.push({
      name: 'big',
      dims: [n],
      data_type: 1,
      data_location: 1,
      external_data: [
        { key: 'location', value: 'big.data' },
        { key: 'offset', value: '0' },
        { key: 'length', value: String(n * 4) },
      ],
    });
    writeFileSync(path.join(dir, 'big.onnx'), encode(proto, 'ModelProto'));
    const m = Model.load(path.join(dir, 'big.onnx'));
    expect(sessionSource(m)).to.equal('path');
    m.graph.renameValue(m.graph.value('h'), 'hidden');
    expect(sessionSource(m)).to.equal('temp-path');
  });

  it('ONNX Runtime errors become one-line RuntimeErrors (UserError); size-limit refusals are machinery failures', async () => {
    const bad = matmulModel();
    bad.graph!.node![0]!.op_type = 'NoSuchOp';
    const e = await openRunner(new Model(bad)).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(e).to.be.instanceOf(UserError);
    expect((e as UserError).code).to.equal('ort-load');
    expect((e as Error).message).to.not.contain('\n');
    expect(isSizeLimitMessage('Model data size exceeds maximum supported size (2GB). Use GetCompatibilityInfoFromModel with a file path instead.')).to.equal(true);
    expect(isSizeLimitMessage("Could not find an implementation for NoSuchOp(13) node with name 'mm'")).to.equal(false);
  });

  it('asking for CUDA where it is absent falls back to the CPU with one notice line', async function () {
    const r = await openRunner(new Model(matmulModel()), { provider: 'cuda', intraOpThreads: 1 });
    try {
      if (r.provider === 'cuda') this.skip(); // a machine with CUDA: nothing to fall back from
      expect(r.notices).to.have.length(1);
      expect(r.notices[0]).to.match(/^CUDA is not available to ONNX Runtime \(.*\); running on the CPU$/);
      expect(r.notices[0]).to.not.contain('\n');
      const out = await r.run(feeds);
      expect(Array.from(out.y!.data as Float32Array)).to.deep.equal(expected(X));
    } finally {
      await r.dispose();
    }
  });

  it('the CLI prints every fallback once and only the largest estimate', () => {
    const lines = noticeLines([
      { kind: 'estimate', line: 'a', bytes: 10 },
      { kind: 'fallback', line: 'f' },
      { kind: 'estimate', line: 'b', bytes: 30 },
      { kind: 'fallback', line: 'f' },
      { kind: 'estimate', line: 'c', bytes: 20 },
    ]);
    expect(lines).to.deep.equal(['f', 'b']);
  });

  it('validation of an edited model with external data checks the session (temp folder), and a valid result passes', async () => {
    const dir = temps.make('validate');
    const file = path.join(dir, 'm.onnx');
    new Model(matmulModel()).save(file, { externalData: true, externalThresholdBytes: 16 });
    const m = Model.load(file);
    m.graph.renameValue(m.graph.value('h'), 'hidden');
    await validateModel(m, { step: 'rename' });
  });

  it('a validation-machinery failure is a UserError, not a CheckFailedError', async () => {
    setMaxMemoryBytes(16); // the session cannot even hold its initializers: the check cannot run
    try {
      const e = await validateModel(new Model(matmulModel())).then(
        () => undefined,
        (err: unknown) => err,
      );
      expect(e).to.be.instanceOf(UserError);
      expect(e).to.not.be.instanceOf(CheckFailedError);
      expect((e as UserError).code).to.equal('limit-memory');
    } finally {
      setMaxMemoryBytes(undefined);
    }
  });
});
