/**
 * Structure-aware mutators for ONNX models: the seed is decoded with the project's codec, the
 * objects are damaged the way broken exporters and hostile files damage them (dropped and
 * duplicated nodes, cycles, dangling names, huge or negative dims, wrong data types, mismatched
 * payloads, bad attributes, unknown ops, self-calling functions, external-data entries pointing
 * anywhere, millions of tiny messages), and re-encoded.
 */
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { decode, encode } from '../onnx/codec.js';
import type { AttributeProto, GraphProto, ModelProto, NodeProto, TensorProto, ValueInfoProto } from '../onnx/proto-types.js';
import type { MutationContext, Mutator } from './harness.js';
import { byteMutator, concatBytes } from './mutate-bytes.js';
import type { Rng } from './random.js';
import { encodeVarint } from './wire-scan.js';

/** A secret beside every case folder: no message may ever contain it. */
export const FUZZ_SECRET = 'FUZZ-SECRET-4f1c: must never be read through a model';

type ProtoFn = (m: ModelProto, rng: Rng, ctx: MutationContext) => string;

/** A mutator that edits the decoded seed and writes it back as `<dir>/input.onnx`. */
export function protoMutator(id: string, fn: ProtoFn, weight = 1): Mutator {
  return {
    id,
    weight,
    apply(ctx) {
      const m = decode<ModelProto>(ctx.seedBytes(), 'ModelProto');
      const note = fn(m, ctx.rng, ctx);
      const file = path.join(ctx.dir, 'input.onnx');
      writeFileSync(file, encode(m, 'ModelProto'));
      return { file, note };
    },
  };
}

/** Every graph of the model (main graph first, then subgraphs of attributes). */
function graphsOf(m: ModelProto): GraphProto[] {
  const out: GraphProto[] = [];
  const stack = m.graph ? [m.graph] : [];
  while (stack.length > 0) {
    const g = stack.pop()!;
    out.push(g);
    for (const n of g.node ?? []) for (const a of n.attribute ?? []) {
      if (a.g) stack.push(a.g);
      for (const sg of a.graphs ?? []) stack.push(sg);
    }
  }
  return out;
}

const mainGraph = (m: ModelProto): GraphProto => (m.graph ??= {});
const nodesOf = (g: GraphProto): NodeProto[] => (g.node ??= []);

function pickNode(m: ModelProto, rng: Rng): { g: GraphProto; n: NodeProto; i: number } | undefined {
  const gs = graphsOf(m).filter((g) => (g.node ?? []).length > 0);
  if (gs.length === 0) return undefined;
  const g = rng.chance(0.8) && (m.graph?.node ?? []).length > 0 ? m.graph! : rng.pick(gs);
  const i = rng.int(g.node!.length);
  return { g, n: g.node![i]!, i };
}

function pickTensor(m: ModelProto, rng: Rng, want?: (t: TensorProto) => boolean): TensorProto | undefined {
  const all: TensorProto[] = [];
  for (const g of graphsOf(m)) {
    for (const t of g.initializer ?? []) all.push(t);
    for (const n of g.node ?? []) for (const a of n.attribute ?? []) if (a.t) all.push(a.t);
  }
  const pool = want ? all.filter(want) : all;
  return pool.length > 0 ? rng.pick(pool) : undefined;
}

const HUGE_DIMS: (number | bigint)[] = [2 ** 31, 2 ** 32 + 1, 2 ** 40, 2 ** 53, 2n ** 62n, 2n ** 63n - 1n, -1, -(2 ** 31), 0, 1e9, 65536, 123456789];

function hugeDim(rng: Rng): number | bigint {
  return rng.pick(HUGE_DIMS);
}

function randomName(rng: Rng): string {
  return rng.pick([
    `missing_${rng.int(1e6)}`,
    '',
    ' ',
    '\u0000nul',
    'x'.repeat(rng.range(1000, 200_000)),
    '../../etc/passwd',
    '\ud800',
    'é€𝄞',
  ]);
}

function valueInfos(m: ModelProto): ValueInfoProto[] {
  const out: ValueInfoProto[] = [];
  for (const g of graphsOf(m)) out.push(...(g.input ?? []), ...(g.output ?? []), ...(g.value_info ?? []));
  return out;
}

const ATTR_TYPES = { FLOAT: 1, INT: 2, STRING: 3, TENSOR: 4, GRAPH: 5, FLOATS: 6, INTS: 7, STRINGS: 8 } as const;

function badAttribute(a: AttributeProto, rng: Rng): string {
  const k = rng.int(9);
  const name = a.name ?? '';
  switch (k) {
    case 0:
      a.ints = Array.from({ length: rng.range(0, 6) }, () => rng.pick<number | bigint>([0, -1, -(2 ** 40), 2 ** 31, 2n ** 62n, 1e6, 3]));
      a.type = ATTR_TYPES.INTS;
      return `attribute ${name}: ints ${a.ints.map(String).join(',')}`;
    case 1:
      a.i = rng.pick<number | bigint>([0, -1, -(2 ** 40), 2 ** 31, 2n ** 62n, 1e6]);
      a.type = ATTR_TYPES.INT;
      delete a.ints;
      return `attribute ${name}: i ${String(a.i)}`;
    case 2:
      a.type = rng.pick([0, 1, 2, 3, 4, 5, 6, 7, 8, 99, -1]);
      return `attribute ${name}: type field ${a.type}, values unchanged`;
    case 3:
      a.f = rng.pick([NaN, Infinity, -Infinity, -0, 1e38]);
      a.type = ATTR_TYPES.FLOAT;
      return `attribute ${name}: f ${a.f}`;
    case 4:
      a.s = new TextEncoder().encode(rng.pick(['', 'NOTSET', 'SAME_UPPER', '\u0000', 'x'.repeat(10_000)]));
      a.type = ATTR_TYPES.STRING;
      delete a.ints;
      return `attribute ${name}: a string`;
    case 5:
      a.t = { dims: [hugeDim(rng)], data_type: 1, raw_data: new Uint8Array(4) };
      a.type = ATTR_TYPES.TENSOR;
      return `attribute ${name}: a tensor with dims [${String(a.t.dims![0])}] and 4 bytes`;
    case 6:
      a.g = { name: 'bad', node: [{ op_type: 'Identity', input: [`missing_${rng.int(100)}`], output: ['o'] }], output: [{ name: 'o' }] };
      a.type = ATTR_TYPES.GRAPH;
      return `attribute ${name}: a graph with a dangling input`;
    case 7:
      a.floats = Array.from({ length: rng.range(0, 5) }, () => rng.pick([NaN, 0, -1, 1e30]));
      a.type = ATTR_TYPES.FLOATS;
      delete a.ints;
      return `attribute ${name}: floats`;
    default:
      a.name = randomName(rng);
      return `attribute renamed to ${JSON.stringify(a.name.slice(0, 20))}`;
  }
}

const OPS = ['Conv', 'Gemm', 'MatMul', 'Relu', 'Add', 'Reshape', 'Concat', 'Gather', 'Slice', 'Split', 'If', 'Loop', 'Scan', 'ConstantOfShape', 'Expand', 'Tile', 'Range', 'Resize', 'Pad', 'Transpose', 'Flatten', 'GlobalAveragePool', 'MaxPool', 'AveragePool', 'BatchNormalization', 'Unsqueeze', 'Squeeze', 'Shape', 'Constant', 'Cast', 'ReduceMean', 'Softmax', 'TopK', 'NonZero', 'DFT', 'QuantizeLinear', 'DequantizeLinear', 'NoSuchOp', ''];

/** The ONNX mutators. */
export const ONNX_PROTO_MUTATORS: Mutator[] = [
  protoMutator('none', () => 'unchanged seed (must succeed)', 0.5),
  protoMutator('drop-node', (m, rng) => {
    const p = pickNode(m, rng);
    if (!p) return 'no node';
    nodesOf(p.g).splice(p.i, 1);
    return `dropped node ${p.i} (${p.n.op_type})`;
  }, 2),
  protoMutator('duplicate-node', (m, rng) => {
    const p = pickNode(m, rng);
    if (!p) return 'no node';
    nodesOf(p.g).splice(rng.int(p.g.node!.length + 1), 0, { ...p.n });
    return `duplicated node ${p.i} (${p.n.op_type})`;
  }),
  protoMutator('shuffle-nodes', (m, rng) => {
    const ns = nodesOf(mainGraph(m));
    for (let i = ns.length - 1; i > 0; i--) {
      const j = rng.int(i + 1);
      [ns[i], ns[j]] = [ns[j]!, ns[i]!];
    }
    return `shuffled ${ns.length} nodes (a valid graph in another order)`;
  }, 0.5),
  protoMutator('cycle', (m, rng) => {
    const ns = nodesOf(mainGraph(m));
    if (ns.length === 0) return 'no node';
    const i = rng.int(ns.length);
    const j = rng.range(i, ns.length - 1);
    const out = ns[j]!.output?.[0];
    if (!out || !ns[i]!.input?.length) return 'no edge to rewire';
    ns[i]!.input![rng.int(ns[i]!.input!.length)] = out;
    return `node ${i} now reads the output of node ${j} (${out})`;
  }, 2),
  protoMutator('dangling-input', (m, rng) => {
    const p = pickNode(m, rng);
    if (!p || !p.n.input?.length) return 'no node input';
    const k = rng.int(p.n.input.length);
    p.n.input[k] = randomName(rng);
    return `node ${p.i} input ${k} renamed`;
  }, 2),
  protoMutator('dangling-output', (m, rng) => {
    const outs = mainGraph(m).output ?? [];
    if (outs.length === 0) return 'no output';
    const o = rng.pick(outs);
    o.name = randomName(rng);
    return 'a graph output renamed';
  }),
  protoMutator('node-outputs', (m, rng) => {
    const p = pickNode(m, rng);
    if (!p) return 'no node';
    const k = rng.int(3);
    if (k === 0) p.n.output = [];
    else if (k === 1) p.n.output = [...(p.n.output ?? []), ...(p.n.output ?? [])];
    else p.n.output = (p.n.output ?? []).map(() => '');
    return `node ${p.i} outputs: variant ${k}`;
  }),
  protoMutator('node-inputs', (m, rng) => {
    const p = pickNode(m, rng);
    if (!p) return 'no node';
    const k = rng.int(4);
    const ins = p.n.input ?? [];
    if (k === 0) p.n.input = [];
    else if (k === 1) p.n.input = ins.slice(0, rng.int(ins.length + 1));
    else if (k === 2) p.n.input = [...ins, '', '', ...ins];
    else p.n.input = Array.from({ length: rng.range(10, 5000) }, () => ins[0] ?? '');
    return `node ${p.i} (${p.n.op_type}) inputs: variant ${k}`;
  }),
  protoMutator('op-type', (m, rng) => {
    const p = pickNode(m, rng);
    if (!p) return 'no node';
    const old = p.n.op_type;
    p.n.op_type = rng.pick(OPS);
    if (rng.chance(0.2)) p.n.domain = rng.pick(['com.microsoft', 'ai.onnx.ml', 'local', 'x'.repeat(300)]);
    return `node ${p.i}: ${old} -> ${p.n.op_type}${p.n.domain ? ` (domain ${p.n.domain.slice(0, 20)})` : ''}`;
  }, 3),
  protoMutator('attribute', (m, rng) => {
    const withAttrs = graphsOf(m).flatMap((g) => (g.node ?? []).filter((n) => (n.attribute ?? []).length > 0));
    if (withAttrs.length === 0) return 'no attribute';
    const n = rng.pick(withAttrs);
    const attrs = n.attribute!;
    const k = rng.int(5);
    if (k === 0) {
      const i = rng.int(attrs.length);
      const a = attrs[i]!;
      attrs.splice(i, 1);
      return `removed attribute ${a.name} of ${n.op_type}`;
    }
    if (k === 1) {
      attrs.push({ ...rng.pick(attrs) });
      return `duplicated an attribute of ${n.op_type}`;
    }
    return `${n.op_type}: ${badAttribute(rng.pick(attrs), rng)}`;
  }, 4),
  protoMutator('add-attribute', (m, rng) => {
    const p = pickNode(m, rng);
    if (!p) return 'no node';
    const a: AttributeProto = { name: rng.pick(['kernel_shape', 'pads', 'strides', 'dilations', 'group', 'axis', 'axes', 'perm', 'to', 'value', 'then_branch', 'body', 'mode']) };
    (p.n.attribute ??= []).push(a);
    return `${p.n.op_type}: added ${badAttribute(a, rng)}`;
  }, 2),
  protoMutator('tensor-dims', (m, rng) => {
    const t = pickTensor(m, rng);
    if (!t) return 'no tensor';
    const dims = t.dims ?? [];
    const k = rng.int(4);
    if (k === 0 && dims.length > 0) dims[rng.int(dims.length)] = hugeDim(rng);
    else if (k === 1) t.dims = Array.from({ length: rng.range(1, 8) }, () => hugeDim(rng));
    else if (k === 2) t.dims = [];
    else t.dims = Array.from({ length: rng.range(33, 2000) }, () => 1);
    return `tensor '${t.name}' dims -> [${(t.dims ?? []).slice(0, 6).map(String).join(',')}${(t.dims ?? []).length > 6 ? ',...' : ''}]`;
  }, 3),
  protoMutator('tensor-data-type', (m, rng) => {
    const t = pickTensor(m, rng);
    if (!t) return 'no tensor';
    const old = t.data_type;
    t.data_type = rng.pick([0, 2, 3, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 99, -1]);
    return `tensor '${t.name}' data_type ${old} -> ${t.data_type}`;
  }, 2),
  protoMutator('tensor-payload', (m, rng) => {
    const t = pickTensor(m, rng);
    if (!t) return 'no tensor';
    const k = rng.int(6);
    if (k === 0 && t.raw_data) t.raw_data = t.raw_data.subarray(0, rng.int(t.raw_data.length));
    else if (k === 1 && t.raw_data) t.raw_data = new Uint8Array(t.raw_data.length + rng.range(1, 7));
    else if (k === 2) {
      delete t.raw_data;
      t.float_data = Array.from({ length: rng.range(0, 9) }, () => rng.next());
    } else if (k === 3) {
      delete t.raw_data;
      t.int64_data = Array.from({ length: rng.range(0, 9) }, () => rng.pick<number | bigint>([0, -1, 2n ** 62n, -(2 ** 40), 7]));
    } else if (k === 4) {
      delete t.raw_data;
      t.string_data = [new Uint8Array(3)];
    } else {
      t.raw_data = new Uint8Array(0);
      delete t.float_data;
    }
    return `tensor '${t.name}' payload variant ${k}`;
  }, 2),
  protoMutator('int64-values', (m, rng) => {
    // shape-like constants (Reshape targets, Slice bounds, axes) drive shape inference
    const t = pickTensor(m, rng, (x) => x.data_type === 7 && (x.dims ?? []).reduce<number>((a, b) => a * Number(b), 1) <= 16);
    if (!t) return 'no small int64 tensor';
    const n = (t.dims ?? []).reduce<number>((a, b) => a * Number(b), 1);
    const vals = Array.from({ length: n }, () => BigInt(rng.pick<number | bigint>([0, -1, -2, 1, 2 ** 31, 2n ** 62n, -(2n ** 63n), 2n ** 63n - 1n, 1e9, 3]) as number));
    const b = new Uint8Array(n * 8);
    const dv = new DataView(b.buffer);
    vals.forEach((v, i) => dv.setBigInt64(i * 8, v, true));
    t.raw_data = b;
    delete t.int64_data;
    return `int64 tensor '${t.name}' values -> ${vals.join(',')}`;
  }, 3),
  protoMutator('drop-initializer', (m, rng) => {
    const inits = mainGraph(m).initializer ?? [];
    if (inits.length === 0) return 'no initializer';
    const i = rng.int(inits.length);
    const t = inits.splice(i, 1)[0]!;
    return `dropped initializer '${t.name}'`;
  }),
  protoMutator('duplicate-initializer', (m, rng) => {
    const inits = mainGraph(m).initializer ?? [];
    if (inits.length === 0) return 'no initializer';
    inits.push({ ...rng.pick(inits) });
    return 'duplicated an initializer';
  }),
  protoMutator('value-info-dims', (m, rng) => {
    const vis = valueInfos(m).filter((v) => v.type?.tensor_type);
    if (vis.length === 0) return 'no value info';
    const v = rng.chance(0.6) && (m.graph?.input ?? []).length > 0 ? rng.pick(m.graph!.input!) : rng.pick(vis);
    const tt = (v.type ??= {}).tensor_type ??= {};
    const k = rng.int(5);
    if (k === 0) tt.shape = { dim: Array.from({ length: rng.range(1, 6) }, () => ({ dim_value: hugeDim(rng) })) };
    else if (k === 1) tt.shape = { dim: [] };
    else if (k === 2) tt.shape = { dim: Array.from({ length: rng.range(2, 300) }, () => ({ dim_value: 1 })) };
    else if (k === 3) tt.elem_type = rng.pick([0, 8, 99, -1, 16, 14]);
    else tt.shape = { dim: [{ dim_value: 1 }, { dim_value: rng.range(1, 3) }, { dim_value: rng.pick([1, 7, 100000, 2 ** 20]) }, { dim_value: rng.pick([1, 7, 100000, 2 ** 20]) }] };
    return `value '${(v.name ?? '').slice(0, 40)}' type/shape variant ${k}`;
  }, 3),
  protoMutator('opset', (m, rng) => {
    const k = rng.int(4);
    if (k === 0) m.opset_import = [];
    else if (k === 1) for (const o of m.opset_import ?? []) o.version = rng.pick<number | bigint>([0, -1, 1, 99, 2n ** 62n]);
    else if (k === 2) m.opset_import = [...(m.opset_import ?? []), ...(m.opset_import ?? []).map((o) => ({ ...o, version: 7 }))];
    else m.ir_version = rng.pick<number | bigint>([0, -1, 1, 3, 99, 2n ** 62n]);
    return `opset/ir variant ${k}`;
  }),
  protoMutator('names', (m, rng) => {
    const p = pickNode(m, rng);
    if (!p) return 'no node';
    const name = randomName(rng);
    const out = p.n.output?.[0];
    if (out !== undefined && rng.chance(0.5)) {
      // rename a value consistently: producer and every reader
      for (const g of graphsOf(m)) for (const n of g.node ?? []) n.input = (n.input ?? []).map((x) => (x === out ? name : x));
      p.n.output![0] = name;
      for (const o of mainGraph(m).output ?? []) if (o.name === out) o.name = name;
      return `value '${out}' renamed everywhere (length ${name.length})`;
    }
    p.n.name = name;
    return `node ${p.i} renamed (length ${name.length})`;
  }),
  protoMutator('subgraph', (m, rng) => {
    const g = mainGraph(m);
    const ns = nodesOf(g);
    const src = ns[rng.int(Math.max(1, ns.length))]?.output?.[0] ?? g.input?.[0]?.name ?? 'x';
    const inner = rng.pick([src, `missing_${rng.int(100)}`, 'if_out']);
    const branch = (k: string): GraphProto => ({ name: k, node: [{ op_type: 'Identity', input: [inner], output: [`${k}_o`], name: `${k}_id` }], output: [{ name: `${k}_o` }] });
    const op = rng.pick(['If', 'Loop', 'Scan']);
    const attrs: AttributeProto[] =
      op === 'If'
        ? [
            { name: 'then_branch', type: 5, g: branch('then') },
            { name: 'else_branch', type: 5, g: branch('else') },
          ]
        : [{ name: 'body', type: 5, g: branch('body') }];
    ns.splice(rng.int(ns.length + 1), 0, { op_type: op, input: [src], output: ['if_out'], name: 'fuzz_sub', attribute: attrs });
    return `inserted ${op} whose branches read '${inner.slice(0, 30)}'`;
  }),
  protoMutator('recursive-function', (m, rng) => {
    const g = mainGraph(m);
    const dom = 'fuzz.local';
    const fname = 'F';
    const callee = rng.chance(0.5) ? fname : 'G';
    m.functions = [
      ...(m.functions ?? []),
      { name: fname, domain: dom, input: ['a'], output: ['b'], node: [{ op_type: callee, domain: dom, input: ['a'], output: ['b'] }], opset_import: [{ domain: dom, version: 1 }, { domain: '', version: 13 }] },
      { name: 'G', domain: dom, input: ['a'], output: ['b'], node: [{ op_type: fname, domain: dom, input: ['a'], output: ['b'] }] },
    ];
    m.opset_import = [...(m.opset_import ?? []), { domain: dom, version: 1 }];
    const ns = nodesOf(g);
    const src = ns[0]?.input?.[0] ?? g.input?.[0]?.name ?? 'x';
    ns.unshift({ op_type: fname, domain: dom, input: [src], output: ['fuzz_f_out'], name: 'fuzz_call' });
    return `added functions F and G calling each other (${callee}) and a call of F`;
  }),
  protoMutator('external-data', externalData, 4),
  manyMessages(),
];

/**
 * Millions of tiny messages from a small file (2 bytes each: an amplification of ~300x in decoded
 * objects): the decode must stop at the limits. Built at the byte level, which is instant.
 */
function manyMessages(): Mutator {
  return byteMutator('many-messages', 'onnx', (b, rng, spans) => {
    const n = rng.pick([10_000, 300_000, 1_100_000, 3_000_000]);
    // top-level: metadata_props (14), opset_import (8); inside the graph (7): node (1), value_info (13)
    const where = rng.pick([
      { top: true, tag: 0x72, what: 'metadata_props' },
      { top: true, tag: 0x42, what: 'opset_import' },
      { top: false, tag: 0x0a, what: 'graph nodes' },
      { top: false, tag: 0x6a, what: 'graph value_info' },
    ]);
    const filler = new Uint8Array(2 * n);
    for (let i = 0; i < n; i++) filler[2 * i] = where.tag;
    if (where.top) return { bytes: concatBytes(b, filler), note: `${n} empty ${where.what}` };
    const g = spans().find((x) => x.depth === 0 && x.field === 7 && x.wireType === 2);
    if (!g) return { bytes: b, note: 'no graph' };
    const payload = concatBytes(b.subarray(g.payloadStart, g.end), filler);
    const bytes = concatBytes(b.subarray(0, g.tagStart), Uint8Array.from([0x3a, ...encodeVarint(payload.length)]), payload, b.subarray(g.end));
    return { bytes, note: `${n} empty ${where.what}` };
  });
}

/**
 * Moves some initializers to a side file, then (usually) breaks the entries: traversal, absolute
 * paths, symlinks out of the folder, the model itself, folders, offsets and lengths out of range,
 * negative or non-numeric numbers, unknown and repeated keys, wrong checksums. The case folder is
 * `<dir>/model/` with the secret file in `<dir>`.
 */
function externalData(m: ModelProto, rng: Rng, ctx: MutationContext): string {
  const modelDir = path.join(ctx.dir, 'model');
  mkdirSync(modelDir, { recursive: true });
  writeFileSync(path.join(ctx.dir, 'secret.bin'), FUZZ_SECRET.padEnd(4096, '.'));
  const inits = (mainGraph(m).initializer ?? []).filter((t) => t.raw_data && t.raw_data.length > 0);
  if (inits.length === 0) return 'no raw_data initializer';
  const chosen = inits.filter(() => rng.chance(0.5));
  if (chosen.length === 0) chosen.push(rng.pick(inits));
  const parts: Uint8Array[] = [];
  let off = 0;
  for (const t of chosen) {
    const b = t.raw_data!;
    const pad = (64 - (off % 64)) % 64;
    if (pad) parts.push(new Uint8Array(pad));
    off += pad;
    t.external_data = [
      { key: 'location', value: 'weights.bin' },
      { key: 'offset', value: String(off) },
      { key: 'length', value: String(b.length) },
    ];
    t.data_location = 1;
    delete t.raw_data;
    parts.push(b);
    off += b.length;
  }
  const data = new Uint8Array(off);
  let o = 0;
  for (const p of parts) {
    data.set(p, o);
    o += p.length;
  }
  writeFileSync(path.join(modelDir, 'weights.bin'), data);
  const victim = rng.pick(chosen);
  const set = (key: string, value: string): void => {
    const e = victim.external_data!.find((x) => x.key === key);
    if (e) e.value = value;
    else victim.external_data!.push({ key, value });
  };
  const variants: [string, () => void][] = [
    ['valid', () => {}],
    ['traversal', () => set('location', rng.pick(['../secret.bin', 'sub/../../secret.bin', '..\\secret.bin', './../secret.bin', 'a/b/../../../secret.bin']))],
    ['absolute', () => set('location', rng.pick([path.join(ctx.dir, 'secret.bin'), '/etc/passwd', 'C:\\secret.bin', '\\\\server\\share\\x', '/dev/zero', '/proc/self/mem']))],
    ['symlink-out', () => {
      symlinkSync(path.join(ctx.dir, 'secret.bin'), path.join(modelDir, 'link.bin'));
      set('location', 'link.bin');
    }],
    ['symlink-dir-out', () => {
      symlinkSync(ctx.dir, path.join(modelDir, 'up'));
      set('location', 'up/secret.bin');
    }],
    ['model-itself', () => set('location', 'input.onnx')],
    ['folder', () => {
      mkdirSync(path.join(modelDir, 'sub'));
      set('location', rng.pick(['sub', '.', 'sub/']));
    }],
    ['missing', () => set('location', 'nope.bin')],
    ['empty-location', () => set('location', '')],
    ['nul-location', () => set('location', 'weights.bin\u0000.txt')],
    ['offset', () => set('offset', rng.pick(['-64', '-1', String(data.length + 1), '99999999999999999999', '1e3', '0x40', ' 64', '', String(2 ** 53), 'NaN']))],
    ['length', () => set('length', rng.pick(['-4', '0', String(data.length * 2), '18446744073709551615', '1.5', 'abc', String(2 ** 31)]))],
    ['no-length', () => (victim.external_data = victim.external_data!.filter((e) => e.key !== 'length'))],
    ['unknown-key', () => victim.external_data!.push({ key: rng.pick(['basepath', 'LOCATION', '', 'x'.repeat(1000)]), value: '1' })],
    ['repeated-key', () => victim.external_data!.push({ key: 'location', value: '../secret.bin' })],
    ['checksum', () => set('checksum', rng.pick(['0'.repeat(64), 'zz', '', '0'.repeat(32)]))],
    ['dims', () => (victim.dims = [hugeDim(rng)])],
    ['data-location-only', () => {
      delete victim.external_data;
    }],
    ['truncated-data-file', () => writeFileSync(path.join(modelDir, 'weights.bin'), data.subarray(0, rng.int(data.length)))],
  ];
  const [name, apply] = rng.chance(0.15) ? variants[0]! : rng.pick(variants.slice(1));
  apply();
  // the model is written by protoMutator to <dir>/input.onnx; external data must sit beside it
  ctx.dir = modelDir;
  return `${chosen.length} initializer(s) external; '${victim.name}': ${name}`;
}
