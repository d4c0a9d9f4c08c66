/**
 * Issue 12, item 5, beyond the plain positions (test/cli/seed-paper-positions.test.ts splices each
 * seed-style export at the paper's position by name): the ways a user fixes the input first
 * (`--input-shape` with a batch, `set-shape`), then `splice`, `materialize`, ONNX Runtime (the
 * original output shape, finite scores that the block changed), `equiv` of the trainable and the
 * materialized file, and `equiv --mirror` of the materialized one. DBCNN with both branches: the
 * S-CNN edge alone breaks the bilinear join (named, with the VGG edge to splice too), both branches
 * need `--post-activation` because of DBCNN's sqrt(x + 1e-8), and `none` there gives NaN scores
 * that `equiv` fails.
 */
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Model } from '../../src/ir/model.js';
import { withRunner } from '../../src/runtime/session.js';
import { cli } from '../helpers/cli.js';
import { TempDirs } from '../helpers/temp-dir.js';
import { SEED_MODELS } from '../helpers/test-data.js';

interface Expected {
  input_shape: number[];
  input: number[];
  output: number[];
}

const file = (name: string): string => path.join(SEED_MODELS, `${name}.onnx`);

/** The recorded input at batch `n` (the same image n times), and the model's score output. */
async function scores(model: string, name: string, n: number): Promise<{ dims: number[]; data: Float32Array }> {
  const exp = JSON.parse(readFileSync(path.join(SEED_MODELS, `${name}.expected.json`), 'utf8')) as Expected;
  const x = new Float32Array(exp.input.length * n);
  for (let b = 0; b < n; b++) x.set(exp.input, b * exp.input.length);
  const out = await withRunner(Model.load(model), {}, (r) => r.run({ input: { elemType: 1, dims: [n, ...exp.input_shape.slice(1)], data: x } }));
  return { dims: out.score!.dims, data: out.score!.data as Float32Array };
}

function ok(r: { code: number; out: string; err: string }): string {
  expect(r.code, r.err).to.equal(0);
  return r.out;
}

function oneLineError(r: { code: number; err: string }): string {
  expect(r.code, r.err).to.equal(1);
  const lines = r.err.trim().split('\n');
  expect(lines, r.err).to.have.length(1);
  return lines[0]!;
}

describe('surgery: the four seed-style models spliced at the paper positions (issue 12)', function () {
  this.timeout(600_000);
  const tmp = new TempDirs('seed-positions');
  after(() => tmp.cleanup());

  /** splice (with `args`), materialize, ORT, equiv of both forms, equiv --mirror; returns the splice report's blocks. */
  async function spliceAndCheck(name: string, model: string, args: string[], batch: number): Promise<{ edge: string; inShape: number[]; outShape: number[] }[]> {
    const dir = tmp.make(name);
    const spliced = path.join(dir, 'spliced.onnx');
    const mat = path.join(dir, 'materialized.onnx');
    const rep = JSON.parse(ok(await cli('splice', model, '-o', spliced, '--json', ...args))) as { blocks?: { edge: string; inShape: number[]; outShape: number[] }[]; edge: string; inShape: number[]; outShape: number[] };
    ok(await cli('materialize', spliced, '-o', mat));
    const before = await scores(file(name), name, batch);
    for (const f of [spliced, mat]) {
      const after = await scores(f, name, batch);
      expect(after.dims).to.deep.equal(before.dims);
      expect(Array.from(after.data).every(Number.isFinite)).to.equal(true);
      // the block is in the path: the score moved
      expect(Math.abs(after.data[0]! - before.data[0]!)).to.be.greaterThan(1e-6 * Math.max(1, Math.abs(before.data[0]!)));
    }
    ok(await cli('equiv', spliced, mat));
    ok(await cli('equiv', mat, '--mirror'));
    return rep.blocks ?? [rep];
  }

  it('Linearity (ResNet-50, two heads): after layer3 (stage features.6), --input-shape fixing batch 2', async () => {
    const blocks = await spliceAndCheck('linearity_r50', file('linearity_r50'), ['--stage', 'features.6', '--input-shape', '2,3,96,128'], 2);
    expect(blocks.map((b) => [b.edge, b.inShape, b.outShape])).to.deep.equal([['/features.6/features.6.5/relu_2/Relu_output_0', [96, 6, 8], [96, 6, 6]]]);
  });

  it('KonCept512 (Inception-ResNet-v2): after block8 (--after base.13, before conv2d_7b), after set-shape', async () => {
    const dir = tmp.make('koncept-shape');
    const fixed = path.join(dir, 'koncept_static.onnx');
    ok(await cli('set-shape', file('koncept_irv2'), '--input', 'input=1,3,192,256', '-o', fixed));
    const blocks = await spliceAndCheck('koncept_irv2', fixed, ['--after', 'base.13'], 1);
    expect(blocks.map((b) => [b.edge, b.inShape, b.outShape])).to.deep.equal([['/base/base.13/Add_output_0', [260, 4, 6], [260, 4, 4]]]);
  });

  it('DBCNN: the S-CNN edge alone breaks the join (named, with the VGG edge); both branches need --post-activation (sqrt); relu works, none gives NaN that equiv fails', async () => {
    const dbcnn = file('dbcnn_vgg16_scnn');
    const dir = tmp.make('dbcnn-join');
    const vgg = '/features1/features1.29/Relu_output_0';
    const alone = oneLineError(await cli('splice', dbcnn, '-o', path.join(dir, 'x.onnx'), '--edge', '/Resize_output_0'));
    expect(alone).to.contain("join node '/Reshape_1'").and.contain(`--edge '${vgg}'`).and.contain('--restore-size');
    // the VGG branch's last stage is that edge
    const domain = oneLineError(await cli('splice', dbcnn, '-o', path.join(dir, 'x.onnx'), '--stage', 'features1.block5', '--edge', '/Resize_output_0'));
    expect(domain).to.contain("node '/Sqrt' (Sqrt)").and.contain('--post-activation relu');
    const blocks = await spliceAndCheck('dbcnn_vgg16_scnn', dbcnn, ['--stage', 'features1.block5', '--edge', '/Resize_output_0', '--post-activation', 'relu'], 2);
    expect(blocks.map((b) => b.edge)).to.deep.equal([vgg, '/Resize_output_0']);
    expect(blocks.map((b) => [b.inShape, b.outShape])).to.deep.equal([
      [
        [64, 6, 8],
        [64, 6, 6],
      ],
      [
        [32, 6, 6],
        [32, 6, 6],
      ],
    ]);
    const none = path.join(dir, 'none.onnx');
    ok(await cli('splice', dbcnn, '-o', none, '--edge', '/Resize_output_0', '--restore-size', '--post-activation', 'none'));
    const s = await scores(none, 'dbcnn_vgg16_scnn', 1);
    expect(Number.isNaN(s.data[0]!)).to.equal(true);
    const eq = await cli('equiv', none);
    expect(eq.code).to.equal(3);
    expect(eq.err).to.match(/NaN\/Inf/);
  });
});
