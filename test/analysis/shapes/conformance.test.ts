/**
 * Conformance of the static rules with ONNX's own backend test suite (Debian's libonnx-testdata):
 * for every model there whose ops all have rules, the inferred output shapes and types must equal
 * the ones the model declares and the shapes of the expected outputs stored beside it. Small graph
 * inputs (shapes, axes, pads, scales: 16 elements or fewer) are given their test values as
 * initializers, as a real model would hold them. Skips when the suite is not installed, except on
 * CI (CI=true), where a missing suite fails.
 */
import { expect } from 'chai';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { inferShapesStatic } from '../../../src/analysis/shapes/infer.js';
import { SHAPE_RULES } from '../../../src/ops/registry.js';
import { Model } from '../../../src/ir/model.js';
import { decode } from '../../../src/onnx/codec.js';
import { decodeModel } from '../../../src/onnx/model-io.js';
import type { ModelProto, TensorProto, ValueInfoProto } from '../../../src/onnx/proto-types.js';
import { DEBIAN_ONNX_TESTDATA, isDir, requireOrSkip } from '../../helpers/test-data.js';
import { LISTED_OPS } from './listed-ops.js';

const SUITES = ['node', 'pytorch-converted', 'pytorch-operator', 'simple'];
const MAX_CONSTANT_INPUT = 16;

const isTensor = (v: ValueInfoProto): boolean => v.type?.tensor_type !== undefined;
const dimsOf = (t: TensorProto): number[] => (t.dims ?? []).map(Number);
const readTensor = (file: string): TensorProto => decode<TensorProto>(readFileSync(file), 'TensorProto');

/** Why a case is out of scope, or undefined when every op has a rule. */
function outOfScope(proto: ModelProto): string | undefined {
  const g = proto.graph!;
  for (const n of g.node ?? []) {
    if (n.domain && n.domain !== 'ai.onnx') return `op of domain ${n.domain}`;
    if (!SHAPE_RULES.has(n.op_type ?? '')) return `no rule for ${n.op_type}`;
    if (n.attribute?.some((a) => a.g || a.graphs?.length)) return 'subgraph';
  }
  if (![...(g.input ?? []), ...(g.output ?? [])].every(isTensor)) return 'non-tensor input or output';
  return undefined;
}

/** Check one case; returns its problems and the op types it covers. */
function checkCase(dir: string): { problems: string[]; ops: string[] } | undefined {
  const file = path.join(dir, 'model.onnx');
  const data = path.join(dir, 'test_data_set_0');
  if (!existsSync(file) || !isDir(data)) return undefined;
  const proto = decodeModel(readFileSync(file)).proto;
  if (outOfScope(proto)) return undefined;
  const g = proto.graph!;
  const ops = [...new Set((g.node ?? []).map((n) => n.op_type ?? ''))];
  const initialized = new Set((g.initializer ?? []).map((t) => t.name));
  let k = 0;
  for (const input of g.input ?? []) {
    if (initialized.has(input.name)) continue;
    const pb = path.join(data, `input_${k++}.pb`);
    if (!existsSync(pb)) continue;
    const t = readTensor(pb);
    // (the stored data type can differ from the declared one: bfloat16 data is stored as uint16)
    const elemType = input.type!.tensor_type!.elem_type;
    if (dimsOf(t).reduce((a, b) => a * b, 1) <= MAX_CONSTANT_INPUT) (g.initializer ??= []).push({ ...t, name: input.name, data_type: elemType });
  }
  const problems: string[] = [];
  let map;
  try {
    map = inferShapesStatic(new Model(proto));
  } catch (e) {
    return { problems: [(e as Error).message], ops };
  }
  (g.output ?? []).forEach((o, i) => {
    const info = map.get(o.name ?? '');
    const got = info?.shape ? `[${info.shape.join(', ')}]` : 'nothing';
    const declared = o.type!.tensor_type!;
    const declaredDims = declared.shape?.dim?.map((d) => (d.dim_value !== undefined ? Number(d.dim_value) : undefined));
    if (declaredDims && (info?.shape?.length !== declaredDims.length || declaredDims.some((d, j) => d !== undefined && d !== info.shape![j]))) {
      problems.push(`${o.name}: inferred ${got}, declared [${declaredDims.join(', ')}]`);
    }
    if (info?.elemType !== declared.elem_type) problems.push(`${o.name}: inferred type ${info?.elemType}, declared ${declared.elem_type}`);
    const pb = path.join(data, `output_${i}.pb`);
    if (existsSync(pb)) {
      const dims = dimsOf(readTensor(pb));
      if (info?.shape?.length !== dims.length || dims.some((d, j) => d !== info.shape![j])) problems.push(`${o.name}: inferred ${got}, expected output [${dims.join(', ')}]`);
    }
    if (info?.source !== 'rule') problems.push(`${o.name}: source ${info?.source}`);
  });
  return { problems, ops };
}

describe('shape rules vs the ONNX backend test suite (Debian libonnx-testdata)', () => {
  it('every in-scope model: inferred output shapes and types equal the declared and expected ones', function () {
    requireOrSkip(this, isDir(DEBIAN_ONNX_TESTDATA), `Debian's ONNX test data (${DEBIAN_ONNX_TESTDATA}; apt-get install libonnx-testdata)`);
    const failures: string[] = [];
    const covered = new Set<string>();
    let checked = 0;
    for (const suite of SUITES) {
      const root = path.join(DEBIAN_ONNX_TESTDATA, suite);
      if (!isDir(root)) continue;
      for (const name of readdirSync(root).sort()) {
        const r = checkCase(path.join(root, name));
        if (!r) continue;
        checked++;
        r.ops.forEach((o) => covered.add(o));
        if (r.problems.length > 0) failures.push(`${suite}/${name} (${r.ops.join(', ')}): ${r.problems.join('; ')}`);
      }
    }
    const listedCovered = [...LISTED_OPS].filter((o) => covered.has(o));
    console.log(`      ${checked} models checked, ${covered.size} op types, ${listedCovered.length}/${LISTED_OPS.size} listed ops covered`);
    expect(failures).to.deep.equal([]);
    expect(checked).to.be.greaterThan(700);
    // every listed op appears in the suite at least once
    expect([...LISTED_OPS].filter((o) => !covered.has(o))).to.deep.equal([]);
  });
});
