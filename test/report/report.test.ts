/**
 * Reports from an `evaluate@1` result: the JSON validates against its schema (and a broken one
 * does not), the Markdown table has the paper's Table 4 columns, the SVG plots carry the data, and
 * the HTML page opens in a real headless browser (Debian's chromium) with no console errors and
 * non-blank plots.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import ajv2020 from 'ajv/dist/2020.js';
import sharp from 'sharp';
import { absGain, aucOverEps, cleanScoreRange, rScore } from '../../src/metrics/robustness.js';
import { srocc, plcc } from '../../src/metrics/correlation.js';
import { renderPlots } from '../../src/report/plots.js';
import { EVALUATE_SCHEMA, type AttackResult, type EvaluateResult, type ModelResult } from '../../src/report/schema.js';
import { seedSpreadMarkdown, seedSpreadRows, table4Markdown, table4Rows } from '../../src/report/table.js';
import { spread } from '../../src/metrics/spread.js';
import { writeReport } from '../../src/report/write.js';
import { mulberry32 } from '../../src/util/random.js';
import { TempDirs } from '../helpers/temp-dir.js';
import { requireOrSkip } from '../helpers/test-data.js';

const temps = new TempDirs('report');
after(() => temps.cleanup());

/** A result computed with the real metrics from seeded scores: the patched model moves less. */
function makeResult(): EvaluateResult {
  const rnd = mulberry32(5);
  const n = 12;
  const mos = Array.from({ length: n }, () => 1 + 4 * rnd());
  const model = (name: string, role: string, strength: number): ModelResult => {
    const clean = mos.map((m) => m + 0.3 * (rnd() - 0.5));
    const range = cleanScoreRange(clean);
    const attacks: AttackResult[] = [];
    const attacked: Record<string, number[]> = {};
    for (const iters of [1, 8]) {
      for (const eps of [2, 4, 6, 8, 10]) {
        const adv = clean.map((c) => c + strength * eps * (iters === 8 ? 0.05 : 0.02) * (0.5 + rnd()));
        attacked[`pgd-${iters}-eps${eps}`] = adv;
        attacks.push({ attack: 'pgd', iters, eps, absGain: absGain(clean, adv, range), absGainCi95: null, rScore: rScore(clean, adv, range), rScoreCi95: null, n, linf: eps });
      }
    }
    for (const attack of ['uap', 'stadv']) {
      const adv = clean.map((c) => c + strength * 0.2 * rnd());
      attacks.push({ attack, iters: null, eps: attack === 'uap' ? 10 : null, absGain: absGain(clean, adv, range), absGainCi95: [0, 1], rScore: rScore(clean, adv, range), rScoreCi95: [0, 2], n });
    }
    const auc: ModelResult['auc'] = {};
    for (const key of ['pgd-1', 'pgd-8']) {
      const runs = attacks.filter((a) => `${a.attack}-${a.iters}` === key);
      auc[key] = { absGain: aucOverEps(runs.map((a) => ({ eps: a.eps!, value: a.absGain }))), rScore: aucOverEps(runs.map((a) => ({ eps: a.eps!, value: a.rScore }))) };
    }
    return { name, file: `${name}.onnx`, role, srocc: srocc(clean, mos), plcc: plcc(clean, mos), sroccCi95: [0.8, 0.99], plccCi95: [0.8, 0.99], plccLogistic: null, range, attacks, auc, scores: { images: mos.map((_, i) => `img${i}.png`), clean, attacked } };
  };
  return {
    schema: 'evaluate@1',
    toolkitVersion: '0.1.0',
    data: { attacked: 'folder:imgs', mos: 'csv:mos.csv', images: n, mosImages: n },
    scored: 'float',
    rScoreVariant: 'msu',
    provider: 'cpu',
    preprocessing: 'resize 96x128, scale 1/255',
    models: [model('linearity', 'original', 1), model('linearity+block', 'patched', 0.5)],
  };
}

describe('report: evaluate@1 schema', () => {
  // ajv is CommonJS: under ESM its class is the default export's `default`
  const Ajv = (ajv2020 as unknown as { default: typeof ajv2020.default }).default ?? ajv2020;
  const validate = new Ajv({ allErrors: true, strict: false }).compile(EVALUATE_SCHEMA);

  it('a computed result validates', () => {
    const ok = validate(JSON.parse(JSON.stringify(makeResult())));
    expect(ok, JSON.stringify(validate.errors)).to.equal(true);
  });

  it('broken results do not (missing key, wrong schema tag, NaN written as null, interval of 3)', () => {
    const broken: ((r: any) => void)[] = [
      (r) => delete r.models[0].srocc,
      (r) => (r.schema = 'evaluate@2'),
      (r) => (r.models[0].attacks[0].absGain = null),
      (r) => (r.models[0].attacks[0].absGainCi95 = [0, 1, 2]),
      (r) => (r.models = []),
    ];
    for (const breakIt of broken) {
      const r = JSON.parse(JSON.stringify(makeResult()));
      breakIt(r);
      expect(validate(r), breakIt.toString()).to.equal(false);
    }
  });
});

/** makeResult() with its noise runs repeated over three seeds (what `--seeds 3` produces). */
function withSeeds(): EvaluateResult {
  const r = makeResult();
  r.seeds = [0, 1, 2];
  for (const m of r.models) {
    for (const eps of [2, 4]) {
      const perSeed = [0.01 * eps, 0.012 * eps, 0.008 * eps];
      const s = spread(perSeed);
      m.attacks.push({ attack: 'noise', iters: null, eps, absGain: s.mean, absGainCi95: null, rScore: 2 - s.mean, rScoreCi95: null, n: 12, seeds: [0, 1, 2], seedSpread: { absGain: s, rScore: spread(perSeed.map((v) => 2 - v)) }, absGainSeedStd: s.std });
    }
    m.auc.noise = { absGain: 0.06, rScore: 3.9, seedSpread: { absGain: spread([0.06, 0.072, 0.048]), rScore: spread([3.9, 3.8, 4.0]) } };
  }
  return r;
}

describe('report: spread over seeds', () => {
  const Ajv = (ajv2020 as unknown as { default: typeof ajv2020.default }).default ?? ajv2020;
  const validate = new Ajv({ allErrors: true, strict: false }).compile(EVALUATE_SCHEMA);

  it('spread() is the mean, sample std, min and max', () => {
    expect(spread([1, 2, 6])).to.deep.equal({ mean: 3, std: Math.sqrt(7), min: 1, max: 6 });
    expect(spread([4])).to.deep.equal({ mean: 4, std: 0, min: 4, max: 4 });
    expect(() => spread([])).to.throw(RangeError);
    expect(() => spread([1, NaN])).to.throw(/value 1 is NaN/);
  });

  it('a result with seed spreads validates; a spread without std or with a negative std does not', () => {
    const r = JSON.parse(JSON.stringify(withSeeds()));
    expect(validate(r), JSON.stringify(validate.errors)).to.equal(true);
    const a = JSON.parse(JSON.stringify(r));
    delete a.models[0].attacks.at(-1).seedSpread.absGain.std;
    expect(validate(a)).to.equal(false);
    const b = JSON.parse(JSON.stringify(r));
    b.models[1].auc.noise.seedSpread.rScore.std = -1;
    expect(validate(b)).to.equal(false);
  });

  it('the spread table lists every repeated run and AUC; none without seeds', async () => {
    const r = withSeeds();
    const rows = seedSpreadRows(r);
    expect(rows.slice(1).map((x) => `${x[0]} ${x[1]}`)).to.deep.equal(['linearity noise eps 2', 'linearity noise eps 4', 'linearity noise AUC', 'linearity+block noise eps 2', 'linearity+block noise eps 4', 'linearity+block noise AUC']);
    expect(rows[2]!.slice(2, 7)).to.deep.equal(['3', (0.04).toFixed(4), (0.008).toFixed(4), (0.032).toFixed(4), (0.048).toFixed(4)]);
    expect(seedSpreadMarkdown(r).split('\n')).to.have.length(9);
    expect(seedSpreadMarkdown(makeResult())).to.equal('');
    const dir = temps.make('spread');
    await writeReport(r, dir);
    expect(readFileSync(path.join(dir, 'report.md'), 'utf8')).to.include('## Spread over seeds 0, 1, 2');
    expect(readFileSync(path.join(dir, 'index.html'), 'utf8')).to.match(/<h2>Spread over seeds<\/h2>[^]*<table class="spread">/);
  });
});

describe('report: table and plots', () => {
  it('the Markdown table has the paper Table 4 columns, one row per model, em dashes for what was not measured', () => {
    const r = makeResult();
    const rows = table4Rows(r);
    expect(rows[0]).to.deep.equal(['model', 'SROCC', 'PLCC', 'AbsGain AUC PGD-1', 'AbsGain AUC PGD-8', 'R-score AUC PGD-1', 'R-score AUC PGD-8', 'AbsGain UAP', 'AbsGain stAdv', 'R-score UAP', 'R-score stAdv']);
    expect(rows.map((x) => x[0])).to.deep.equal(['model', 'linearity', 'linearity+block']);
    expect(rows[1]![3]).to.equal(r.models[0]!.auc['pgd-1']!.absGain.toFixed(3));
    // the patched model's attacks were half as strong: smaller PGD-8 AUC
    expect(r.models[1]!.auc['pgd-8']!.absGain).to.be.lessThan(r.models[0]!.auc['pgd-8']!.absGain);
    r.models[0]!.srocc = null;
    delete r.models[0]!.auc['pgd-8'];
    const md = table4Markdown(r);
    expect(md.split('\n')[2]).to.match(/^\| linearity \| — \| [0-9.]+ \| [0-9.]+ \| — \|/);
    expect(md.split('\n')[1]).to.equal('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  });

  it('plots are SVG with one line per model and attack and one point per image in the scatter', async () => {
    const plots = await renderPlots(makeResult());
    expect(plots.map((p) => p.file)).to.deep.equal(['abs-gain-vs-eps.svg', 'r-score-vs-eps.svg', 'clean-vs-attacked.svg']);
    for (const p of plots) expect(p.svg.startsWith('<svg')).to.equal(true);
    // 2 models x (PGD-1, PGD-8, UAP at eps 10) = 6 series (Vega draws each in its own mark-line group); stAdv has no eps
    expect((plots[0]!.svg.match(/class="mark-line role-mark/g) ?? []).length).to.equal(6);
    // 2 models x 10 PGD runs x 12 images + 0 (uap/stadv have no raw scores here) points
    expect((plots[2]!.svg.match(/<path [^>]*transform="translate/g) ?? []).length).to.be.at.least(2 * 10 * 12);
  });

  it('without eps runs or raw scores there is nothing to plot for those plots', async () => {
    const r = makeResult();
    for (const m of r.models) {
      m.attacks = m.attacks.filter((a) => a.eps === null);
      delete m.scores;
    }
    expect((await renderPlots(r)).map((p) => p.file)).to.deep.equal([]);
  });
});

const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));

describe('report: the HTML page in a headless browser', function () {
  this.timeout(300_000);

  it('opens from disk with no console errors, and every plot renders non-blank', async function () {
    requireOrSkip(this, CHROMIUM !== undefined, "Debian's chromium (apt-get install chromium)");
    const dir = temps.make('html');
    const written = await writeReport(withSeeds(), dir);
    expect(written.files).to.include.members(['report.json', 'schema.json', 'report.md', 'index.html', 'plots/abs-gain-vs-eps.svg']);
    const run = (url: string, extra: string[]): ReturnType<typeof spawnSync> =>
      spawnSync(CHROMIUM!, ['--headless', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--enable-logging=stderr', '--v=0', `--user-data-dir=${temps.make('chrome')}`, ...extra, url], { encoding: 'utf8', timeout: 240_000 });
    const page = run(`file://${path.join(dir, 'index.html')}`, ['--dump-dom']);
    expect(page.status, String(page.stderr)).to.equal(0);
    expect(String(page.stdout)).to.include('Robustness evaluation');
    expect(String(page.stdout)).to.include('<svg');
    expect(String(page.stdout)).to.include('Spread over seeds');
    expect(String(page.stderr)).to.not.match(/CONSOLE|Uncaught|ERR_FILE_NOT_FOUND/);
    for (const file of written.files.filter((f) => f.endsWith('.svg'))) {
      const png = path.join(dir, `${path.basename(file)}.png`);
      const shot = run(`file://${path.join(dir, file)}`, [`--screenshot=${png}`, '--window-size=900,700']);
      expect(shot.status, String(shot.stderr)).to.equal(0);
      const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
      let ink = 0;
      for (let i = 0; i < data.length; i += info.channels) if (data[i]! < 200 || data[i + 1]! < 200 || data[i + 2]! < 200) ink++;
      expect(ink, `${file}: dark pixels`).to.be.greaterThan(500);
    }
    // the JSON on disk is the result and validates
    const json = JSON.parse(readFileSync(path.join(dir, 'report.json'), 'utf8'));
    expect(json.schema).to.equal('evaluate@1');
  });
});
