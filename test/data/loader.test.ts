import { expect } from 'chai';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { listDataset, parseDatasetSpec, type DatasetItem } from '../../src/data/dataset.js';
import { decodeImage, encodePng, ImageError } from '../../src/data/image.js';
import { loadBatches, loadImageTensor } from '../../src/data/loader.js';
import { resolvePreprocess } from '../../src/data/preprocess.js';
import { renderScene } from '../../src/data/procedural.js';
import { TempDirs } from '../helpers/temp-dir.js';

const KONIQ = path.resolve('fixtures/koniq-mini');

describe('data/loader', () => {
  const temps = new TempDirs('loader');
  after(() => temps.cleanup());
  let dir: string;
  // a 4x2 image with distinct channel values: pixel i = (10i, 10i+1, 10i+2)
  const px = Uint8Array.from({ length: 4 * 2 * 3 }, (_, k) => 10 * Math.floor(k / 3) + (k % 3));
  before(async () => {
    dir = temps.make('img');
    writeFileSync(path.join(dir, 'small.png'), await encodePng({ width: 4, height: 2, data: px }));
  });

  it('decodes a PNG exactly', async () => {
    const img = await decodeImage(path.join(dir, 'small.png'));
    expect([img.width, img.height]).to.deep.equal([4, 2]);
    expect([...img.data]).to.deep.equal([...px]);
  });

  it('makes CHW float32 with range, mean/std and colour order applied', async () => {
    const base = { size: [2, 4] as [number, number], kernel: 'nearest' as const };
    const rgb = await loadImageTensor(path.join(dir, 'small.png'), resolvePreprocess(base, { range: [0, 1], mean: [0.5, 0.25, 0], std: [0.5, 0.25, 2] }));
    expect(rgb.length).to.equal(24);
    // channel R (c=0), pixel 3: (30/255 - 0.5) / 0.5
    expect(rgb[3]).to.be.closeTo((30 / 255 - 0.5) / 0.5, 1e-6);
    // channel G (c=1), pixel 5: (51/255 - 0.25) / 0.25
    expect(rgb[8 + 5]).to.be.closeTo((51 / 255 - 0.25) / 0.25, 1e-6);
    const bgr = await loadImageTensor(path.join(dir, 'small.png'), resolvePreprocess(base, { range: [0, 255], mean: [0, 0, 0], std: [1, 1, 1], colorOrder: 'BGR' }));
    expect([...bgr.slice(0, 8)]).to.deep.equal([2, 12, 22, 32, 42, 52, 62, 72]); // B first
    expect([...bgr.slice(16, 24)]).to.deep.equal([0, 10, 20, 30, 40, 50, 60, 70]); // R last
  });

  it('resizes to the spec size (fill or cover), grey and RGBA inputs become RGB', async () => {
    const scene = renderScene('dead-leaves', 64, 48, 3);
    const f = path.join(dir, 'scene.jpg');
    await sharp(scene.data, { raw: { width: 64, height: 48, channels: 3 } }).jpeg().toFile(f);
    for (const fit of ['fill', 'cover'] as const) {
      const t = await loadImageTensor(f, resolvePreprocess({ size: [24, 40], fit }));
      expect(t.length).to.equal(3 * 24 * 40);
      expect(t.every(Number.isFinite)).to.equal(true);
    }
    const g = path.join(dir, 'grey.png');
    await sharp(Buffer.alloc(16 * 16, 77), { raw: { width: 16, height: 16, channels: 1 } }).png().toFile(g);
    const grey = await decodeImage(g);
    expect(grey.data.length).to.equal(16 * 16 * 3);
    expect(grey.data.every((v) => v === 77)).to.equal(true);
    const a = path.join(dir, 'alpha.png');
    await sharp(Buffer.alloc(8 * 8 * 4, 200), { raw: { width: 8, height: 8, channels: 4 } }).png().toFile(a);
    expect((await decodeImage(a)).data.length).to.equal(8 * 8 * 3);
  });

  it('a missing, corrupt or truncated image is an ImageError naming the file', async () => {
    const missing = path.join(dir, 'nope.png');
    const junk = path.join(dir, 'junk.png');
    writeFileSync(junk, 'not an image at all');
    const good = readFileSync(path.join(KONIQ, '1024x768/10004473376.jpg'));
    const truncated = path.join(dir, 'truncated.jpg');
    writeFileSync(truncated, good.subarray(0, Math.floor(good.length / 2)));
    for (const [file, re] of [[missing, /does not exist/], [junk, /cannot be decoded/], [truncated, /cannot be decoded/]] as const) {
      const err = await decodeImage(file).then(() => undefined, (e: unknown) => e);
      expect(err, file).to.be.instanceOf(ImageError);
      expect((err as ImageError).message).to.contain(`'${file}'`).and.match(re);
      expect((err as ImageError).file).to.equal(file);
    }
  });

  describe('batches from the KonIQ fixture', () => {
    const items = (): DatasetItem[] => listDataset(parseDatasetSpec(`koniq:${KONIQ}`), { skipBad: true }).items;
    const spec = resolvePreprocess({ size: [24, 32] });

    it('stops at the missing image, naming it and its dataset line', async () => {
      let err: unknown;
      try {
        for await (const _ of loadBatches(items(), spec, { batchSize: 4 })) void _;
      } catch (e) {
        err = e;
      }
      expect(err).to.be.instanceOf(ImageError);
      expect((err as Error).message).to.match(/image file '.*10102232656\.jpg' does not exist \(dataset line 8\); --skip-bad leaves bad images out/);
    });

    it('with skipBad: loads the rest in order, counts the skipped one, carries the MOS', async () => {
      const skipped: string[] = [];
      const sizes: number[] = [];
      const mos: number[] = [];
      for await (const b of loadBatches(items(), spec, { batchSize: 4, skipBad: true, onSkip: (it) => skipped.push(it.name) })) {
        sizes.push(b.dims[0]);
        expect(b.dims.slice(1)).to.deep.equal([3, 24, 32]);
        expect(b.data.length).to.equal(b.dims[0] * 3 * 24 * 32);
        mos.push(...b.mos);
      }
      expect(sizes).to.deep.equal([4, 3]);
      expect(skipped).to.deep.equal(['10102232656.jpg']);
      expect(mos[0]).to.be.closeTo(3.588235294, 1e-6);
      expect(mos).to.have.length(7);
    });
  });
});
