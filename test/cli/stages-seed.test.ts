/**
 * `stages` and `splice --stage/--before/--after` on the seed-style exports of the paper's models
 * (fixtures/seed-models): the paper's positions are found by name, the spliced files run in
 * ONNX Runtime with the original output shape.
 */
import { expect } from 'chai';
import path from 'node:path';
import { cli } from '../helpers/cli.js';
import { runSeeded } from '../helpers/ort-compare.js';
import { TempDirs } from '../helpers/temp-dir.js';
import { SEED_MODELS } from '../helpers/test-data.js';

const seed = (name: string): string => path.join(SEED_MODELS, name);

describe('cli: stages and named splice positions on the seed-style exports', () => {
  const temps = new TempDirs('cli-stages-seed');
  after(() => temps.cleanup());

  it('stages --all-edges on the DBCNN-style export: both branches\' blocks, the joins, each block\'s convs', async () => {
    const r = await cli('stages', seed('dbcnn_vgg16_scnn.onnx'), '--all-edges');
    expect(r.code, r.err).to.equal(0);
    expect(r.out).to.contain('branches: features1 (from input), features2 (from input)');
    for (let k = 1; k <= 5; k++) expect(r.out).to.match(new RegExp(`\\d+\\s+features1\\.block${k}\\s+features1\\s`)).and.match(new RegExp(`\\d+\\s+features2\\.block${k}\\s+features2\\s`));
    expect(r.out).to.contain('/Resize (resize-to-sibling): features1.block5 + features2.block5');
    expect(r.out).to.contain('/MatMul (matmul, bilinear pooling): features1.block5 + features2.block5');
    expect(r.out).to.match(/conv3\s+\/features1\/features1\.28\/Conv\s+\[64,6,8\]\s+\/features1\/features1\.27\/Relu_output_0\s/);
    const j = JSON.parse((await cli('stages', seed('dbcnn_vgg16_scnn.onnx'), '--json')).out);
    expect(j.stages.map((s: { branch: string }) => s.branch)).to.deep.equal([...Array(5).fill('features1'), ...Array(5).fill('features2')]);
    expect(j.stages[0].pathConvs).to.equal(undefined);
  });

  for (const file of ['resnet18_wrapped.onnx', 'resnet50_wrapped.onnx', 'tres_r50_transformer.onnx']) {
    it(`${file}: splice --stage layer3 works and the result runs with the original output shape`, async () => {
      const out = path.join(temps.make('splice'), file);
      const r = await cli('splice', seed(file), '--stage', 'layer3', '-o', out, '--json');
      expect(r.code, r.err).to.equal(0);
      const rep = JSON.parse(r.out);
      expect(rep.stage).to.equal('layer3');
      expect(rep.edge).to.match(/\/layer3\/layer3\.\d\/relu(_\d)?\/Relu_output_0$/);
      const [before, after] = [await runSeeded(seed(file)), await runSeeded(out)];
      expect(after.score!.dims).to.deep.equal(before.score!.dims);
      expect(after.score!.data.every(Number.isFinite)).to.equal(true);
    });
  }

  it('DBCNN-style: a block before conv5_3 of the VGG branch (--stage features1.block5 --before conv3) runs with the original output shape', async () => {
    const out = path.join(temps.make('splice'), 'dbcnn.onnx');
    const r = await cli('splice', seed('dbcnn_vgg16_scnn.onnx'), '--stage', 'features1.block5', '--before', 'conv3', '-o', out, '--json');
    expect(r.code, r.err).to.equal(0);
    const rep = JSON.parse(r.out);
    expect(rep.edge).to.equal('/features1/features1.27/Relu_output_0');
    expect(rep.stage).to.equal('features1.block5');
    expect(rep.position).to.equal('before conv3 /features1/features1.28/Conv');
    const after = await runSeeded(out);
    expect(after.score!.dims).to.deep.equal([1, 1]);
    expect(after.score!.data.every(Number.isFinite)).to.equal(true);
    const text = await cli('splice', seed('dbcnn_vgg16_scnn.onnx'), '--before', 'features1.28', '-o', path.join(temps.make('splice'), 'dbcnn2.onnx'));
    expect(text.code, text.err).to.equal(0);
    expect(text.out).to.contain("on '/features1/features1.27/Relu_output_0' (stage features1.block5, before /features1/features1.28/Conv)");
  });

  it('KonCept-style: splice --after base.13 (block8) puts the block before conv2d_7b', async () => {
    const out = path.join(temps.make('splice'), 'koncept.onnx');
    const r = await cli('splice', seed('koncept_irv2.onnx'), '--after', 'base.13', '-o', out, '--json');
    expect(r.code, r.err).to.equal(0);
    expect(JSON.parse(r.out).edge).to.equal('/base/base.13/Add_output_0');
    const after = await runSeeded(out);
    expect(after.score!.dims).to.deep.equal([1, 1]);
  });

  it('bad positions exit 1 with one line', async () => {
    const o = path.join(temps.make('splice'), 'bad.onnx');
    const noConv = await cli('splice', seed('dbcnn_vgg16_scnn.onnx'), '--stage', 'features1.block5', '--before', 'conv4', '-o', o);
    expect(noConv.code).to.equal(1);
    expect(noConv.err.trim().split('\n')).to.have.length(1);
    expect(noConv.err).to.contain("no conv 'conv4' in stage features1.block5; convs of stage features1.block5: conv1 /features1/features1.24/Conv");
    const both = await cli('splice', seed('dbcnn_vgg16_scnn.onnx'), '--edge', 'input', '--before', 'conv1', '-o', o);
    expect(both.code).to.equal(1);
    expect(both.err).to.contain('give exactly one of --stage (optionally with --before/--after) or --edge');
    const noStage = await cli('splice', seed('dbcnn_vgg16_scnn.onnx'), '--stage', 'vgg.block5', '-o', o);
    expect(noStage.code).to.equal(1);
    expect(noStage.err).to.contain("no stage 'vgg.block5'; stages: 0:features1.block1");
  });
});
