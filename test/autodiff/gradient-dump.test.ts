/**
 * scripts/dump-gradient-graphs.ts (src/bench/gradient-dump.ts): the dumped gradient graphs of the
 * default graphs and of a spliced RobustBlock (Schur inverse) load in ONNX Runtime through
 * src/runtime, run when fed only the image and the cotangents (the trained parameters take their
 * initializer defaults), and their loss, outputs and gradients equal the ort engine's on the same
 * feeds (relative L2 <= 1e-4; a gradient 5% off fails that bound). The parameters are graph
 * inputs with an initializer of the same name; the metadata names the gradient outputs.
 */
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { GRADIENT_OUTPUTS_KEY, type DumpedGraph } from '../../src/bench/gradient-dump.js';
import type { HostTensor } from '../../src/differentiable/model.js';
import { OrtEngine } from '../../src/engines/ort-engine.js';
import { Model } from '../../src/ir/model.js';
import { openRunner } from '../../src/runtime/index.js';
import { TempDirs } from '../helpers/temp-dir.js';
import { randn, relL2 } from './harness.js';

const temps = new TempDirs('gradient-dump');
after(() => temps.cleanup());

const TOL = 1e-4;
const X_DIMS = [2, 3, 96, 128];

describe('gradient graphs dumped for the CUDA check', function () {
  this.timeout(600_000);
  let dir: string;
  let manifest: DumpedGraph[];
  const forward = new Map<string, Model>();

  before(async () => {
    dir = temps.make('dump');
    // the script itself, as a user runs it
    execFileSync(process.execPath, ['--import', 'tsx', 'scripts/dump-gradient-graphs.ts', dir], { stdio: ['ignore', 'ignore', 'inherit'] });
    manifest = (JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as DumpedGraph[]).map((d) => ({ ...d, file: path.join(dir, d.file) }));
    const { defaultDumpModels } = await import('../../src/bench/gradient-dump.js');
    for (const { name, model } of await defaultDumpModels(process.cwd())) forward.set(name, model);
  });

  it('writes the input- and all-weight gradient graphs of both default graphs and of the spliced RobustBlock', () => {
    expect(manifest.map((d) => `${d.model}.${d.kind}`).sort()).to.deep.equal(
      ['dbcnn_vgg_bilinear', 'linearity_r18w16', 'linearity_r18w16.robust-block-schur'].flatMap((m) => [`${m}.input-grad`, `${m}.weight-grad`]).sort(),
    );
  });

  it('keeps each trained parameter as a graph input with an initializer default of the same name, and names the gradient outputs in metadata', () => {
    for (const d of manifest.filter((x) => x.kind === 'weight-grad')) {
      const m = Model.load(d.file);
      const g = m.proto.graph!;
      const inputs = new Set((g.input ?? []).map((i) => i.name));
      const inits = new Set((g.initializer ?? []).map((t) => t.name));
      expect(d.params.length, d.file).to.be.greaterThan(0);
      for (const p of d.params) {
        expect(inputs.has(p), `${d.file}: ${p} is an input`).to.equal(true);
        expect(inits.has(p), `${d.file}: ${p} has an initializer`).to.equal(true);
      }
      expect(Number(m.proto.ir_version)).to.be.at.least(4);
      const meta = JSON.parse(m.metadata().get(GRADIENT_OUTPUTS_KEY)!) as { paramGrads: Record<string, string>; cotangents: Record<string, string> };
      expect(Object.keys(meta.paramGrads).sort()).to.deep.equal([...d.params].sort());
      expect(d.feed.sort()).to.deep.equal(['input', ...Object.values(meta.cotangents)].sort());
    }
  });

  for (const kind of ['input-grad', 'weight-grad'] as const) {
    it(`${kind}: each dumped graph runs in ONNX Runtime on the image and cotangents alone, and equals the ort engine's gradients`, async () => {
      for (const d of manifest.filter((x) => x.kind === kind)) {
        const model = forward.get(d.model)!;
        const x: HostTensor = { dims: X_DIMS, data: Float32Array.from(randn(X_DIMS.reduce((a, b) => a * b, 1), 3), (v) => 0.5 * v) };
        const ct: HostTensor = { dims: [X_DIMS[0]!, 1], data: Float32Array.from([0.7, -1.3]) };
        const runner = await openRunner(d.file, { optimization: 'all' });
        let got: Record<string, Float32Array>;
        try {
          const feedName = Object.values(d.cotangents)[0]!;
          const res = await runner.run({ input: { elemType: 1, dims: x.dims, data: x.data as Float32Array }, [feedName]: { elemType: 1, dims: ct.dims, data: ct.data as Float32Array } });
          got = Object.fromEntries(Object.entries(res).map(([k, v]) => [k, v.data as Float32Array]));
        } finally {
          await runner.dispose();
        }
        const engine = await OrtEngine.create(model.clone(), kind === 'weight-grad' ? { trainable: ['all'] } : {});
        try {
          const ref = await engine.gradients({ input: x }, { score: ct }, kind === 'weight-grad' ? {} : { inputs: ['input'], params: [] });
          expect(Math.abs(got[d.fetch.loss]![0]! - ref.loss), `${d.file} loss`).to.be.at.most(TOL * Math.max(1, Math.abs(ref.loss)));
          expect(relL2(got[d.fetch.outputs.score!]!, ref.outputs.score!.data), `${d.file} score`).to.be.at.most(TOL);
          const pairs: [string, ArrayLike<number>][] =
            kind === 'input-grad' ? [[d.fetch.inputGrads.input!, ref.inputGrads.input!.data]] : d.params.map((p) => [d.fetch.paramGrads[p]!, ref.paramGrads[p]!.data]);
          expect(pairs.length).to.be.greaterThan(0);
          let worst = 0;
          for (const [name, want] of pairs) {
            const have = got[name];
            expect(have, `${d.file}: output ${name}`).to.not.equal(undefined);
            const e = relL2(have!, want);
            worst = Math.max(worst, e);
            expect(e, `${d.file}: ${name}`).to.be.at.most(TOL);
            // a gradient 5% off must fail the same bound
            expect(relL2(Float32Array.from(have!, (v) => v * 1.05), want), `${d.file}: ${name} x1.05`).to.be.greaterThan(TOL);
          }
          expect(worst).to.be.at.most(TOL);
        } finally {
          engine.dispose();
        }
      }
    });
  }
});
