/**
 * The acceptance "edit test": insert an Identity on one internal edge of a real model, save, and
 * check that every other node, initializer and value_info is byte-identical in the saved file and
 * that ONNX Runtime computes the same outputs. Then the editing primitives on small graphs:
 * insertOnEdge on a graph output, replaceAllUses, removeNode (with and without rewiring),
 * toposort stability, what edits do without a cleanup pass, and clone independence.
 */
import { expect } from 'chai';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { UserError } from '../../src/errors.js';
import type { Graph } from '../../src/ir/graph.js';
import { Model } from '../../src/ir/model.js';
import type { Value } from '../../src/ir/value.js';
import { decode, encode } from '../../src/onnx/codec.js';
import type { GraphProto, ModelProto, NodeProto } from '../../src/onnx/proto-types.js';
import { maxAbsDiff, runSeeded, runWithInputs } from '../helpers/ort-compare.js';
import { FLOAT, floatTensor, model, modelBytes, node, smallMlp, tensorInfo } from '../helpers/proto-build.js';
import { TempDirs } from '../helpers/temp-dir.js';
import { FIXTURE_MODELS, REALDATA_ONNX, requireOrSkip } from '../helpers/test-data.js';

const tmp = new TempDirs('iqa-edit');

const hex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
const nodeHex = (n: NodeProto): string => hex(encode(n, 'NodeProto'));

function insertIdentity(graph: Graph, v: Value): Value {
  return graph.insertOnEdge(v, (x) => graph.addNode({ opType: 'Identity', inputs: [x] }).outputs[0]!);
}

/**
 * A value produced by a node from the middle of the graph on, not a graph output, read by two or
 * more nodes when there is such an edge (a residual branch), else by one.
 */
function middleEdge(graph: Graph): Value {
  const n = graph.nodes.length;
  for (const minReaders of [2, 1]) {
    for (let k = 0; k < n; k++) {
      const v = graph.nodes[(Math.floor(n / 2) + k) % n]!.outputs[0];
      if (v && v.uses().length >= minReaders && !v.isGraphOutput) return v;
    }
  }
  throw new Error('no internal edge found');
}

function saveTo(m: Model, name: string): string {
  const out = path.join(tmp.make('save'), name);
  m.save(out, { externalData: false });
  return out;
}

/** Insert an Identity on an internal edge of `file` and check locality of the bytes and ORT outputs. */
async function editTest(file: string): Promise<void> {
  const originalBytes = readFileSync(file);
  const orig = decode<ModelProto>(originalBytes, 'ModelProto').graph!;

  const m = Model.load(file);
  const v = middleEdge(m.graph);
  const edgeName = v.name;
  const readerIndexes = (orig.node ?? []).flatMap((n, i) => ((n.input ?? []).includes(edgeName) ? [i] : []));
  expect(readerIndexes.length).to.equal(new Set(v.uses().map((u) => u.node)).size).and.to.be.greaterThan(0);
  const w = insertIdentity(m.graph, v);
  expect(w).to.not.equal(v);
  expect(v.uses().map((u) => u.node.opType)).to.deep.equal(['Identity']);
  const out = saveTo(m, path.basename(file));
  const saved = decode<ModelProto>(readFileSync(out), 'ModelProto').graph!;

  // exactly one new node, an Identity from the edge to its new value
  const added = (saved.node ?? []).filter((n) => !(orig.node ?? []).some((o) => o.name !== undefined && o.name === n.name));
  expect(added).to.have.length(1);
  expect(added[0]).to.include({ op_type: 'Identity' });
  expect(added[0]!.input).to.deep.equal([edgeName]);
  expect(added[0]!.output).to.deep.equal([w.name]);

  // every original node is there, in the same order; only the edge's readers changed, and only
  // in reading the new value
  const kept = (saved.node ?? []).filter((n) => n !== added[0]);
  expect(kept).to.have.length(orig.node!.length);
  let identical = 0;
  kept.forEach((n, i) => {
    const before = nodeHex(orig.node![i]!);
    if (readerIndexes.includes(i)) {
      expect(nodeHex(n), `reader node #${i} changed`).to.not.equal(before);
      n.input = (n.input ?? []).map((x) => (x === w.name ? edgeName : x));
      expect(nodeHex(n), `reader node #${i} differs only in its input`).to.equal(before);
    } else {
      expect(nodeHex(n), `node #${i} '${n.name ?? ''}'`).to.equal(before);
      identical++;
    }
  });
  expect(identical).to.equal(orig.node!.length - readerIndexes.length);
  // the new node sits after the edge's producer and before its readers
  const pos = saved.node!.indexOf(added[0]!);
  const producerPos = saved.node!.findIndex((n) => (n.output ?? []).includes(edgeName));
  expect(pos).to.be.greaterThan(producerPos);
  for (const i of readerIndexes) expect(saved.node!.indexOf(kept[i]!)).to.be.greaterThan(pos);

  const listHex = (g: GraphProto, key: 'initializer' | 'value_info' | 'input' | 'output'): string[] =>
    (g[key] ?? []).map((x) => hex(encode(x, key === 'initializer' ? 'TensorProto' : 'ValueInfoProto')));
  for (const key of ['initializer', 'value_info', 'input', 'output'] as const) {
    expect(listHex(saved, key), `${key} bytes`).to.deep.equal(listHex(orig, key));
  }
  // everything but the node list is byte-identical at the graph level too
  const rest = (g: GraphProto): string => hex(encode({ ...g, node: [] }, 'GraphProto'));
  expect(rest(saved)).to.equal(rest(orig));

  const a = await runSeeded(file, 2024);
  const b = await runSeeded(out, 2024);
  expect(maxAbsDiff(a, b)).to.be.at.most(1e-6);
}

describe('ir edit: Identity on an internal edge of a real model (acceptance edit test)', function () {
  after(() => tmp.cleanup());

  it('resnet18_iqa.onnx: other nodes/initializers/value_info byte-identical, same ORT outputs', async () => {
    await editTest(path.join(FIXTURE_MODELS, 'resnet18_iqa.onnx'));
  });

  it('ultraface_RFB-320.onnx (realdata): other nodes/initializers/value_info byte-identical, same ORT outputs', async function () {
    const file = path.join(REALDATA_ONNX, 'ultraface_RFB-320.onnx');
    requireOrSkip(this, existsSync(file), file);
    await editTest(file);
  });
});

describe('ir edit: primitives on small graphs', function () {
  after(() => tmp.cleanup());

  const mlp = (): Model => Model.fromBytes(modelBytes(smallMlp()));
  const x = { x: { dims: [1, 4], data: [-2, -0.5, 0.5, 2] } };
  /** y of smallMlp by hand: relu(x * w) + b with w = 0.5 + i/4, b = (i % 7) - 3. */
  const expectedY = (skipRelu = false): number[] =>
    x.x.data.map((xi, i) => {
      const p = xi * (0.5 + i / 4);
      return Math.fround((skipRelu ? p : Math.max(0, p)) + ((i % 7) - 3));
    });
  const runModel = async (m: Model, name: string): Promise<number[]> => Array.from((await runWithInputs(saveTo(m, name), x)).y!.data);

  it('the small model computes what the tests expect (baseline)', async () => {
    expect(await runModel(mlp(), 'base.onnx')).to.deep.equal(expectedY());
  });

  it('insertOnEdge on a graph output edge keeps the output name and type', async () => {
    const m = mlp();
    const g = m.graph;
    const y = g.value('y');
    const addNode = y.producer()!;
    const w = insertIdentity(g, y);
    expect(w.name).to.equal('y');
    expect(y.name).to.not.equal('y');
    expect(g.outputs).to.deep.equal([w]);
    expect(w.producer()!.opType).to.equal('Identity');
    expect(addNode.outputs[0]).to.equal(y);
    const p = m.syncProto().graph!;
    expect(p.output!.map((o) => o.name)).to.deep.equal(['y']);
    expect(p.output![0]!.type?.tensor_type?.elem_type).to.equal(FLOAT);
    expect(p.node!.map((n) => n.op_type)).to.deep.equal(['Mul', 'Relu', 'Add', 'Identity']);
    expect(p.node![2]!.output).to.deep.equal([y.name]);
    expect(await runModel(m, 'out-edge.onnx')).to.deep.equal(expectedY());
  });

  it('insertOnEdge with chosen readers rewires only those readers', () => {
    const m = Model.fromBytes(
      modelBytes(
        model({
          nodes: [node('Relu', ['x'], ['r'], 'relu'), node('Neg', ['r'], ['a'], 'neg'), node('Abs', ['r'], ['b'], 'abs'), node('Add', ['a', 'b'], ['y'], 'add')],
          inputs: [tensorInfo('x', FLOAT, [1, 4])],
          outputs: [tensorInfo('y', FLOAT, [1, 4])],
        }),
      ),
    );
    const g = m.graph;
    const r = g.value('r');
    const negUse = r.uses().filter((u) => u.node.name === 'neg');
    const w = g.insertOnEdge(r, (v) => g.addNode({ opType: 'Identity', inputs: [v] }).outputs[0]!, { readers: negUse });
    expect(g.node('neg')!.inputs[0]).to.equal(w);
    expect(g.node('abs')!.inputs[0]).to.equal(r);
    expect(r.uses().map((u) => u.node.opType).sort()).to.deep.equal(['Abs', 'Identity']);
  });

  it('replaceAllUses moves every reader (graph outputs included) and leaves the old producer in place', async () => {
    const m = mlp();
    const g = m.graph;
    const relu = g.node('relu')!;
    g.replaceAllUses(g.value('r'), g.value('xw'));
    expect(g.node('add')!.inputs[0]).to.equal(g.value('xw'));
    expect(g.value('r').uses()).to.have.length(0);
    // no implicit cleanup: the dead Relu stays until someone removes it
    expect(g.nodes).to.include(relu);
    expect(await runModel(m, 'rau.onnx')).to.deep.equal(expectedY(true));

    // a graph output is a reader too
    const m2 = mlp();
    const g2 = m2.graph;
    g2.replaceAllUses(g2.value('y'), g2.value('r'));
    expect(g2.outputs.map((v) => v.name)).to.deep.equal(['r']);
    expect(m2.syncProto().graph!.output!.map((o) => o.name)).to.deep.equal(['r']);
  });

  it('replaceAllUses with `except` keeps the excepted readers', () => {
    const m = mlp();
    const g = m.graph;
    const add = g.node('add')!;
    g.replaceAllUses(g.value('r'), g.value('xw'), { except: new Set([add]) });
    expect(add.inputs[0]).to.equal(g.value('r'));
  });

  it('removeNode with rewire connects the readers to its input and drops its value_info', async () => {
    const m = mlp();
    const g = m.graph;
    g.removeNode(g.node('relu')!, { rewire: true });
    expect(g.nodes.map((n) => n.opType)).to.deep.equal(['Mul', 'Add']);
    expect(g.hasValue('r')).to.equal(false);
    expect(g.node('add')!.inputs[0]).to.equal(g.value('xw'));
    const p = m.syncProto().graph!;
    expect(p.value_info!.map((v) => v.name)).to.deep.equal(['xw']);
    expect(p.node![1]!.input).to.deep.equal(['xw', 'b']);
    expect(await runModel(m, 'rewired.onnx')).to.deep.equal(expectedY(true));
  });

  it('removeNode refuses to orphan readers and to rewire a node without inputs', () => {
    const m = mlp();
    const g = m.graph;
    const relu = g.node('relu')!;
    let err: unknown;
    try {
      g.removeNode(relu);
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(UserError);
    expect((err as UserError).code).to.equal('still-used');
    expect((err as Error).message).to.include("its output 'r' is still read");
    // the failed removal left the graph as it was
    expect(g.nodes).to.include(relu);
    expect(relu.inputs[0]).to.equal(g.value('xw'));

    const c = g.addNode({ opType: 'Constant', inputs: [], attributes: { value: floatTensor('', [1], [1]) } });
    err = undefined;
    try {
      g.removeNode(c, { rewire: true });
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(UserError);
    expect((err as UserError).code).to.equal('cannot-rewire');
    expect((err as Error).message).to.include('has no input/output pair');
  });

  it('removeNode frees the names it held, so a new node can reuse them', () => {
    const m = mlp();
    const g = m.graph;
    g.removeNode(g.node('relu')!, { rewire: true });
    const n = g.addNode({ opType: 'Relu', name: 'relu', inputs: [g.value('xw')], outputs: ['r'] });
    expect(n.name).to.equal('relu');
    expect(n.outputs[0]!.name).to.equal('r');
  });

  it('toposort leaves a sorted graph (and its bytes) unchanged', () => {
    const file = path.join(FIXTURE_MODELS, 'resnet18_iqa.onnx');
    const m = Model.load(file);
    const before = [...m.graph.nodes];
    m.graph.toposort();
    expect(m.graph.nodes).to.deep.equal(before);
    expect(hex(m.toBytes())).to.equal(hex(readFileSync(file)));
  });

  it('toposort fixes an unsorted graph and keeps the file order of independent nodes', () => {
    // file order: b2 (reads b1), a1, b1, a2 (reads a1), join
    const m = Model.fromBytes(
      modelBytes(
        model({
          nodes: [
            node('Neg', ['b1'], ['b2'], 'b2'),
            node('Relu', ['x'], ['a1'], 'a1'),
            node('Abs', ['x'], ['b1'], 'b1'),
            node('Neg', ['a1'], ['a2'], 'a2'),
            node('Add', ['a2', 'b2'], ['y'], 'join'),
          ],
          inputs: [tensorInfo('x', FLOAT, [1, 4])],
          outputs: [tensorInfo('y', FLOAT, [1, 4])],
        }),
      ),
    );
    m.graph.toposort();
    expect(m.graph.nodes.map((n) => n.name)).to.deep.equal(['a1', 'b1', 'b2', 'a2', 'join']);
    // stable: sorting again changes nothing
    m.graph.toposort();
    expect(m.graph.nodes.map((n) => n.name)).to.deep.equal(['a1', 'b1', 'b2', 'a2', 'join']);
  });

  it('edits keep a topological order without a cleanup or toposort pass', async () => {
    const m = Model.load(path.join(FIXTURE_MODELS, 'resnet18_iqa.onnx'));
    const g = m.graph;
    // several edits: identities on three edges, one removed again with rewiring
    const ids = [0.25, 0.5, 0.75].map((f) => insertIdentity(g, middleEdgeAt(g, f)).producer()!);
    g.removeNode(ids[1]!, { rewire: true });
    const seen = new Set<string>([...g.inputs.map((v) => v.name), ...g.initializers().map((v) => v.name)]);
    for (const n of m.syncProto().graph!.node!) {
      for (const i of n.input ?? []) if (i) expect(seen.has(i), `'${i}' read by '${n.name}' before it is produced`).to.equal(true);
      for (const o of n.output ?? []) seen.add(o);
    }
    const out = saveTo(m, 'edited.onnx');
    const base = await runSeeded(path.join(FIXTURE_MODELS, 'resnet18_iqa.onnx'), 11);
    expect(maxAbsDiff(base, await runSeeded(out, 11))).to.be.at.most(1e-6);
  });

  it('unused initializers and dead nodes are kept until a pass removes them', () => {
    const m = mlp();
    const g = m.graph;
    g.addInitializer('unused', floatTensor('', [2], [1, 2]));
    g.replaceAllUses(g.value('r'), g.value('xw'));
    const back = Model.fromBytes(m.toBytes());
    expect(back.graph.initializers().map((v) => v.name)).to.deep.equal(['w', 'b', 'unused']);
    expect(back.graph.nodes.map((n) => n.opType)).to.deep.equal(['Mul', 'Relu', 'Add']);
    expect(back.graph.value('r').uses()).to.have.length(0);
  });

  it('a clone is independent of the original, both ways', () => {
    const file = path.join(FIXTURE_MODELS, 'resnet18_iqa.onnx');
    const original = Model.load(file);
    const fileHex = hex(readFileSync(file));
    const clone = original.clone();
    expect(hex(clone.toBytes())).to.equal(fileHex);

    insertIdentity(clone.graph, middleEdge(clone.graph));
    clone.graph.nodes[0]!.proto.name = 'renamed_in_clone';
    clone.setMetadata('edited', 'yes');
    // in-place edits of nested messages (the clone must be deep)
    clone.graph.inputs[0]!.info!.type!.tensor_type!.shape!.dim![0]!.dim_param = 'N';
    const withAttr = clone.graph.nodes.find((n) => (n.proto.attribute ?? []).length > 0)!;
    withAttr.proto.attribute![0]!.doc_string = 'edited in the clone';
    const w = clone.graph.initializers()[0]!;
    w.initializer = { ...w.initializer!, raw_data: new Uint8Array(w.initializer!.raw_data!.length) };
    expect(hex(clone.toBytes())).to.not.equal(fileHex);
    expect(hex(original.toBytes()), 'original after editing the clone').to.equal(fileHex);
    expect(original.graph.nodes.length).to.equal(clone.graph.nodes.length - 1);

    const cloneHex = hex(clone.toBytes());
    insertIdentity(original.graph, middleEdgeAt(original.graph, 0.25));
    original.graph.nodes[1]!.proto.name = 'renamed_in_original';
    original.setMetadata('edited-original', 'yes');
    expect(hex(clone.toBytes()), 'clone after editing the original').to.equal(cloneHex);
  });

  it('a saved edit loads back with its names, links and value_info', () => {
    const m = mlp();
    const g = m.graph;
    const w = insertIdentity(g, g.value('xw'));
    const back = Model.load(saveTo(m, 'twice.onnx'));
    const idNode = back.graph.nodes.find((n) => n.opType === 'Identity')!;
    expect(idNode.inputs[0]!.name).to.equal('xw');
    expect(idNode.outputs[0]!.name).to.equal(w.name);
    expect(back.graph.node('relu')!.inputs[0]).to.equal(idNode.outputs[0]);
    expect(back.graph.value('xw').info?.type?.tensor_type?.elem_type).to.equal(FLOAT);
    expect(back.graph.nodes.map((n) => n.opType)).to.deep.equal(['Mul', 'Identity', 'Relu', 'Add']);
  });
});

function middleEdgeAt(graph: Graph, fraction: number): Value {
  const n = graph.nodes.length;
  for (let i = Math.floor(n * fraction); i < n; i++) {
    const v = graph.nodes[i]!.outputs[0];
    if (v && v.uses().length > 0 && !v.isGraphOutput) return v;
  }
  throw new Error('no internal edge found');
}
