import { expect } from 'chai';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseCsv } from '../../src/data/csv.js';
import { listDataset, parseDatasetSpec } from '../../src/data/dataset.js';
import { DISTORTION_TYPES, LEVELS } from '../../src/data/distort.js';
import { decodeImage } from '../../src/data/image.js';
import { makeDefaultDataset, ssimToMos, VARIANTS_PER_SCENE } from '../../src/data/make-default.js';
import { ssim } from '../../src/data/ssim.js';
import { PathError } from '../../src/errors.js';
import { TempDirs } from '../helpers/temp-dir.js';

function filesOf(dir: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out.set(path.relative(dir, p), readFileSync(p));
    }
  };
  walk(dir);
  return out;
}

describe('data/make-default (the embedded synthetic dataset)', () => {
  const temps = new TempDirs('make-default');
  after(() => temps.cleanup());
  // four scenes: every scene style (dead-leaves, gradient-edges, dead-leaves, mixed)
  const SIZE = 4 * VARIANTS_PER_SCENE;
  let a: string;

  before(async function () {
    a = path.join(temps.make('a'), 'ds');
    await makeDefaultDataset({ out: a, size: SIZE, seed: 7 });
  });

  it('writes the generic folder + CSV format that the csv spec reads', () => {
    const ds = listDataset(parseDatasetSpec(a));
    expect(ds.spec.kind).to.equal('csv');
    expect(ds.items).to.have.length(SIZE);
    expect(ds.items.every((i) => existsSync(i.path) && i.mos! >= 1 && i.mos! <= 5)).to.equal(true);
    const manifest = JSON.parse(readFileSync(path.join(a, 'manifest.json'), 'utf8'));
    expect(manifest).to.include({ schema: 'iqa-surgeon/default-dataset@1', seed: 7, size: SIZE, width: 256, height: 192 });
    expect(readdirSync(path.dirname(a))).to.deep.equal(['ds']); // no temporary folder left
  });

  it('is deterministic: the same seed gives the same bytes, another seed other images', async function () {
    const b = path.join(temps.make('b'), 'ds');
    await makeDefaultDataset({ out: b, size: SIZE, seed: 7 });
    const fa = filesOf(a);
    const fb = filesOf(b);
    expect([...fb.keys()].sort()).to.deep.equal([...fa.keys()].sort());
    for (const [k, v] of fa) expect(fb.get(k)!.equals(v), k).to.equal(true);
    const c = path.join(temps.make('c'), 'ds');
    await makeDefaultDataset({ out: c, size: VARIANTS_PER_SCENE, seed: 8 });
    expect(readFileSync(path.join(c, 'images/s0000_ref.png')).equals(fa.get('images/s0000_ref.png')!)).to.equal(false);
  });

  it('scores fall with the distortion level, for every scene and distortion', () => {
    const rows = parseCsv(readFileSync(path.join(a, 'scores.csv'), 'utf8'));
    const header = rows[0]!.fields;
    const recs = rows.slice(1).map((r) => Object.fromEntries(header.map((h, i) => [h, r.fields[i]!])));
    expect(recs).to.have.length(SIZE);
    for (let scene = 0; scene < 4; scene++) {
      const ref = recs.find((r) => r.scene === String(scene) && r.distortion === 'none')!;
      expect(Number(ref.mos)).to.equal(5);
      for (const t of DISTORTION_TYPES) {
        const mos = Array.from({ length: LEVELS }, (_, l) => Number(recs.find((r) => r.scene === String(scene) && r.distortion === t && r.level === String(l + 1))!.mos));
        expect(mos[0], `scene ${scene} ${t}`).to.be.lessThan(5);
        for (let l = 1; l < LEVELS; l++) expect(mos[l], `scene ${scene} ${t} level ${l + 1}: ${mos.join(' ')}`).to.be.lessThan(mos[l - 1]!);
      }
    }
  });

  it('the scores are the SSIM of the written image against its written pristine image', async () => {
    const ref = await decodeImage(path.join(a, 'images/s0001_ref.png'));
    const rows = parseCsv(readFileSync(path.join(a, 'scores.csv'), 'utf8'));
    for (const name of ['s0001_blur3', 's0001_noise2', 's0001_jpeg5', 's0001_contrast4']) {
      const row = rows.find((r) => r.fields[0] === `images/${name}.png`)!;
      const s = ssim(ref, await decodeImage(path.join(a, `images/${name}.png`)));
      expect(Number(row.fields[2])).to.be.closeTo(s, 1e-6);
      expect(Number(row.fields[1])).to.be.closeTo(ssimToMos(s), 1e-4);
    }
  });

  it('refuses a non-empty output folder and a missing parent', async () => {
    const d = temps.make('busy');
    writeFileSync(path.join(d, 'x'), '');
    const err = await makeDefaultDataset({ out: d, size: 1 }).then(() => undefined, (e: unknown) => e);
    expect(err).to.be.instanceOf(PathError);
    expect((err as Error).message).to.match(/is not empty; give a new or empty folder/);
    const err2 = await makeDefaultDataset({ out: path.join(d, 'no/such/dir'), size: 1 }).then(() => undefined, (e: unknown) => e);
    expect((err2 as Error).message).to.match(/does not exist/);
    const empty = path.join(d, 'empty');
    mkdirSync(empty);
    // a temporary folder left by a killed run (its process is gone) is swept
    mkdirSync(path.join(d, '.empty.2147483646.0123abcd.tmp/images'), { recursive: true });
    const r = await makeDefaultDataset({ out: empty, size: 2 });
    expect(r.images).to.equal(2);
    expect(readdirSync(d).sort()).to.deep.equal(['empty', 'x']);
  });
});
