/**
 * The mirror against ONNX's own backend node tests (Debian's libonnx-testdata): every test whose
 * ops and element types the mirror supports must pass within ONNX's tolerance (rtol 1e-3,
 * atol 1e-7), and the supported set must cover every op the toolkit's IQA graphs and the
 * RobustBlock use, in float32.
 */
import { expect } from 'chai';
import { allClose, ONNX_TOLERANCE, runConformance, summarize, type ConformanceCase } from '../../src/mirror/conformance.js';
import { loadBackend } from '../../src/mirror/backend.js';
import { DEBIAN_ONNX_TESTDATA, isDir, requireOrSkip } from '../helpers/test-data.js';

/** The foundation issue's op list, and the ops the RobustBlock emits: each needs a passing float32 test. */
export const REQUIRED_OPS = [
  'Conv', 'ConvTranspose', 'MaxPool', 'AveragePool', 'GlobalAveragePool', 'GlobalMaxPool', 'Gemm', 'MatMul',
  'Add', 'Sub', 'Mul', 'Div', 'BatchNormalization', 'Relu', 'LeakyRelu', 'Clip', 'Sigmoid', 'Tanh',
  'Reshape', 'Flatten', 'Transpose', 'Concat', 'Split', 'Slice', 'Pad', 'Squeeze', 'Unsqueeze', 'Resize',
  'ReduceMean', 'ReduceSum', 'Softmax', 'Dropout', 'Identity', 'Constant', 'ConstantOfShape', 'Shape', 'Gather',
  'Abs', 'Neg', 'Sqrt', 'ReduceSumSquare',
];

describe('mirror: conformance with the ONNX backend node tests', function () {
  this.timeout(900_000);
  let cases: ConformanceCase[] = [];

  before(async function () {
    requireOrSkip(this, isDir(DEBIAN_ONNX_TESTDATA), `Debian's libonnx-testdata (${DEBIAN_ONNX_TESTDATA}; apt-get install libonnx-testdata)`);
    await loadBackend('auto');
    cases = await runConformance(DEBIAN_ONNX_TESTDATA);
    const table = summarize(cases);
    const lines = [...table.entries()].filter(([, r]) => r.supported > 0).map(([op, r]) => `${op.padEnd(28)} supported ${String(r.supported).padStart(3)}  passed ${String(r.passed).padStart(3)}  failed ${r.failed}`);
    const sup = cases.filter((c) => c.status !== 'unsupported');
    console.log(`      ${cases.length} node tests: ${sup.length} supported, ${sup.filter((c) => c.status === 'pass').length} passed, ${sup.filter((c) => c.status === 'fail').length} failed, ${cases.length - sup.length} unsupported`);
    for (const l of lines) console.log(`        ${l}`);
  });

  it('every supported test passes', () => {
    const failed = cases.filter((c) => c.status === 'fail');
    expect(failed.map((c) => `${c.test}: ${c.reason}`)).to.deep.equal([]);
  });

  it('the supported set covers every required op in float32', () => {
    // float32 data in, or float32 data out for ops whose first input is a shape (ConstantOfShape)
    const passedFloat = new Set(cases.filter((c) => c.status === 'pass' && (c.dtype === 'float' || c.outDtype === 'float')).map((c) => c.op));
    const missing = REQUIRED_OPS.filter((op) => !passedFloat.has(op));
    expect(missing, `required ops without a passing float32 node test`).to.deep.equal([]);
  });

  it('integer and bool data run where the ops have them (shape arithmetic of PyTorch exports)', () => {
    const passedInt = cases.filter((c) => c.status === 'pass' && /^(int|uint|bool)/.test(c.dtype));
    expect(passedInt.length).to.be.greaterThan(20);
  });

  it('the comparison can fail: a perturbed expected output is rejected', () => {
    const want = { dims: [3], data: Float32Array.from([1, 2, 3]) };
    expect(allClose(want, want, ONNX_TOLERANCE).ok).to.equal(true);
    const off = { dims: [3], data: Float32Array.from([1, 2, 3 * (1 + 2e-3)]) };
    expect(allClose(off, want, ONNX_TOLERANCE).ok).to.equal(false);
    expect(allClose({ dims: [1, 3], data: want.data }, want, ONNX_TOLERANCE).ok).to.equal(false);
  });
});
