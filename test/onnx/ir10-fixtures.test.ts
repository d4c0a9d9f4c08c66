/**
 * IR 9-10 fields (node metadata_props and overload, graph/value_info/tensor/function metadata,
 * float8 and 4-bit tensors) and unknown future fields survive a load/save byte for byte, are
 * readable after load, and an edit of one field changes only the bytes of the message it is in.
 * Fixtures: fixtures/ir10/*.onnx, made by scripts/make-ir10-fixtures.ts.
 */
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import {
  buildIr10Fixtures,
  FLOAT8_ONE_TWO_MINUS_ONE_ONE_HALF,
  INT4_VALUES,
  IR10_FIXTURE_DIR,
  pack4,
  UINT4_VALUES,
  UNKNOWN,
} from '../../scripts/make-ir10-fixtures.js';
import { Model } from '../../src/ir/model.js';
import { decode, encode } from '../../src/onnx/codec.js';
import { dataTypeName } from '../../src/onnx/data-types.js';
import { expectedByteLength } from '../../src/onnx/external-data.js';
import type { ModelProto } from '../../src/onnx/proto-types.js';
import { tensorByteLength, tensorRawBytes, tensorTypedData } from '../../src/onnx/tensor-data.js';
import { runSeeded, runWithInputs } from '../helpers/ort-compare.js';
import { referenceJson } from '../helpers/reference-decoder.js';
import { TempDirs } from '../helpers/temp-dir.js';
import { FIXTURE_MODELS } from '../helpers/test-data.js';

const tmp = new TempDirs('iqa-ir10');
const fixture = (name: string): string => path.join(IR10_FIXTURE_DIR, name);
const bytesOf = (file: string): Buffer => readFileSync(file);

function contains(hay: Uint8Array, needle: Uint8Array): boolean {
  return Buffer.from(hay.buffer, hay.byteOffset, hay.byteLength).indexOf(Buffer.from(needle.buffer, needle.byteOffset, needle.byteLength)) >= 0;
}

function hex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}

/** Encoded bytes of every node, initializer, value_info, input and output of the main graph, keyed by kind and index. */
function messageBytes(m: ModelProto): Map<string, string> {
  const g = m.graph!;
  const out = new Map<string, string>();
  (g.node ?? []).forEach((n, i) => out.set(`node#${i}:${n.name ?? ''}`, hex(encode(n, 'NodeProto'))));
  (g.initializer ?? []).forEach((t, i) => out.set(`initializer#${i}:${t.name ?? ''}`, hex(encode(t, 'TensorProto'))));
  for (const key of ['input', 'output', 'value_info'] as const) {
    (g[key] ?? []).forEach((v, i) => out.set(`${key}#${i}:${v.name ?? ''}`, hex(encode(v, 'ValueInfoProto'))));
  }
  (m.functions ?? []).forEach((f, i) => out.set(`function#${i}:${f.name ?? ''}`, hex(encode(f, 'FunctionProto'))));
  return out;
}

/**
 * Rename node `index` of `file`, save, and check that every other message's bytes are unchanged
 * (and were the bytes of the original file) while the renamed node differs only in its name.
 */
function checkRenameIsLocal(file: string, index: number): void {
  const original = bytesOf(file);
  const before = messageBytes(decode<ModelProto>(original, 'ModelProto'));
  // the codec's encoding of an untouched message is the slice of the file it came from
  for (const [key, h] of before) expect(original.includes(Buffer.from(h, 'hex')), `${key} bytes are a slice of the file`).to.equal(true);

  const m = Model.load(file);
  const target = m.graph.nodes[index]!;
  const oldName = target.name;
  target.proto.name = `${oldName}_renamed`;
  const out = path.join(tmp.make('rename'), 'renamed.onnx');
  m.save(out, { externalData: false });
  const saved = bytesOf(out);
  const after = messageBytes(decode<ModelProto>(saved, 'ModelProto'));

  expect([...after.keys()].length).to.equal(before.size);
  const changed: string[] = [];
  const keysBefore = [...before.keys()];
  [...after.values()].forEach((h, i) => {
    const beforeKey = keysBefore[i]!;
    if (before.get(beforeKey) !== h) changed.push(beforeKey);
  });
  expect(changed).to.deep.equal([`node#${index}:${oldName}`]);
  // the file grew by the added name bytes (plus a byte where an enclosing length varint grew)
  const grown = saved.length - original.length;
  expect(grown).to.be.within('_renamed'.length, '_renamed'.length + 3);

  // the renamed node differs from the original node in the name only
  const savedNode = decode<ModelProto>(saved, 'ModelProto').graph!.node![index]!;
  expect(savedNode.name).to.equal(`${oldName}_renamed`);
  savedNode.name = oldName;
  expect(hex(encode(savedNode, 'NodeProto'))).to.equal(before.get(`node#${index}:${oldName}`));
}

describe('IR 10 fixtures (fixtures/ir10, scripts/make-ir10-fixtures.ts)', function () {
  after(() => tmp.cleanup());

  it('the committed fixtures are what the generator makes', () => {
    for (const [name, bytes] of buildIr10Fixtures()) {
      expect(hex(bytesOf(fixture(name))), `${name} is stale: run npx tsx scripts/make-ir10-fixtures.ts`).to.equal(hex(bytes));
    }
  });

  for (const name of ['metadata_overload.onnx', 'lowbit_tensors.onnx']) {
    it(`${name}: load -> save and load -> toBytes are byte-identical`, () => {
      const file = fixture(name);
      const m = Model.load(file);
      expect(m.irVersion).to.equal(10);
      const out = path.join(tmp.make('rt'), name);
      m.save(out, { externalData: false });
      expect(bytesOf(out).equals(bytesOf(file))).to.equal(true);
      expect(Buffer.from(Model.load(file).toBytes()).equals(bytesOf(file))).to.equal(true);
      expect(referenceJson(bytesOf(out))).to.equal(referenceJson(bytesOf(file)));
    });
  }

  it('metadata_overload: IR 10 fields are readable after load', () => {
    const m = Model.load(fixture('metadata_overload.onnx'));
    const g = m.graph;
    expect(m.metadata().get('iqa-surgeon.fixture')).to.equal('ir10/metadata_overload');
    expect(m.opsetVersion('local')).to.equal(1);
    // (compared field by field: decoded messages also carry their wire layout under a symbol)
    expect(g.proto.metadata_props?.map((e) => [e.key, e.value])).to.deep.equal([['graph.note', 'graph-level metadata (GraphProto 16)']]);

    const n0 = g.node('n0_identity')!;
    expect(n0.proto.metadata_props?.map((e) => [e.key, e.value])).to.deep.equal([
      ['source', 'exporter'],
      ['pass', 'none'],
    ]);
    const n1 = g.node('n1_scale')!;
    expect(n1.domain).to.equal('local');
    expect(n1.proto.overload).to.equal('v2');
    expect(n1.proto.metadata_props?.[0]?.value).to.equal('overloaded call');
    expect(g.node('n2_relu')!.proto.doc_string).to.equal('plain node');

    expect(g.value('t0').info?.metadata_props?.[0]).to.include({ key: 'stage', value: 'stem' });
    expect(g.value('y').info?.metadata_props?.[0]).to.include({ key: 'unit', value: 'score' });
    const scale = g.value('scale').initializer!;
    expect(scale.metadata_props?.[0]).to.include({ key: 'quant', value: 'none' });
    expect(Array.from(tensorTypedData(scale) as Float32Array)).to.deep.equal([0.5, 1, 2, 4]);

    const fn = m.proto.functions![0]!;
    expect(fn).to.include({ name: 'ScaleBy', domain: 'local', overload: 'v2' });
    expect(fn.metadata_props?.[0]?.value).to.equal('overload v2');
    expect(fn.value_info?.[0]?.name).to.equal('o');
    expect(fn.node?.[0]?.metadata_props?.[0]).to.include({ key: 'in', value: 'function' });
  });

  it('metadata_overload: unknown future fields stay inside the messages that carried them', () => {
    const m = Model.load(fixture('metadata_overload.onnx'));
    const g = m.graph;
    // an unrelated edit elsewhere must not drop or move them
    g.node('n2_relu')!.proto.doc_string = 'edited';
    const saved = m.toBytes();
    for (const [where, b] of Object.entries(UNKNOWN)) expect(contains(saved, b), `unknown field of ${where}`).to.equal(true);
    expect(contains(encode(g.node('n0_identity')!.proto, 'NodeProto'), UNKNOWN.node)).to.equal(true);
    expect(contains(encode(g.value('scale').initializer!, 'TensorProto'), UNKNOWN.tensor)).to.equal(true);
    expect(contains(encode(g.value('t0').info!, 'ValueInfoProto'), UNKNOWN.valueInfo)).to.equal(true);
    // the model-level fields sit right after ir_version, where the file had them
    expect(hex(saved.subarray(2, 2 + UNKNOWN.modelBytes.length))).to.equal(hex(UNKNOWN.modelBytes));
    // the node-level field sits between the node's input and output fields
    const n0 = encode(g.node('n0_identity')!.proto, 'NodeProto');
    expect(hex(n0.subarray(3, 3 + UNKNOWN.node.length))).to.equal(hex(UNKNOWN.node));
  });

  it('metadata_overload: ONNX Runtime runs the overloaded local function (original and saved copy)', async () => {
    const out = path.join(tmp.make('ort'), 'saved.onnx');
    Model.load(fixture('metadata_overload.onnx')).save(out, { externalData: false });
    const a = await runSeeded(fixture('metadata_overload.onnx'), 7);
    const b = await runSeeded(out, 7);
    expect(Array.from(b.y!.data)).to.deep.equal(Array.from(a.y!.data));
    expect(a.y!.dims).to.deep.equal([1, 4]);
  });

  it('lowbit_tensors: float8 and int4/uint4 payloads are readable after load', () => {
    const g = Model.load(fixture('lowbit_tensors.onnx')).graph;
    for (const [code, bytes] of Object.entries(FLOAT8_ONE_TWO_MINUS_ONE_ONE_HALF)) {
      const t = g.value(`f8_${code}`).initializer!;
      expect(t.data_type).to.equal(Number(code));
      expect(dataTypeName(t.data_type)).to.match(/^float8e[45]m[32]/);
      expect(tensorByteLength(t)).to.equal(4);
      expect(expectedByteLength(t)).to.equal(4);
      const data = tensorTypedData(t);
      expect(data).to.be.instanceOf(Uint8Array);
      expect(Array.from(data as Uint8Array)).to.deep.equal(bytes);
    }
    expect(g.value('f8_17').initializer!.metadata_props?.[0]).to.include({ key: 'format', value: 'e4m3fn' });
    const i4 = g.value('w_int4').initializer!;
    const u4 = g.value('w_uint4').initializer!;
    expect([i4.data_type, u4.data_type]).to.deep.equal([22, 21]);
    expect([dataTypeName(22), dataTypeName(21)]).to.deep.equal(['int4', 'uint4']);
    // five 4-bit values take three bytes
    expect(expectedByteLength(i4)).to.equal(3);
    expect(hex(tensorRawBytes(i4))).to.equal(hex(pack4(INT4_VALUES)));
    expect(hex(tensorRawBytes(u4))).to.equal(hex(pack4(UINT4_VALUES)));
    expect(g.value('cast_17').info?.metadata_props?.[0]?.key).to.equal('dtype');
  });

  it('lowbit_tensors: ONNX Runtime decodes the saved copy to the intended values', async () => {
    const out = path.join(tmp.make('ort'), 'lowbit.onnx');
    Model.load(fixture('lowbit_tensors.onnx')).save(out, { externalData: false });
    const r = await runWithInputs(out, { x: { dims: [4], data: [0, 0, 0, 0] } });
    for (const code of [17, 18, 19, 20]) expect(Array.from(r[`y_${code}`]!.data), `float8 type ${code}`).to.deep.equal([1, 2, -1, 1.5]);
    expect(Array.from(r.y_22!.data)).to.deep.equal(INT4_VALUES);
    expect(Array.from(r.y_21!.data)).to.deep.equal(UINT4_VALUES);
  });

  it('renaming one node changes only that node (IR 10 fixture)', () => {
    checkRenameIsLocal(fixture('metadata_overload.onnx'), 1);
    checkRenameIsLocal(fixture('metadata_overload.onnx'), 0);
  });

  it('renaming one node changes only that node (resnet18_iqa fixture)', () => {
    const file = path.join(FIXTURE_MODELS, 'resnet18_iqa.onnx');
    const n = Model.load(file).graph.nodes.length;
    checkRenameIsLocal(file, Math.floor(n / 2));
  });

  it('setting model metadata leaves the graph bytes as they were', () => {
    const file = fixture('metadata_overload.onnx');
    const m = Model.load(file);
    m.setMetadata('iqa-surgeon.note', 'added');
    const saved = m.toBytes();
    const graphBefore = encode(decode<ModelProto>(bytesOf(file), 'ModelProto').graph!, 'GraphProto');
    const graphAfter = encode(decode<ModelProto>(saved, 'ModelProto').graph!, 'GraphProto');
    expect(hex(graphAfter)).to.equal(hex(graphBefore));
    expect(Model.fromBytes(saved).metadata().get('iqa-surgeon.note')).to.equal('added');
    for (const b of Object.values(UNKNOWN)) expect(contains(saved, b)).to.equal(true);
  });
});
