/**
 * `iqa-surgeon attack`: attacked PNGs beside the clean ones in the documented folders, within the
 * budget when read back from the files, a UAP saved as .npy (loadable, reusable) and as a PNG, and
 * scores from ONNX Runtime that PGD raises.
 */
import { expect } from 'chai';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { decodeNpy, encodeNpy } from '../../src/attacks/npy.js';
import { makeDefaultDataset } from '../../src/data/make-default.js';
import { UserError } from '../../src/errors.js';
import { cli } from '../helpers/cli.js';
import { TempDirs } from '../helpers/temp-dir.js';

const temps = new TempDirs('attack-cli');
after(() => temps.cleanup());

async function pixels(file: string): Promise<Uint8Array> {
  return new Uint8Array(await sharp(file).raw().toBuffer());
}

describe('attacks/npy', () => {
  it('round-trips float32 tensors in NumPy .npy format (header padded to 64 bytes) and refuses other dtypes', () => {
    const t = Float32Array.from([1.5, -2, 0.25, 3, 4, 5]);
    const bytes = encodeNpy([3, 1, 2], t);
    expect(Buffer.from(bytes.subarray(0, 6)).toString('latin1')).to.equal('\x93NUMPY');
    expect((10 + Buffer.from(bytes).readUInt16LE(8)) % 64).to.equal(0);
    const back = decodeNpy(bytes);
    expect(back.dims).to.deep.equal([3, 1, 2]);
    expect(Array.from(back.data)).to.deep.equal(Array.from(t));
    const f8 = Buffer.from(bytes);
    f8.write("'<f8'", f8.indexOf("'<f4'"), 'latin1');
    expect(() => decodeNpy(f8)).to.throw(UserError, /not float32/);
    expect(() => decodeNpy(new Uint8Array(20))).to.throw(UserError, /not a NumPy/);
  });
});

describe('cli: attack', function () {
  this.timeout(900_000);
  let data: string;
  before(async () => {
    data = path.join(temps.make('data'), 'd');
    await makeDefaultDataset({ out: data, size: 12, seed: 2 });
  });

  it('pgd writes clean/ and pgd-<k>-eps<e>/ PNGs within the budget, and raises the ONNX Runtime score', async () => {
    const out = temps.make('pgd');
    const r = await cli('attack', 'graphs/linearity_r18w16.onnx', '--attack', 'pgd', '--eps', '4', '--iters', '2', '--data', data, '--max-images', '3', '--save-float', '--out', out, '--json');
    expect(r.code, r.err).to.equal(0);
    const j = JSON.parse(r.out);
    expect(j.schema).to.equal('iqa-surgeon/attack@1');
    expect(j.runs.map((x: { run: string }) => x.run)).to.deep.equal(['pgd-2-eps4']);
    expect(j.runs[0].meanAttacked).to.be.greaterThan(j.runs[0].meanClean);
    const stems = ['clean', 'pgd-2-eps4'].map((d) => path.join(out, d));
    const files = (await import('node:fs')).readdirSync(stems[0]!).filter((f) => f.endsWith('.png')).sort();
    expect(files).to.have.length(3);
    for (const f of files) {
      const a = await pixels(path.join(stems[0]!, f));
      const b = await pixels(path.join(stems[1]!, f));
      let m = 0;
      for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
      expect(m, f).to.be.at.most(4); // 4/255 on 8-bit pixels
      expect(m, f).to.be.greaterThan(0);
      expect(existsSync(path.join(stems[1]!, f.replace(/\.png$/, '.npy')))).to.equal(true);
    }
  });

  it('an ort attack takes the clean scores from its first gradient step (equal to the scorer\'s), and --batch splits the images without changing the result', async () => {
    const run = async (...args: string[]): Promise<{ cleanScoresFrom: string; runs: { meanClean: number; meanAttacked: number }[] }> => {
      const r = await cli('attack', 'graphs/linearity_r18w16.onnx', '--engine', 'ort', '--data', data, '--max-images', '3', '--json', ...args);
      expect(r.code, r.err).to.equal(0);
      return JSON.parse(r.out);
    };
    const outA = temps.make('batch8');
    const outB = temps.make('batch2');
    const a = await run('--attack', 'pgd', '--eps', '4', '--iters', '2', '--out', outA);
    const b = await run('--attack', 'pgd', '--eps', '4', '--iters', '2', '--batch', '2', '--out', outB);
    // stAdv starts from the clean images too, but its clean scores come from the ONNX Runtime scorer
    const c = await run('--attack', 'stadv', '--stadv-iterations', '1', '--out', temps.make('stadv'));
    expect(a.cleanScoresFrom).to.equal('first-gradient-step');
    expect(c.cleanScoresFrom).to.equal('scorer');
    const ref = c.runs[0]!.meanClean;
    expect(Math.abs(a.runs[0]!.meanClean - ref)).to.be.at.most(1e-5 * Math.max(1, Math.abs(ref)));
    expect(Math.abs(b.runs[0]!.meanClean - ref)).to.be.at.most(1e-5 * Math.max(1, Math.abs(ref)));
    expect(Math.abs(b.runs[0]!.meanAttacked - a.runs[0]!.meanAttacked)).to.be.at.most(1e-3 * Math.max(1, Math.abs(a.runs[0]!.meanAttacked)));
    // the same attacked images whatever the batching (a pixel may differ where a gradient is ~0)
    const names = readdirSync(path.join(outA, 'pgd-2-eps4')).filter((x) => x.endsWith('.png'));
    expect(names).to.have.length(3);
    for (const f of names) {
      const pa = await pixels(path.join(outA, 'pgd-2-eps4', f));
      const pb = await pixels(path.join(outB, 'pgd-2-eps4', f));
      let differ = 0;
      for (let i = 0; i < pa.length; i++) if (pa[i] !== pb[i]) differ++;
      expect(differ / pa.length, f).to.be.at.most(0.01);
    }
  });

  it('uap saves its perturbation (.npy within eps, and a PNG) and reuses a saved one', async () => {
    const out = temps.make('uap');
    const r = await cli('attack', 'graphs/linearity_r18w16.onnx', '--attack', 'uap', '--eps', '8', '--uap-epochs', '1', '--data', data, '--max-images', '3', '--out', out);
    expect(r.code, r.err).to.equal(0);
    const npyFile = path.join(out, 'uap-eps8', 'perturbation.npy');
    const u = decodeNpy(readFileSync(npyFile));
    expect(u.dims).to.deep.equal([3, 96, 128]);
    expect(Math.max(...Array.from(u.data, Math.abs))).to.be.at.most(8 / 255 + 1e-7);
    expect(existsSync(path.join(out, 'uap-eps8', 'perturbation.png'))).to.equal(true);
    const again = temps.make('uap2');
    const r2 = await cli('attack', 'graphs/linearity_r18w16.onnx', '--attack', 'uap', '--eps', '8', '--uap', npyFile, '--data', data, '--max-images', '3', '--out', again, '--json');
    expect(r2.code, r2.err).to.equal(0);
    const u2 = decodeNpy(readFileSync(path.join(again, 'uap-eps8', 'perturbation.npy')));
    expect(Array.from(u2.data)).to.deep.equal(Array.from(u.data));
  });

  it('--lower-is-better turns "raise the quality" into lowering the score; --score-reduce is checked against the output', async () => {
    const out = temps.make('lib');
    const r = await cli('attack', 'graphs/linearity_r18w16.onnx', '--attack', 'fgsm', '--eps', '4', '--lower-is-better', '--data', data, '--max-images', '2', '--out', out, '--json');
    expect(r.code, r.err).to.equal(0);
    const run = JSON.parse(r.out).runs[0];
    expect(run.meanAttacked).to.be.lessThan(run.meanClean);
    const bad = await cli('attack', 'graphs/linearity_r18w16.onnx', '--attack', 'fgsm', '--eps', '4', '--score-reduce', 'expectation:5', '--data', data, '--max-images', '2', '--out', out);
    expect(bad.code).to.equal(1);
    expect(bad.err).to.match(/has 1 values per image, not the 5 bins/);
  });

  it('refuses a bad attack, eps list or UAP file with one line and exit 1', async () => {
    const out = temps.make('bad');
    for (const [args, re] of [
      [['--attack', 'cw'], /--attack must be fgsm, pgd, uap, stadv/],
      [['--attack', 'pgd', '--eps', '1,x'], /--eps '1,x' must be comma-separated numbers/],
      [['--attack', 'pgd', '--iters', '0'], /--iters '0' must be comma-separated integers in \[1, 1000\]/],
      [['--attack', 'uap', '--uap', '/dev/zero'], /UAP file '\/dev\/zero' is not a regular file/],
      [['--attack', 'pgd', '--batch', '0'], /--batch/],
      [['--attack', 'pgd', '--batch', '257'], /--batch/],
    ] as const) {
      const r = await cli('attack', 'graphs/linearity_r18w16.onnx', ...args, '--data', data, '--max-images', '2', '--out', out);
      expect(r.code, r.err).to.equal(1);
      expect(r.err.trim().split('\n').filter((l) => l.startsWith('iqa-surgeon: error'))).to.have.length(1);
      expect(r.err).to.match(re);
    }
  });
});
