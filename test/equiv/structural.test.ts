import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { compareStructure } from '../../src/equiv/structural.js';
import { Model } from '../../src/ir/model.js';
import { walkFiles } from '../helpers/test-data.js';
import { TempDirs } from '../helpers/temp-dir.js';
import { editedCopy, identicalCopy, perturbedCopy, reorderedCopy, setStrides, weightOf } from './variants.js';

const FIXTURES = walkFiles(path.resolve('fixtures/models'), (n) => n.endsWith('.onnx'));
const RESNET = path.resolve('fixtures/models/resnet18_iqa.onnx');

describe('equiv/structural', () => {
  const temps = new TempDirs('equiv-structural');
  after(() => temps.cleanup());

  it('finds the fixture models', () => {
    expect(FIXTURES.length).to.be.at.least(7);
  });

  for (const file of FIXTURES) {
    const name = path.basename(file);
    it(`${name}: equal to its byte-identical copy and to a copy with nodes and initializers reordered`, () => {
      const dir = temps.make('fixture');
      const a = Model.load(file);
      const same = compareStructure(a, Model.load(identicalCopy(file, dir)));
      expect(same.equal, same.difference?.message).to.equal(true);
      expect(same.fingerprint[0]).to.equal(same.fingerprint[1]);

      const { file: reordered, moved } = reorderedCopy(file, dir);
      const b = Model.load(reordered);
      expect(readFileSync(reordered).equals(readFileSync(file))).to.equal(false);
      expect(b.graph.initializers().map((v) => v.name)).to.deep.equal(a.graph.initializers().map((v) => v.name).reverse());
      // a pure chain (vgg16) has one topological order; every other fixture has independent nodes to move
      if (name !== 'vgg16_iqa.onnx') {
        expect(moved, 'the shuffle moved some nodes').to.be.greaterThan(0);
        expect(b.graph.nodes.map((n) => n.name)).to.not.deep.equal(a.graph.nodes.map((n) => n.name));
      }
      const r = compareStructure(a, b);
      expect(r.equal, r.difference?.message).to.equal(true);
      expect(r.fingerprint[0]).to.equal(r.fingerprint[1]);
    });
  }

  it('names the perturbed initializer and its node; a weight tolerance lets it pass', () => {
    const dir = temps.make('perturbed');
    const w = weightOf(RESNET, '/layer3/layer3.0/conv2/Conv');
    const b = Model.load(perturbedCopy(RESNET, dir, w, 1e-2));
    const r = compareStructure(Model.load(RESNET), b);
    expect(r.equal).to.equal(false);
    expect(r.difference!.kind).to.equal('initializer');
    expect(r.difference!.nodeA).to.equal('/layer3/layer3.0/conv2/Conv');
    expect(r.difference!.message).to.match(new RegExp(`^node '/layer3/layer3.0/conv2/Conv' \\(Conv\\) input 1: initializer '${w.replace(/[.:]/g, '\\$&')}' differs: max abs 0\\.01 > tolerance 0 `));
    const tolerant = compareStructure(Model.load(RESNET), b, { weightAtol: 0.011 });
    expect(tolerant.equal, tolerant.difference?.message).to.equal(true);
    expect(tolerant.maxWeightDiff).to.be.closeTo(0.01, 1e-6);
    const tooTight = compareStructure(Model.load(RESNET), b, { weightAtol: 0.009 });
    expect(tooTight.difference!.message).to.match(/max abs 0\.01 > tolerance 0\.009/);
  });

  it('names a changed attribute in the words of the node', () => {
    const dir = temps.make('attr');
    const b = Model.load(editedCopy(RESNET, dir, 'strides', (m) => setStrides(m, '/layer4/layer4.0/conv1/Conv', [1, 1])));
    const r = compareStructure(Model.load(RESNET), b);
    expect(r.difference).to.deep.equal({
      kind: 'attribute',
      message: "node '/layer4/layer4.0/conv1/Conv' (Conv): attribute strides [2,2] vs [1,1]",
      nodeA: '/layer4/layer4.0/conv1/Conv',
      nodeB: '/layer4/layer4.0/conv1/Conv',
    });
  });

  it('reports the most upstream difference when two nodes differ', () => {
    const dir = temps.make('two');
    const b = Model.load(
      editedCopy(RESNET, dir, 'two', (m) => {
        setStrides(m, '/layer4/layer4.1/conv1/Conv', [2, 2]);
        setStrides(m, '/layer2/layer2.1/conv2/Conv', [2, 2]);
      }),
    );
    expect(compareStructure(Model.load(RESNET), b).difference!.nodeA).to.equal('/layer2/layer2.1/conv2/Conv');
  });

  it('names a swapped op, and ignores node names', () => {
    const dir = temps.make('op');
    const swapped = Model.load(
      editedCopy(RESNET, dir, 'op', (m) => {
        m.graph.node('/layer3/layer3.1/relu/Relu')!.proto.op_type = 'Sigmoid';
      }),
    );
    const r = compareStructure(Model.load(RESNET), swapped);
    expect(r.difference!.kind).to.equal('op');
    expect(r.difference!.message).to.equal("node '/layer3/layer3.1/relu/Relu' is Relu in A but '/layer3/layer3.1/relu/Relu' is Sigmoid in B");

    const renamed = Model.load(
      editedCopy(RESNET, dir, 'renamed', (m) => {
        m.graph.nodes.forEach((n, i) => (n.proto.name = `node_${i}`));
        const v = m.graph.value('/layer2/layer2.0/Add_output_0');
        m.graph.renameValue(v, 'renamed_tensor');
      }),
    );
    const same = compareStructure(Model.load(RESNET), renamed);
    expect(same.equal, same.difference?.message).to.equal(true);
  });

  it('finds an extra node that feeds no output', () => {
    const dir = temps.make('dead');
    const b = Model.load(
      editedCopy(RESNET, dir, 'dead', (m) => {
        m.graph.addNode({ opType: 'Relu', name: 'extra_relu', inputs: [m.graph.value('/layer1/layer1.0/Add_output_0')] });
      }),
    );
    const r = compareStructure(Model.load(RESNET), b);
    expect(r.difference!.kind).to.equal('unmatched-node');
    expect(r.difference!.message).to.equal("node 'extra_relu' (Relu) of B (feeding no graph output) has no counterpart in A");
  });

  it('refuses a rewired graph: a different input feeding a node', () => {
    const dir = temps.make('rewire');
    const b = Model.load(
      editedCopy(RESNET, dir, 'rewire', (m) => {
        const add = m.graph.node('/layer2/layer2.1/Add')!;
        add.setInput(1, m.graph.value('/layer2/layer2.0/Add_output_0'));
      }),
    );
    const r = compareStructure(Model.load(RESNET), b);
    expect(r.equal).to.equal(false);
    expect(r.difference!.nodeA).to.equal('/layer2/layer2.1/Add');
    expect(r.difference!.kind).to.equal('wiring');
    expect(r.difference!.message).to.equal("node '/layer2/layer2.1/Add' (Add) input 1: reads the output of '/layer2/layer2.0/relu_1/Relu' (Relu) in A but of '/layer2/layer2.0/Add' (Add) in B");
  });
});
