/**
 * The shape rules added with the one registry (DFT, Einsum, GridSample): their shapes equal ONNX
 * Runtime's, on ONNX's backend tests for these ops (Debian's libonnx-testdata: the model, its
 * stored inputs and expected output) and on hand-built graphs for what those tests do not cover
 * (DFT at opset 20 with its axis input, dft_length, onesided; Einsum's implicit output order and
 * ellipsis broadcasting; GridSample at opset 20 and symbolic dims).
 */
import { expect } from 'chai';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { inferShapesStatic } from '../../src/analysis/shapes/infer.js';
import { Model } from '../../src/ir/model.js';
import { decode } from '../../src/onnx/codec.js';
import { DataType } from '../../src/onnx/data-types.js';
import { decodeModel } from '../../src/onnx/model-io.js';
import type { TensorProto } from '../../src/onnx/proto-types.js';
import { tensorDims, tensorTypedData } from '../../src/onnx/tensor-data.js';
import { FLOAT, INT64, buildModel, expectRuled, int64Tensor, op, tensorInfo, type Case } from '../analysis/shapes/rule-harness.js';
import { runAllValues, shapeMismatches } from '../helpers/ort-all-values.js';
import { DEBIAN_ONNX_TESTDATA, isDir, requireOrSkip } from '../helpers/test-data.js';

const NODE_TESTS = path.join(DEBIAN_ONNX_TESTDATA, 'node');
const OPS = /^test_(dft|einsum|gridsample)/;
const ORT_TYPES: Record<number, ort.Tensor.Type> = { [DataType.FLOAT]: 'float32', [DataType.DOUBLE]: 'float64', [DataType.INT64]: 'int64', [DataType.INT32]: 'int32' };

const readTensor = (file: string): TensorProto => decode<TensorProto>(readFileSync(file), 'TensorProto');

function ortTensor(t: TensorProto): ort.Tensor {
  const type = ORT_TYPES[t.data_type ?? 0];
  if (!type) throw new Error(`test: no ORT type for element type ${t.data_type}`);
  return new ort.Tensor(type, tensorTypedData(t) as ort.Tensor.DataType, tensorDims(t));
}

/** One Debian case: [inferred, ORT's, stored] dims of each output, and the rule's source. */
async function debianCase(dir: string): Promise<{ output: string; inferred: string; ort: string; stored: string; source: string | undefined }[]> {
  const bytes = readFileSync(path.join(dir, 'model.onnx'));
  const proto = decodeModel(bytes).proto;
  const g = proto.graph!;
  const data = path.join(dir, 'test_data_set_0');
  const initialized = new Set((g.initializer ?? []).map((t) => t.name));
  const feeds: Record<string, ort.Tensor> = {};
  let k = 0;
  for (const input of g.input ?? []) {
    if (initialized.has(input.name)) continue;
    const t = readTensor(path.join(data, `input_${k++}.pb`));
    feeds[input.name!] = ortTensor(t);
    // scalars and other tiny inputs (dft_length) are given as a model would hold them: constants
    if (tensorDims(t).reduce((a, b) => a * b, 1) <= 1) (g.initializer ??= []).push({ ...t, name: input.name });
  }
  const map = inferShapesStatic(new Model(proto));
  const session = await ort.InferenceSession.create(bytes);
  try {
    const results = await session.run(feeds);
    return (g.output ?? []).map((o, i) => {
      const info = map.get(o.name!);
      return {
        output: o.name!,
        inferred: JSON.stringify(info?.shape ?? null),
        ort: JSON.stringify(results[o.name!]!.dims),
        stored: JSON.stringify(tensorDims(readTensor(path.join(data, `output_${i}.pb`)))),
        source: info?.source,
      };
    });
  } finally {
    await session.release();
  }
}

/** Static shapes of a hand-built case equal ONNX Runtime's (IR 9 so opset 20 loads). */
async function checkOrt(c: Case, feed: Record<string, number[]>, bindings: Record<string, number> = {}): Promise<void> {
  const m = buildModel(c);
  m.proto.ir_version = 9;
  const map = inferShapesStatic(m);
  for (const o of m.graph.outputs) expect(map.get(o.name)?.source, o.name).to.equal('rule');
  expect(shapeMismatches(map, await runAllValues(m, feed), bindings)).to.deep.equal([]);
}

describe('new shape rules (DFT, Einsum, GridSample) vs ONNX Runtime', () => {
  it("Debian's ONNX backend tests for DFT, Einsum and GridSample: inferred = ONNX Runtime's = stored output shapes", async function () {
    requireOrSkip(this, isDir(NODE_TESTS), `Debian's ONNX test data (${DEBIAN_ONNX_TESTDATA}; apt-get install libonnx-testdata)`);
    const dirs = readdirSync(NODE_TESTS).filter((n) => OPS.test(n) && existsSync(path.join(NODE_TESTS, n, 'model.onnx'))).sort();
    const failures: string[] = [];
    const perOp = new Map<string, number>();
    for (const name of dirs) {
      for (const r of await debianCase(path.join(NODE_TESTS, name))) {
        if (r.inferred !== r.ort || r.ort !== r.stored || r.source !== 'rule') failures.push(`${name}/${r.output}: inferred ${r.inferred} (${r.source}), ONNX Runtime ${r.ort}, stored ${r.stored}`);
      }
      const o = OPS.exec(name)![1]!;
      perOp.set(o, (perOp.get(o) ?? 0) + 1);
    }
    console.log(`      ${dirs.length} cases: ${[...perOp].map(([o, n]) => `${o} ${n}`).join(', ')}`);
    expect(failures).to.deep.equal([]);
    // every op has backend tests (libonnx-testdata 1.12: dft 3, einsum 5, gridsample 8)
    expect([...perOp.keys()].sort()).to.deep.equal(['dft', 'einsum', 'gridsample']);
  });

  describe('DFT', () => {
    it('opset 17: axis attribute, onesided, dft_length (pad and cut), inverse on complex input', async () => {
      const x = tensorInfo('x', FLOAT, [2, 8, 3, 1]);
      await checkOrt({ nodes: [op('DFT', ['x'], ['y'], { axis: 1, onesided: 1 })], inputs: [x], opset: 17 }, { x: [2, 8, 3, 1] });
      await checkOrt({ nodes: [op('DFT', ['x', 'n'], ['y'], { axis: 2 })], inputs: [x], initializers: [int64Tensor('n', [], [5])], opset: 17 }, { x: [2, 8, 3, 1] });
      await checkOrt({ nodes: [op('DFT', ['x', 'n'], ['y'], { axis: 1, onesided: 1 })], inputs: [x], initializers: [int64Tensor('n', [], [5])], opset: 17 }, { x: [2, 8, 3, 1] });
      const z = tensorInfo('z', FLOAT, [3, 5, 4, 2]);
      await checkOrt({ nodes: [op('DFT', ['z'], ['y'], { axis: 2, inverse: 1 })], inputs: [z], opset: 17 }, { z: [3, 5, 4, 2] });
    });

    it('opset 20: the axis input (default -2, negative, given), with dft_length and onesided', async () => {
      const x = tensorInfo('x', FLOAT, [2, 6, 7, 1]);
      await checkOrt({ nodes: [op('DFT', ['x'], ['y'], { onesided: 1 })], inputs: [x], opset: 20 }, { x: [2, 6, 7, 1] });
      await checkOrt({ nodes: [op('DFT', ['x', '', 'a'], ['y'], { onesided: 1 })], inputs: [x], initializers: [int64Tensor('a', [], [1])], opset: 20 }, { x: [2, 6, 7, 1] });
      await checkOrt({ nodes: [op('DFT', ['x', 'n', 'a'], ['y'])], inputs: [x], initializers: [int64Tensor('n', [], [9]), int64Tensor('a', [], [-3])], opset: 20 }, { x: [2, 6, 7, 1] });
      await checkOrt({ nodes: [op('DFT', ['x', 'n', 'a'], ['y'], { onesided: 1 })], inputs: [x], initializers: [int64Tensor('n', [], [4]), int64Tensor('a', [], [0])], opset: 20 }, { x: [2, 6, 7, 1] });
    });

    it('symbolic dims, an unknown axis, and refusals', () => {
      const sym = inferShapesStatic(buildModel({ nodes: [op('DFT', ['x'], ['y'], { axis: 1, onesided: 1 })], inputs: [tensorInfo('x', FLOAT, ['N', 'T', 1])], opset: 17 }));
      const y = sym.get('y')!.shape!;
      expect([y[0], y[2]]).to.deep.equal(['N', 2]);
      expect(y[1]).to.be.a('string').and.include('T');
      // opset 20 with a computed axis: the rank is known, which dim changes is not
      const unknown = inferShapesStatic(buildModel({ nodes: [op('DFT', ['x', '', 'a'], ['y'], { onesided: 1 })], inputs: [tensorInfo('x', FLOAT, [2, 6, 1]), tensorInfo('a', INT64, [])], opset: 20 }));
      expect(unknown.get('y')!.shape).to.have.length(3);
      expect(unknown.get('y')!.shape![2]).to.equal(2);
      const refuse = (attrs: Record<string, number>, dims: number[]): (() => unknown) => () => inferShapesStatic(buildModel({ nodes: [op('DFT', ['x'], ['y'], attrs)], inputs: [tensorInfo('x', FLOAT, dims)], opset: 17 }));
      expect(refuse({ inverse: 1, onesided: 1 }, [2, 8, 1])).to.throw(/inverse and onesided/);
      expect(refuse({ axis: 2 }, [2, 8, 1])).to.throw(/axis 2/);
      expect(refuse({}, [2, 8, 3])).to.throw(/last dim/);
    });
  });

  describe('Einsum', () => {
    const f = (name: string, dims: (number | string)[]): ReturnType<typeof tensorInfo> => tensorInfo(name, FLOAT, dims);
    const einsum = (eq: string, ins: (number | string)[][]): Case => ({ nodes: [op('Einsum', ins.map((_, i) => `x${i}`), ['y'], { equation: eq })], inputs: ins.map((d, i) => f(`x${i}`, d)), opset: 12 });
    const feeds = (ins: number[][]): Record<string, number[]> => Object.fromEntries(ins.map((d, i) => [`x${i}`, d]));
    const cases: [string, number[][]][] = [
      ['bij,bjk->bik', [[2, 3, 4], [2, 4, 5]]],
      ['ij,jk', [[3, 4], [4, 5]]],
      ['ji', [[3, 4]]],
      ['ba', [[2, 3]]],
      ['bd,ca', [[2, 3], [4, 5]]],
      ['...ij,...jk->...ik', [[2, 1, 3, 4], [1, 5, 4, 6]]],
      ['...ij,...jk', [[2, 1, 3, 4], [1, 5, 4, 6]]],
      ['i...j,j...->...i', [[3, 2, 4], [4, 2]]],
      ['ii->i', [[4, 4]]],
      ['ij->', [[3, 4]]],
      ['i,i', [[5], [5]]],
      ['i,j->ij', [[2], [3]]],
      ['bhqd,bhkd->bhqk', [[1, 2, 3, 4], [1, 2, 5, 4]]],
    ];
    for (const [eq, ins] of cases) {
      it(`'${eq}' on ${ins.map((d) => `[${d.join(',')}]`).join(', ')}`, async () => {
        await checkOrt(einsum(eq, ins), feeds(ins));
      });
    }

    it('symbolic dims, and refusals', () => {
      const map = inferShapesStatic(buildModel(einsum('bij,bjk->bik', [['B', 3, 4], ['B', 4, 'K']])));
      expectRuled(map, 'y', ['B', 3, 'K'], 'Einsum');
      // implicit output in numpy's order (upper case first; ONNX Runtime refuses upper-case labels)
      expectRuled(inferShapesStatic(buildModel(einsum('aB', [[2, 3]]))), 'y', [3, 2], 'Einsum');
      // ellipses of different ranks broadcast as in numpy (ONNX's own inference refuses them)
      expectRuled(inferShapesStatic(buildModel(einsum('...ij,...jk', [[2, 1, 3, 4], [5, 4, 6]]))), 'y', [2, 5, 3, 6], 'Einsum');
      const refuse = (eq: string, ins: number[][]): (() => unknown) => () => inferShapesStatic(buildModel(einsum(eq, ins)));
      expect(refuse('ij,jk->ik', [[2, 3], [4, 5]])).to.throw(/label 'j'/);
      expect(refuse('ijk', [[2, 3]])).to.throw(/does not match/);
      expect(refuse('ij->iz', [[2, 3]])).to.throw(/output label 'z'/);
      expect(refuse('...i->i', [[2, 3]])).to.throw(/no '\.\.\.'/);
      expect(refuse('i-j', [[2]])).to.throw(/cannot parse/);
    });
  });

  describe('GridSample', () => {
    it('opset 16: [N, C, H, W] and grid [N, H_out, W_out, 2] give [N, C, H_out, W_out]', async () => {
      const c: Case = { nodes: [op('GridSample', ['x', 'g'], ['y'], { mode: 'bilinear' })], inputs: [tensorInfo('x', FLOAT, [2, 3, 5, 7]), tensorInfo('g', FLOAT, [2, 4, 6, 2])], opset: 16 };
      await checkOrt(c, { x: [2, 3, 5, 7], g: [2, 4, 6, 2] });
    });

    it('opset 20: 5-D input with a 3-D grid', async () => {
      const c: Case = { nodes: [op('GridSample', ['x', 'g'], ['y'], { mode: 'linear' })], inputs: [tensorInfo('x', FLOAT, [1, 2, 3, 4, 5]), tensorInfo('g', FLOAT, [1, 2, 3, 4, 3])], opset: 20 };
      await checkOrt(c, { x: [1, 2, 3, 4, 5], g: [1, 2, 3, 4, 3] });
    });

    it('symbolic dims, and refusals', () => {
      const map = inferShapesStatic(buildModel({ nodes: [op('GridSample', ['x', 'g'], ['y'])], inputs: [tensorInfo('x', FLOAT, ['N', 3, 'H', 'W']), tensorInfo('g', FLOAT, ['N', 'Ho', 'Wo', 2])], opset: 16 }));
      expectRuled(map, 'y', ['N', 3, 'Ho', 'Wo'], 'GridSample');
      const refuse = (x: number[], g: number[], opset = 16): (() => unknown) => () => inferShapesStatic(buildModel({ nodes: [op('GridSample', ['x', 'g'], ['y'])], inputs: [tensorInfo('x', FLOAT, x), tensorInfo('g', FLOAT, g)], opset }));
      expect(refuse([1, 2, 3, 4, 5], [1, 2, 3, 4, 3])).to.throw(/4-D/);
      expect(refuse([1, 2, 3, 4], [1, 2, 3, 3])).to.throw(/last dim of grid/);
      expect(refuse([2, 2, 3, 4], [1, 2, 3, 2])).to.throw(/batch/);
    });
  });
});
