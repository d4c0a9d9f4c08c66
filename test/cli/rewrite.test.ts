import { expect } from 'chai';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { main } from '../../src/cli/main.js';
import { Model } from '../../src/ir/model.js';
import { PATCH_METADATA_KEY, recordedPatches } from '../../src/rewrite/patch.js';
import { TempDirs } from '../helpers/temp-dir.js';
import { FIXTURE_MODELS } from '../helpers/test-data.js';
import { randomInput, runValues } from '../rewrite/ort-values.js';

const RESNET = path.join(FIXTURE_MODELS, 'resnet18_iqa.onnx');
const STATIC = path.join(FIXTURE_MODELS, 'resnet18_iqa_static.onnx');

async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(['node', 'iqa-surgeon', ...args], { out: (s) => (out += s), err: (s) => (err += s) });
  return { code, out, err };
}

describe('cli rewrite commands', () => {
  const temps = new TempDirs('cli-rewrite');
  after(() => temps.cleanup());

  it('extract, rename, set-shape, replace-op, remove, fold, cleanup write validated models that record the step', async () => {
    const d = temps.make();
    const o = (n: string): string => path.join(d, n);
    const runs: [string[], RegExp][] = [
      [['extract', RESNET, '--inputs', '/layer2/layer2.1/relu_1/Relu_output_0', '--outputs', '/layer3/layer3.1/relu_1/Relu_output_0', '-o', o('ex.onnx')], /kept 11 of 49 nodes/],
      [['rename', RESNET, '--map', 'input=image,score=quality', '-o', o('rn.onnx')], /renamed graph input 'input' to 'image'/],
      [['set-shape', RESNET, '--input', 'input=batch,3,96,128', '-o', o('ss.onnx')], /input 'input': \[batch,3,64,64\] -> \[batch,3,96,128\]/],
      [['replace-op', RESNET, '--op', 'Relu', '--with', 'LeakyRelu[alpha=0.01]', '--where', 'stage:layer4', '-o', o('ro.onnx')], /selected 4 Relu nodes in stage 4 'layer4'/],
      [['remove', RESNET, '--node', '/layer4/layer4.1/relu_1/Relu', '-o', o('rm.onnx')], /removed node '\/layer4\/layer4.1\/relu_1\/Relu' \(Relu\)/],
      [['fold', RESNET, '-o', o('fo.onnx')], /nothing to fold/],
      [['cleanup', RESNET, '-o', o('cl.onnx')], /nothing to clean up/],
    ];
    for (const [args, re] of runs) {
      const r = await cli(...args);
      // stderr: only the one line of the validation session's memory estimate (issue 11, defect 5)
      expect(r.err, args[0]).to.match(/^iqa-surgeon: estimated ONNX Runtime memory for the validation session: [^\n]*; limit [^\n]*\)\n$/);
      expect(r.code, args[0]).to.equal(0);
      expect(r.out).to.match(re).and.contain('validated: graph, node order, types and shapes, ONNX Runtime session').and.contain(`wrote ${args[args.length - 1]}`);
      const rec = recordedPatches(Model.load(args[args.length - 1]!));
      expect(rec).to.have.length(1);
      expect(rec[0]!.source).to.equal('command line');
      expect(rec[0]!.steps[0]!.op).to.equal(args[0]);
    }
    const out = await runValues(Model.load(o('ss.onnx')), { input: randomInput([2, 3, 96, 128]) });
    expect(out.score!.dims).to.deep.equal([2, 1]);
  });

  it('apply runs a YAML patch; --dry-run prints the changes and writes nothing; --json gives iqa-surgeon/rewrite@1', async () => {
    const d = temps.make();
    const patch = path.join(d, 'smooth.yaml');
    writeFileSync(patch, 'description: SiLU in layer4\nsteps:\n  - replace-op: { op: Relu, with: SiLU, where: layer4 }\n  - rename: { map: { score: quality } }\n');
    const dry = await cli('apply', RESNET, patch, '--dry-run');
    expect(dry.code).to.equal(0);
    expect(dry.out).to.contain('step 1/2: replace-op Relu -> SiLU where layer4').and.contain("step 2/2: rename score=quality").and.contain('dry run: nothing written');
    expect(readdirSync(d)).to.deep.equal(['smooth.yaml']);
    const out = path.join(d, 'out.onnx');
    const r = await cli('apply', RESNET, patch, '-o', out, '--json');
    expect(r.code).to.equal(0);
    const j = JSON.parse(r.out);
    expect(j.schema).to.equal('iqa-surgeon/rewrite@1');
    expect(j.output).to.equal(out);
    expect(j.steps.map((s: { step: { op: string } }) => s.step.op)).to.deep.equal(['replace-op', 'rename']);
    const m = Model.load(out);
    expect(m.graph.outputs[0]!.name).to.equal('quality');
    const rec = JSON.parse(m.metadata().get(PATCH_METADATA_KEY)!);
    expect(rec[0].source).to.equal('smooth.yaml');
    expect(rec[0].description).to.equal('SiLU in layer4');
  });

  it('a patch with a failing step leaves no output file: exit 3 for a failed check, 1 for bad arguments', async () => {
    const d = temps.make();
    const failing = path.join(d, 'failing.json');
    writeFileSync(failing, JSON.stringify({ steps: [{ rename: { map: { score: 'quality' } } }, { 'set-shape': { input: 'input=1,3,96,128' } }] }));
    const out = path.join(d, 'out.onnx');
    const r = await cli('apply', STATIC, failing, '-o', out);
    expect(r.code).to.equal(3);
    expect(r.err).to.match(/^iqa-surgeon: check failed: step 2 of 2 \(set-shape\): the model cannot take the new input shape at node '\/fc\/Gemm'/);
    expect(r.out).to.contain('step 1/2: rename score=quality');
    expect(existsSync(out)).to.equal(false);
    const badArg = path.join(d, 'bad.yaml');
    writeFileSync(badArg, '- cleanup: {}\n- remove: { node: nope }\n');
    const r2 = await cli('apply', RESNET, badArg, '-o', out);
    expect(r2.code).to.equal(1);
    expect(r2.err).to.equal("iqa-surgeon: error: step 2 of 2 (remove): no node named 'nope'\n");
    expect(readdirSync(d).sort()).to.deep.equal(['bad.yaml', 'failing.json']);
  });

  it('usage errors exit 1: missing -o, output equal to input, unknown node, unreadable patch', async () => {
    const d = temps.make();
    expect((await cli('cleanup', RESNET)).err).to.match(/give -o <output.onnx>/);
    const same = await cli('cleanup', RESNET, '-o', RESNET);
    expect(same.code).to.equal(1);
    expect(same.err).to.contain('is the input model');
    const node = await cli('remove', RESNET, '--node', '/nope', '-o', path.join(d, 'x.onnx'));
    expect(node.code).to.equal(1);
    expect(node.err).to.equal("iqa-surgeon: error: remove: no node named '/nope'\n");
    const spec = await cli('replace-op', RESNET, '--op', 'Relu', '--with', 'Elu[alpha=x y]', '-o', path.join(d, 'x.onnx'));
    expect(spec.code).to.equal(1);
    const missing = await cli('apply', RESNET, path.join(d, 'none.yaml'), '-o', path.join(d, 'x.onnx'));
    expect(missing.code).to.equal(1);
    expect(missing.err).to.match(/patch file '.*none\.yaml' does not exist/);
    expect(readdirSync(d)).to.deep.equal([]);
  });
});
