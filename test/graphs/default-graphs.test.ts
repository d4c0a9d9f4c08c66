/**
 * The default graphs (graphs/*.onnx, made by scripts/train-default-graphs.py): ONNX Runtime on
 * each reproduces the validation SROCC written in graphs/README.md on the embedded dataset's
 * validation split (dataset size 400, seed 0, split seed 0), loaded with the toolkit's loader and
 * the preprocessing stored in the model.
 */
import { expect } from 'chai';
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { listDataset, parseDatasetSpec, selectSplit, type DatasetItem } from '../../src/data/dataset.js';
import { loadBatches } from '../../src/data/loader.js';
import { makeDefaultDataset } from '../../src/data/make-default.js';
import { readPreprocess, resolvePreprocess } from '../../src/data/preprocess.js';
import { Model } from '../../src/ir/model.js';
import { plcc, srocc } from '../../src/metrics/correlation.js';
import { TempDirs } from '../helpers/temp-dir.js';

const GRAPHS = path.resolve('graphs');
const DATA_SIZE = 400;
const DATA_SEED = 0;
const SPLIT_SEED = 0;

interface ReadmeRow {
  file: string;
  srocc: number;
  plcc: number;
}

/** The model table of graphs/README.md: `| \`file.onnx\` | ... | SROCC | PLCC | time |`. */
function readmeRows(): ReadmeRow[] {
  const text = readFileSync(path.join(GRAPHS, 'README.md'), 'utf8');
  const header = text.split('\n').find((l) => l.startsWith('| file |'));
  if (!header) throw new Error('graphs/README.md has no model table');
  const cols = header.split('|').map((c) => c.trim());
  const si = cols.indexOf('val SROCC');
  const pi = cols.indexOf('val PLCC');
  const rows: ReadmeRow[] = [];
  for (const line of text.split('\n')) {
    const m = /^\| `([^`]+\.onnx)` \|/.exec(line);
    if (!m) continue;
    const cells = line.split('|').map((c) => c.trim());
    rows.push({ file: m[1]!, srocc: Number(cells[si]), plcc: Number(cells[pi]) });
  }
  return rows;
}

describe('graphs/ default IQA models', function () {
  const temps = new TempDirs('default-graphs');
  let val: DatasetItem[] = [];
  const rows = readmeRows();

  before(async function () {
    this.timeout(300_000);
    const dir = temps.make('data');
    await makeDefaultDataset({ out: dir, size: DATA_SIZE, seed: DATA_SEED });
    const items = listDataset(parseDatasetSpec(dir)).items;
    val = selectSplit(items, 'val', { seed: SPLIT_SEED });
  });
  after(() => temps.cleanup());

  it('README lists at least two models, each file under 10 MB', () => {
    expect(rows.length).to.be.at.least(2);
    for (const r of rows) {
      expect(Number.isFinite(r.srocc), `${r.file} SROCC`).to.equal(true);
      expect(Number.isFinite(r.plcc), `${r.file} PLCC`).to.equal(true);
      expect(statSync(path.join(GRAPHS, r.file)).size).to.be.below(10 * 1024 * 1024);
    }
    expect(rows.map((r) => r.file)).to.include.members(['linearity_r18w16.onnx', 'dbcnn_vgg_bilinear.onnx']);
  });

  for (const row of readmeRows()) {
    it(`${row.file}: ONNX Runtime reproduces the README's val SROCC ${row.srocc} (and PLCC ${row.plcc})`, async function () {
      const file = path.join(GRAPHS, row.file);
      const model = Model.load(file);
      const stored = readPreprocess(model);
      expect(stored, 'iqa-surgeon.preprocess metadata').to.not.equal(undefined);
      const spec = resolvePreprocess(stored);
      expect(val.length).to.equal(40);
      const session = await ort.InferenceSession.create(file, { logSeverityLevel: 3 });
      expect(session.inputNames).to.deep.equal(['input']);
      expect(session.outputNames).to.deep.equal(['score']);
      const pred: number[] = [];
      const mos: number[] = [];
      for await (const b of loadBatches(val, spec, { batchSize: 16 })) {
        const out = await session.run({ input: new ort.Tensor('float32', b.data, b.dims) });
        const score = out.score!;
        expect(score.dims).to.deep.equal([b.dims[0], 1]);
        pred.push(...(score.data as Float32Array));
        mos.push(...b.mos);
      }
      expect(pred.every(Number.isFinite)).to.equal(true);
      expect(srocc(pred, mos)).to.be.closeTo(row.srocc, 0.01);
      expect(plcc(pred, mos)).to.be.closeTo(row.plcc, 0.01);
    });
  }
});
