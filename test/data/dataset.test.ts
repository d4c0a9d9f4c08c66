import { expect } from 'chai';
import { cpSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { DatasetError, listDataset, parseDatasetSpec, selectSplit } from '../../src/data/dataset.js';
import { TempDirs } from '../helpers/temp-dir.js';
import { isDir, requireOrSkip } from '../helpers/test-data.js';

const KONIQ = path.resolve('fixtures/koniq-mini');
const NIPS = path.resolve('../shared/realdata/nips17_dev/images');

describe('data/dataset', () => {
  const temps = new TempDirs('dataset');
  after(() => temps.cleanup());

  describe('specs', () => {
    it('parses the explicit forms and their parameters', () => {
      expect(parseDatasetSpec('koniq:fixtures/koniq-mini')).to.deep.equal({ kind: 'koniq', location: KONIQ });
      expect(parseDatasetSpec('koniq:/k,images=512x384')).to.deep.equal({ kind: 'koniq', location: '/k', root: '/k/512x384' });
      expect(parseDatasetSpec('csv:/d/s.csv,root=/imgs')).to.deep.equal({ kind: 'csv', location: '/d/s.csv', root: '/imgs' });
      expect(parseDatasetSpec('folder:/x')).to.deep.equal({ kind: 'folder', location: '/x' });
    });

    it('auto-detects koniq, csv and folders', () => {
      expect(parseDatasetSpec(KONIQ).kind).to.equal('koniq');
      const d = temps.make('auto');
      writeFileSync(path.join(d, 'scores.csv'), 'path,mos\n');
      expect(parseDatasetSpec(d)).to.deep.equal({ kind: 'csv', location: path.join(d, 'scores.csv') });
      expect(parseDatasetSpec(path.join(d, 'scores.csv')).kind).to.equal('csv');
      expect(parseDatasetSpec(path.join(KONIQ, '1024x768')).kind).to.equal('folder');
    });

    it('refuses unknown parameters and missing paths with a usable message', () => {
      expect(() => parseDatasetSpec('folder:/x,root=/y')).to.throw(DatasetError, /unknown parameter 'root=\/y' \(folder takes no parameters\)/);
      expect(() => parseDatasetSpec('csv:/x,images=/y')).to.throw(DatasetError, /csv takes root=<dir>/);
      expect(() => parseDatasetSpec('/nonexistent/data')).to.throw(DatasetError, /does not exist/);
    });
  });

  describe('KonIQ-10k format (fixtures/koniq-mini)', () => {
    it('fails on the bad row, naming the file and line', () => {
      expect(() => listDataset(parseDatasetSpec(`koniq:${KONIQ}`))).to.throw(DatasetError, /koniq10k_scores_and_distributions\.csv' line 6 has 4 fields, the header has 10 \(--skip-bad/);
    });

    it('with skipBad: lists the usable rows with MOS from the MOS column, counts the bad one', () => {
      const ds = listDataset(parseDatasetSpec(`koniq:${KONIQ}`), { skipBad: true });
      expect(ds.items).to.have.length(8);
      expect(ds.skipped).to.deep.equal([{ source: path.join(KONIQ, 'koniq10k_scores_and_distributions.csv'), line: 6, reason: 'has 4 fields, the header has 10' }]);
      expect(ds.items[0]).to.deep.equal({ path: path.join(KONIQ, '1024x768/10004473376.jpg'), name: '10004473376.jpg', mos: 3.588235294, line: 2 });
      expect(ds.items.map((i) => i.name)).to.include('10102232656.jpg'); // listed; its file is missing (the loader reports it)
    });

    it('names the image folder when it is not one of the usual ones', () => {
      const d = temps.make('koniq');
      cpSync(path.join(KONIQ, 'koniq10k_scores_and_distributions.csv'), path.join(d, 'koniq10k_scores_and_distributions.csv'));
      expect(() => listDataset(parseDatasetSpec(`koniq:${d}`))).to.throw(DatasetError, /has no image folder .*,images=<sub>/);
      mkdirSync(path.join(d, 'pics'));
      const ds = listDataset(parseDatasetSpec(`koniq:${d},images=pics`), { skipBad: true });
      expect(ds.items[0]!.path).to.equal(path.join(d, 'pics/10004473376.jpg'));
    });

    it('splits 70/10/20 by seed: disjoint, complete, stable, seed-dependent', () => {
      const items = listDataset(parseDatasetSpec(`koniq:${KONIQ}`), { skipBad: true }).items;
      const names = (split: 'train' | 'val' | 'test', seed: number) => selectSplit(items, split, { seed }).map((i) => i.name);
      expect([names('train', 0).length, names('val', 0).length, names('test', 0).length]).to.deep.equal([6, 1, 1]);
      expect(new Set([...names('train', 0), ...names('val', 0), ...names('test', 0)]).size).to.equal(8);
      expect(names('train', 0)).to.deep.equal(names('train', 0));
      expect(selectSplit([...items].reverse(), 'test', { seed: 0 }).map((i) => i.name)).to.deep.equal(names('test', 0));
      const tests = new Set([0, 1, 2, 3, 4, 5].map((s) => names('test', s)[0]));
      expect(tests.size).to.be.greaterThan(1);
    });

    it('a split file chooses the items instead', () => {
      const items = listDataset(parseDatasetSpec(`koniq:${KONIQ}`), { skipBad: true }).items;
      const d = temps.make('split');
      const f = path.join(d, 'split.csv');
      writeFileSync(f, 'image_name,split\n10004473376.jpg,test\n10007357496.jpg,train\n10046066446.jpg,TEST\n');
      expect(selectSplit(items, 'test', { splitFile: f }).map((i) => i.name)).to.deep.equal(['10004473376.jpg', '10046066446.jpg']);
      writeFileSync(f, 'image_name,split\n10004473376.jpg,holdout\n');
      expect(() => selectSplit(items, 'test', { splitFile: f })).to.throw(DatasetError, /line 2: split 'holdout' is not train, val or test/);
    });
  });

  describe('generic CSV', () => {
    it('resolves paths against the CSV folder or root=, and reports bad rows by line', () => {
      const d = temps.make('csv');
      writeFileSync(path.join(d, 'list.csv'), 'path,mos,note\na.png,3.5,x\nsub/b.png,1e0,y\n');
      const ds = listDataset(parseDatasetSpec(`csv:${path.join(d, 'list.csv')}`));
      expect(ds.items.map((i) => [i.path, i.mos])).to.deep.equal([[path.join(d, 'a.png'), 3.5], [path.join(d, 'sub/b.png'), 1]]);
      const rooted = listDataset(parseDatasetSpec(`csv:${path.join(d, 'list.csv')},root=/imgs`));
      expect(rooted.items[0]!.path).to.equal('/imgs/a.png');
      writeFileSync(path.join(d, 'bad.csv'), 'path,mos\na.png,good\n,2\na.png,3\nb.png,4\nb.png,5\n');
      expect(() => listDataset(parseDatasetSpec(`csv:${path.join(d, 'bad.csv')}`))).to.throw(DatasetError, /line 2 mos 'good' is not a number/);
      const skipped = listDataset(parseDatasetSpec(`csv:${path.join(d, 'bad.csv')}`), { skipBad: true });
      expect(skipped.items.map((i) => i.name)).to.deep.equal(['a.png', 'b.png']);
      expect(skipped.skipped.map((s) => s.line)).to.deep.equal([2, 3, 6]);
      writeFileSync(path.join(d, 'nohead.csv'), 'file,score2\n');
      expect(() => listDataset(parseDatasetSpec(`csv:${path.join(d, 'nohead.csv')}`))).to.throw(DatasetError, /needs columns path and mos .*found: file, score2/);
    });
  });

  describe('folders without scores', () => {
    it('lists the NIPS 2017 dev images, sorted, without MOS', function () {
      requireOrSkip(this, isDir(NIPS), `the shared NIPS 2017 dev images (${NIPS})`);
      const ds = listDataset(parseDatasetSpec(`folder:${NIPS}`));
      expect(ds.items.length).to.be.greaterThan(0);
      expect(ds.items.every((i) => i.mos === undefined && i.path.endsWith('.png'))).to.equal(true);
      const names = ds.items.map((i) => i.name);
      expect(names).to.deep.equal([...names].sort());
    });

    it('refuses a folder without images', () => {
      expect(() => listDataset(parseDatasetSpec(`folder:${temps.make('empty')}`))).to.throw(DatasetError, /holds no images/);
    });
  });
});
