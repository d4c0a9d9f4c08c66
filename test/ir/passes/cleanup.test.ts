import { expect } from 'chai';
import path from 'node:path';
import { Model } from '../../../src/ir/model.js';
import { cleanup } from '../../../src/ir/passes/cleanup.js';
import { encode } from '../../../src/onnx/codec.js';
import { decode } from '../../../src/onnx/codec.js';
import type { ModelProto } from '../../../src/onnx/proto-types.js';
import { runSeeded } from '../../helpers/ort-compare.js';
import { TempDirs } from '../../helpers/temp-dir.js';
import { chainModel } from '../../../src/bench/chain-model.js';

const FIXTURE = path.resolve('fixtures/models/resnet18_iqa.onnx');

describe('ir/passes/cleanup', () => {
  const temps = new TempDirs('cleanup');
  after(() => temps.cleanup());

  it('removes a dead chain and an unused initializer, leaving everything else byte-identical', async () => {
    const original = Model.load(FIXTURE);
    const model = Model.load(FIXTURE);
    const g = model.graph;
    const mid = g.value('/layer2/layer2.1/relu_1/Relu_output_0');
    const r1 = g.addNode({ opType: 'Relu', inputs: [mid], name: 'dead_relu' });
    g.addNode({ opType: 'Sigmoid', inputs: [r1.outputs[0]!], name: 'dead_sigmoid' });
    g.addInitializer('unused_weight', { dims: [2], data_type: 1, raw_data: new Uint8Array(8) });
    const nodesBefore = g.nodes.length;

    const result = cleanup(model);
    expect(result.modified).to.equal(true);
    expect(result.changes).to.have.length(3);
    expect(result.changes.join('\n')).to.contain("dead_sigmoid").and.contain('dead_relu').and.contain('unused_weight');
    expect(g.nodes.length).to.equal(nodesBefore - 2);
    expect(g.hasValue('unused_weight')).to.equal(false);

    const saved = decode<ModelProto>(model.toBytes(), 'ModelProto');
    const orig = decode<ModelProto>(original.toBytes(), 'ModelProto');
    expect(saved.graph!.node!.map((n) => Buffer.from(encode(n, 'NodeProto')).toString('hex'))).to.deep.equal(
      orig.graph!.node!.map((n) => Buffer.from(encode(n, 'NodeProto')).toString('hex')),
    );
    expect(Buffer.compare(Buffer.from(model.toBytes()), Buffer.from(original.toBytes()))).to.equal(0);

    const out = path.join(temps.make(), 'clean.onnx');
    model.save(out);
    const [a, b] = await Promise.all([runSeeded(FIXTURE), runSeeded(out)]);
    expect(Array.from(b.score!.data)).to.deep.equal(Array.from(a.score!.data));
  });

  it('is a no-op on a clean model and keeps unread graph inputs unless asked', () => {
    const model = Model.load(FIXTURE);
    expect(cleanup(model).modified).to.equal(false);
    model.graph.addInput({ name: 'extra', type: { tensor_type: { elem_type: 1, shape: { dim: [{ dim_value: 1 }] } } } });
    expect(cleanup(model).modified).to.equal(false);
    expect(model.graph.hasValue('extra')).to.equal(true);
    const r = cleanup(model, { keepInputs: false });
    expect(r.changes).to.deep.equal(["removed graph input 'extra': not read"]);
    expect(model.graph.inputs.map((v) => v.name)).to.deep.equal(['input']);
  });

  it('removes a long dead chain reading a shared constant in one batch, keeping the live part linked', () => {
    // 3,000 nodes, the graph output moved to the first one: 2,999 dead nodes, a third of them reading 'c'
    const p = chainModel(3000);
    p.graph!.output![0]!.name = 'v0';
    const model = new Model(p);
    const g = model.graph;
    const r = cleanup(model);
    expect(r.changes).to.have.length(3000);
    expect(r.changes[0]).to.equal("removed node 'n2999' (Identity): no output is read");
    expect(r.changes[2998]).to.equal("removed node 'n1' (Add): no output is read");
    expect(r.changes[2999]).to.equal("removed initializer 'c': not read");
    expect(g.nodes.map((n) => n.name)).to.deep.equal(['n0']);
    expect(g.value('x').uses().map((u) => u.node.name)).to.deep.equal(['n0']);
    expect(g.value('v0').uses()).to.have.length(0);
    expect(g.hasValue('v1') || g.hasValue('c')).to.equal(false);
    const again = Model.fromBytes(model.toBytes());
    expect(again.graph.nodes).to.have.length(1);
    expect(cleanup(again).modified).to.equal(false);
  });
});

