/**
 * Conformance of the mirror against ONNX's own backend node tests (Debian's libonnx-testdata:
 * `<root>/node/test_*` folders, each a model.onnx and test_data_set_N/{input,output}_K.pb).
 * A test counts as supported when the mirror can run every node of its model with the test's
 * element types; its outputs must then equal the expected ones within ONNX's tolerance
 * (numpy assert_allclose: |got - want| <= atol + rtol |want|, rtol 1e-3, atol 1e-7).
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { HostTensor } from '../differentiable/model.js';
import { Model } from '../ir/model.js';
import { decode } from '../onnx/codec.js';
import { DataType } from '../onnx/data-types.js';
import type { TensorProto } from '../onnx/proto-types.js';
import { tensorTypedData } from '../onnx/tensor-data.js';
import { mirrorKernel } from '../ops/registry.js';
import { MIRROR_DTYPES } from './host.js';
import { loadBackend, type BackendChoice } from './backend.js';
import { Mirror } from './mirror.js';
import { supportProblems } from './support.js';

export const ONNX_TOLERANCE = { rtol: 1e-3, atol: 1e-7 } as const;

export interface ConformanceCase {
  test: string;
  /** The op the test exercises: the single node's op, or the ops of a multi-node model joined by '+'. */
  op: string;
  /** Element type name of the data (first input of the first node, or its first output). */
  dtype: string;
  /** Element type name of the first graph output (what ConstantOfShape-like ops produce). */
  outDtype?: string;
  status: 'unsupported' | 'pass' | 'fail';
  reason?: string;
  /** Largest |got - want| over outputs (pass/fail cases). */
  maxAbs?: number;
}

const TYPE_NAMES: Record<number, string> = Object.fromEntries(Object.entries(DataType).map(([k, v]) => [v, k.toLowerCase()]));

function readTensor(file: string): TensorProto {
  return decode<TensorProto>(readFileSync(file), 'TensorProto');
}

function numbered(dir: string, prefix: string): string[] {
  return readdirSync(dir)
    .filter((f) => f.startsWith(prefix) && f.endsWith('.pb'))
    .sort((a, b) => Number(a.slice(prefix.length, -3)) - Number(b.slice(prefix.length, -3)))
    .map((f) => path.join(dir, f));
}

/** Host tensor of a test data TensorProto, in the mirror's representation. */
function toHost(t: TensorProto): HostTensor {
  const dims = (t.dims ?? []).map(Number);
  const type = t.data_type ?? 0;
  const raw = readAsNumbers(t);
  if (MIRROR_DTYPES.get(type) === 'float32') return { dims, data: Float32Array.from(raw) };
  if (type === DataType.BOOL) return { dims, data: Uint8Array.from(raw, (v) => (v ? 1 : 0)) };
  return { dims, data: Int32Array.from(raw, (v) => (v > 2147483647 ? 2147483647 : v < -2147483648 ? -2147483648 : v)) };
}

function readAsNumbers(t: TensorProto): number[] {
  return Array.from(tensorTypedData(t) as ArrayLike<number | bigint>, (v) => Number(v));
}

export function allClose(got: HostTensor, want: HostTensor, tol: { rtol: number; atol: number }): { ok: boolean; maxAbs: number; why?: string } {
  if (got.dims.length !== want.dims.length || got.dims.some((d, i) => d !== want.dims[i])) {
    return { ok: false, maxAbs: Infinity, why: `shape [${got.dims.join(',')}] instead of [${want.dims.join(',')}]` };
  }
  let maxAbs = 0;
  let bad = -1;
  for (let i = 0; i < want.data.length; i++) {
    const g = Number(got.data[i]);
    const w = Number(want.data[i]);
    if (Number.isNaN(w) && Number.isNaN(g)) continue;
    if (w === g) continue;
    const d = Math.abs(g - w);
    if (!(d <= tol.atol + tol.rtol * Math.abs(w))) {
      if (bad < 0) bad = i;
    }
    if (!(d <= maxAbs)) maxAbs = Number.isNaN(d) ? Infinity : d;
  }
  if (bad >= 0) return { ok: false, maxAbs, why: `element ${bad}: got ${Number(got.data[bad])}, want ${Number(want.data[bad])} (max abs error ${maxAbs.toExponential(2)})` };
  return { ok: true, maxAbs };
}

/** The test folders under `<root>/node`, sorted. */
export function nodeTestDirs(root: string): string[] {
  const node = path.join(root, 'node');
  return readdirSync(node, { withFileTypes: true })
    .filter((e) => e.isDirectory() && e.name.startsWith('test_'))
    .map((e) => path.join(node, e.name))
    .sort();
}

/** Run one backend node test through the mirror. */
export async function runConformanceCase(dir: string, opts: { backend?: BackendChoice } = {}): Promise<ConformanceCase> {
  const test = path.basename(dir);
  let model: Model;
  try {
    model = Model.load(path.join(dir, 'model.onnx'));
  } catch (e) {
    return { test, op: '?', dtype: '?', status: 'unsupported', reason: `model does not load: ${(e as Error).message}` };
  }
  const nodes = model.graph.nodes;
  const op = [...new Set(nodes.map((n) => (n.domain ? `${n.domain}::${n.opType}` : n.opType)))].join('+') || '(no nodes)';
  const first = nodes[0];
  const typeOf = (): number | undefined => first?.inputs.find((v) => v)?.elemType ?? first?.outputs[0]?.elemType ?? model.graph.outputs[0]?.elemType;
  const dtypeCode = typeOf();
  const dtype = dtypeCode !== undefined ? (TYPE_NAMES[dtypeCode] ?? String(dtypeCode)) : '?';
  const outCode = model.graph.outputs[0]?.elemType;
  const outDtype = outCode !== undefined ? (TYPE_NAMES[outCode] ?? String(outCode)) : '?';
  const problems = supportProblems(model);
  if (problems.length > 0) return { test, op, dtype, status: 'unsupported', reason: `${problems[0]!.node}: ${problems[0]!.reason}` };
  for (const n of nodes) {
    const k = mirrorKernel(n.opType, n.domain)!;
    const t = n.inputs.find((v) => v)?.elemType ?? n.outputs[0]?.elemType;
    if (t !== undefined && !k.types.includes(t)) return { test, op, dtype, status: 'unsupported', reason: `${n.opType} on ${TYPE_NAMES[t] ?? t}` };
  }
  for (const v of [...model.graph.inputs, ...model.graph.outputs]) {
    const t = v.elemType;
    if (t === undefined || !MIRROR_DTYPES.has(t) || t === DataType.DOUBLE) {
      if (!(t === DataType.DOUBLE && nodes.every((n) => mirrorKernel(n.opType, n.domain)!.types.includes(DataType.DOUBLE)))) {
        return { test, op, dtype, status: 'unsupported', reason: `graph value '${v.name}' has type ${t === undefined ? 'not a tensor' : (TYPE_NAMES[t] ?? t)}` };
      }
    }
  }
  const sets = readdirSync(dir).filter((f) => f.startsWith('test_data_set_')).sort();
  await loadBackend(opts.backend ?? 'auto');
  let mirror: Mirror | undefined;
  let worst = 0;
  try {
    mirror = await Mirror.create(model, opts.backend ? { backend: opts.backend } : {});
    for (const s of sets) {
      const sdir = path.join(dir, s);
      const ins = numbered(sdir, 'input_').map(readTensor);
      const outs = numbered(sdir, 'output_').map(readTensor);
      const feeds: Record<string, HostTensor> = {};
      const graphInputs = model.graph.inputs.filter((v) => !v.isInitializer);
      ins.forEach((t, i) => {
        const name = t.name || graphInputs[i]?.name;
        if (name) feeds[name] = toHost(t);
      });
      const got = await mirror.forward(feeds);
      for (let i = 0; i < outs.length; i++) {
        const want = toHost(outs[i]!);
        const name = outs[i]!.name || mirror.outputNames[i]!;
        const g = got[name];
        if (!g) return { test, op, dtype, status: 'fail', reason: `${s}: output '${name}' missing` };
        const exact = outs[i]!.data_type === DataType.BOOL || MIRROR_DTYPES.get(outs[i]!.data_type ?? 0) === 'int32';
        const c = allClose(g, want, exact ? { rtol: 0, atol: 0 } : ONNX_TOLERANCE);
        worst = Math.max(worst, c.maxAbs);
        if (!c.ok) return { test, op, dtype, status: 'fail', reason: `${s}: output '${name}' ${c.why}`, maxAbs: c.maxAbs };
      }
    }
  } catch (e) {
    return { test, op, dtype, status: 'fail', reason: String((e as Error)?.message ?? e).split('\n')[0] };
  } finally {
    mirror?.dispose();
  }
  return { test, op, dtype, outDtype, status: 'pass', maxAbs: worst };
}

/** Run every node test under `root` (optionally only those whose op matches `only`). */
export async function runConformance(root: string, opts: { backend?: BackendChoice; only?: (c: { test: string }) => boolean } = {}): Promise<ConformanceCase[]> {
  const out: ConformanceCase[] = [];
  for (const dir of nodeTestDirs(root)) {
    if (opts.only && !opts.only({ test: path.basename(dir) })) continue;
    out.push(await runConformanceCase(dir, opts));
  }
  return out;
}

/** Per-op counts: supported / passed / failed (unsupported tests are counted apart). */
export function summarize(cases: readonly ConformanceCase[]): Map<string, { supported: number; passed: number; failed: number; unsupported: number }> {
  const m = new Map<string, { supported: number; passed: number; failed: number; unsupported: number }>();
  for (const c of cases) {
    const r = m.get(c.op) ?? { supported: 0, passed: 0, failed: 0, unsupported: 0 };
    if (c.status === 'unsupported') r.unsupported++;
    else {
      r.supported++;
      if (c.status === 'pass') r.passed++;
      else r.failed++;
    }
    m.set(c.op, r);
  }
  return new Map([...m.entries()].sort((a, b) => a[0].localeCompare(b[0])));
}
