import { expect } from 'chai';
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { cli } from '../helpers/cli.js';
import { Model } from '../../src/ir/model.js';
import { runSeeded } from '../helpers/ort-compare.js';
import { TempDirs } from '../helpers/temp-dir.js';
import { requireBuild } from '../helpers/test-data.js';

const RESNET = path.resolve('fixtures/models/resnet18_iqa.onnx');
const LINEARITY = path.resolve('fixtures/models/linearity_iqa.onnx');


describe('cli', () => {
  const temps = new TempDirs('cli');
  after(() => temps.cleanup());

  describe('inspect', () => {
    it('prints the iqa-surgeon/inspect@1 report', async () => {
      const r = await cli('inspect', LINEARITY, '--json');
      expect(r.code).to.equal(0);
      const j = JSON.parse(r.out);
      expect(j.schema).to.equal('iqa-surgeon/inspect@1');
      expect(j.irVersion).to.equal(7);
      expect(j.opsets).to.deep.equal([{ domain: '', version: 13 }]);
      expect(j.producer).to.deep.equal({ name: 'pytorch', version: '1.13.0' });
      expect(j.inputs).to.deep.equal([{ name: 'input', elemType: 'float32', shape: ['batch', 3, 64, 96] }]);
      expect(j.outputs).to.deep.equal([{ name: 'score', elemType: 'float32', shape: ['batch', 1] }]);
      expect(j.ops).to.deep.equal({ Conv: 20, Relu: 17, Add: 8, Gemm: 3, Flatten: 2, GlobalAveragePool: 2, Concat: 1, MaxPool: 1 });
      expect(j.nodes).to.equal(54);
      const model = Model.load(LINEARITY);
      const params = model.graph.initializers().reduce((a, v) => a + (v.initializer!.dims ?? []).reduce((x: number, d) => x * Number(d), 1), 0);
      expect(j.params).to.equal(params);
      expect(j.macs).to.be.greaterThan(4e6).and.lessThan(6e6);
      expect(j.externalData).to.deep.equal({ tensors: 0, bytes: 0, files: [] });
    });

    it('counts MACs for the given input shape', async () => {
      const small = JSON.parse((await cli('inspect', LINEARITY, '--json')).out).macs;
      const big = JSON.parse((await cli('inspect', LINEARITY, '--json', '--input-shape', '1,3,128,192')).out).macs;
      expect(big).to.be.closeTo(small * 4, small * 0.01);
    });

    it('prints a readable summary', async () => {
      const r = await cli('inspect', RESNET);
      expect(r.code).to.equal(0);
      expect(r.out).to.match(/ir_version\s+7/).and.match(/opsets\s+ai\.onnx 13/).and.match(/Conv\s+20/).and.match(/MACs\s+/);
    });

    it('bad usage and bad values exit 1 with one line', async () => {
      const missing = await cli('inspect', '/nonexistent/model.onnx');
      expect(missing.code).to.equal(1);
      expect(missing.err).to.equal("iqa-surgeon: error: model file '/nonexistent/model.onnx' does not exist\n");
      const shape = await cli('inspect', RESNET, '--input-shape', '1,3,x!');
      expect(shape.code).to.equal(1);
      expect(shape.err).to.match(/^iqa-surgeon: error: --input-shape '1,3,x!'/);
      const unknown = await cli('frobnicate');
      expect(unknown.code).to.equal(1);
      expect(unknown.err).to.contain("unknown command 'frobnicate'");
    });
  });

  describe('stages', () => {
    it('prints the iqa-surgeon/stages@1 map', async () => {
      const r = await cli('stages', RESNET, '--input-shape', '1,3,64,64', '--json');
      expect(r.code).to.equal(0);
      const j = JSON.parse(r.out);
      expect(j.schema).to.equal('iqa-surgeon/stages@1');
      expect(j.stages.map((s: { name: string }) => s.name)).to.deep.equal(['stem', 'layer1', 'layer2', 'layer3', 'layer4']);
      expect(Object.keys(j.stages[0]).sort()).to.deep.equal(['branch', 'convs', 'edge', 'index', 'inputEdge', 'macs', 'name', 'params', 'residualJoins', 'shape']);
      expect(j.branches).to.deep.equal([{ name: 'main', from: 'input', stages: [0, 1, 2, 3, 4] }]);
      expect(j.joins).to.deep.equal([]);
    });

    it('refuses an input shape that contradicts the model', async () => {
      const r = await cli('stages', RESNET, '--input-shape', '1,3,64,64,2');
      expect(r.code).to.equal(1);
      expect(r.err.trim().split('\n')).to.have.length(1);
    });
  });

  describe('convert', () => {
    it('round-trips a model byte for byte, and to external data and back', async () => {
      const dir = temps.make();
      const a = path.join(dir, 'a.onnx');
      expect((await cli('convert', RESNET, '-o', a)).code).to.equal(0);
      expect(Buffer.compare(readFileSync(a), readFileSync(RESNET))).to.equal(0);

      const b = path.join(dir, 'b.onnx');
      const r = await cli('convert', RESNET, '-o', b, '--external-data', '--json');
      expect(r.code).to.equal(0);
      const j = JSON.parse(r.out);
      expect(j.externalDataFile).to.equal(`${b}.data`);
      expect(j.externalTensors).to.be.greaterThan(10);
      expect(statSync(b).size).to.be.lessThan(60_000);
      const [x, y] = await Promise.all([runSeeded(RESNET), runSeeded(b)]);
      expect(Array.from(y.score!.data)).to.deep.equal(Array.from(x.score!.data));

      const c = path.join(dir, 'c.onnx');
      expect((await cli('convert', b, '-o', c, '--inline')).code).to.equal(0);
      expect(Buffer.compare(readFileSync(c), readFileSync(RESNET))).to.equal(0);
    });

    it('refuses to overwrite its input and leaves it untouched', async () => {
      const dir = temps.make();
      const m = path.join(dir, 'm.onnx');
      writeFileSync(m, readFileSync(RESNET));
      const r = await cli('convert', m, '-o', m);
      expect(r.code).to.equal(1);
      expect(r.err).to.match(/refusing to overwrite/);
      expect(Buffer.compare(readFileSync(m), readFileSync(RESNET))).to.equal(0);
    });
  });

  describe('the installed launcher', () => {
    it('exits with the status of the table (0, 1) and prints no stack', function () {
      const bin = path.resolve('bin/iqa-surgeon.js');
      requireBuild();
      expect(execFileSync(process.execPath, [bin, '--version'], { encoding: 'utf8' }).trim()).to.equal(JSON.parse(readFileSync('package.json', 'utf8')).version);
      const bad = spawnSync(process.execPath, [bin, 'inspect', 'package.json'], { encoding: 'utf8' });
      expect(bad.status).to.equal(1);
      expect(bad.stderr).to.match(/^iqa-surgeon: error: .*looks like text/);
      expect(bad.stderr).to.not.match(/\n\s+at /);
    });
  });
});
