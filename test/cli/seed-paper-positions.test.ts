/**
 * Issue 12, item 5: each seed-style export of the paper's four models (fixtures/seed-models) is
 * spliced at the paper's position by name, materialized, and checked: ONNX Runtime runs both
 * forms with the original output shape, the trainable and the deployable form agree (`equiv`),
 * and the deployable form agrees with its TensorFlow.js mirror (`equiv --mirror`).
 */
import { expect } from 'chai';
import path from 'node:path';
import { cli } from '../helpers/cli.js';
import { runSeeded } from '../helpers/ort-compare.js';
import { TempDirs } from '../helpers/temp-dir.js';
import { SEED_MODELS } from '../helpers/test-data.js';

const POSITIONS: { model: string; paper: string; args: string[]; edge: string; inShape: number[] }[] = [
  { model: 'linearity_r50', paper: 'after layer3 (feeds the layer3 head and layer4)', args: ['--stage', 'features.6'], edge: '/features.6/features.6.5/relu_2/Relu_output_0', inShape: [96, 6, 8] },
  { model: 'koncept_irv2', paper: 'after block8', args: ['--after', 'base.13'], edge: '/base/base.13/Add_output_0', inShape: [260, 4, 6] },
  { model: 'dbcnn_vgg16_scnn', paper: 'before conv5_3 of the VGG branch', args: ['--stage', 'features1.block5', '--before', 'conv3'], edge: '/features1/features1.27/Relu_output_0', inShape: [64, 6, 8] },
  { model: 'tres_r50_transformer', paper: 'after layer3', args: ['--stage', 'layer3'], edge: '/model/layer3/layer3.5/relu_2/Relu_output_0', inShape: [96, 12, 12] },
];

describe('cli: the paper\'s four positions on the seed-style exports (splice, materialize, ORT, equiv, mirror)', () => {
  const temps = new TempDirs('seed-positions');
  after(() => temps.cleanup());

  for (const p of POSITIONS) {
    it(`${p.model}: ${p.paper} (${p.args.join(' ')})`, async () => {
      const dir = temps.make(p.model);
      const src = path.join(SEED_MODELS, `${p.model}.onnx`);
      const spliced = path.join(dir, 'spliced.onnx');
      const deploy = path.join(dir, 'deploy.onnx');
      const s = await cli('splice', src, ...p.args, '-o', spliced, '--json');
      expect(s.code, s.err).to.equal(0);
      const rep = JSON.parse(s.out);
      expect(rep.edge).to.equal(p.edge);
      expect(rep.inShape).to.deep.equal(p.inShape);
      const m = await cli('materialize', spliced, '-o', deploy);
      expect(m.code, m.err).to.equal(0);
      const [orig, train, dep] = [await runSeeded(src), await runSeeded(spliced), await runSeeded(deploy)];
      for (const o of [train, dep]) {
        expect(o.score!.dims).to.deep.equal(orig.score!.dims);
        expect(o.score!.data.every(Number.isFinite)).to.equal(true);
      }
      const e = await cli('equiv', spliced, deploy);
      expect(e.code, e.out + e.err).to.equal(0);
      const mirror = await cli('equiv', deploy, '--mirror');
      expect(mirror.code, mirror.out + mirror.err).to.equal(0);
    });
  }
});
