import type { Command } from 'commander';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { checkBudget, linfDistance } from '../../attacks/budget.js';
import { decodeNpy, encodeNpy } from '../../attacks/npy.js';
import { scoreObjective } from '../../attacks/objective.js';
import { fgsm, pgd } from '../../attacks/pgd.js';
import { pixelMap } from '../../attacks/pixels.js';
import { stadv } from '../../attacks/stadv.js';
import { applyPerturbation, trainUap, type Perturbation } from '../../attacks/uap.js';
import { listDataset, parseDatasetSpec, selectSplit, SPLITS, type DatasetItem, type SplitName } from '../../data/dataset.js';
import { loadPixelBatch, savePixelsPng } from '../../data/pixels.js';
import { readPreprocess, type PreprocessFlags } from '../../data/preprocess.js';
import { createEngine, ENGINE_CHOICES, type EngineChoice } from '../../engines/factory.js';
import { UsageError } from '../../errors.js';
import { ATTACK_BATCH, seedFor } from '../../evaluate/evaluate.js';
import { checkScore, openScorer } from '../../evaluate/scoring.js';
import { Model } from '../../ir/model.js';
import { writeFileAtomic } from '../../util/atomic-write.js';
import { readRegularFile } from '../../util/safe-read.js';
import type { CliIO } from '../main.js';
import { parseChoice, parseInteger, parseNumberIn, parseSeed, parseThreads } from '../options.js';
import { addScoreOptions, scoreLine, scoreSpecFor, type ScoreFlags } from '../score-options.js';
import { addPreprocessOptions, describePreprocess, preprocessFor } from '../preprocess-options.js';
import { makeProgress } from '../progress.js';

interface AttackFlags extends PreprocessFlags, ScoreFlags {
  attack: 'fgsm' | 'pgd' | 'uap' | 'stadv';
  eps: string;
  iters: string;
  step: number;
  randomStart?: boolean;
  direction: 'up' | 'down';
  source?: string;
  engine: EngineChoice;
  ep: 'cpu' | 'cuda';
  threads?: number;
  data: string;
  split: SplitName | 'all';
  splitSeed: number;
  maxImages: number;
  uapTrain?: string;
  uap?: string;
  uapEpochs: number;
  stadvIterations: number;
  seed: number;
  batch: number;
  saveFloat?: boolean;
  out: string;
  json?: boolean;
}

function list(option: string, text: string, lo: number, hi: number, integer: boolean): number[] {
  const parts = text.split(',').map((s) => s.trim());
  const v = parts.map(Number);
  if (parts.some((p) => !(integer ? /^\d+$/ : /^\d+(\.\d+)?$/).test(p)) || v.some((x) => x < lo || x > hi)) throw new UsageError(`${option} '${text}' must be comma-separated ${integer ? 'integers' : 'numbers'} in [${lo}, ${hi}]`);
  return v;
}

/** A file-name stem for an item (its name without folders and extension, made path-safe). */
function stem(it: DatasetItem): string {
  return path.basename(it.name).replace(/\.[^.]*$/, '').replace(/[^A-Za-z0-9._-]+/g, '_') || 'image';
}

export function registerAttack(program: Command, io: CliIO): void {
  addScoreOptions(addPreprocessOptions(
    program
      .command('attack')
      .description('attack images (resized to the model input, pixels in [0,1]) and save them beside the clean ones; scores from ONNX Runtime')
      .argument('<model>', 'the model whose score the attacked images are scored by')
      .requiredOption('--attack <kind>', 'fgsm, pgd, uap or stadv', parseChoice('--attack', ['fgsm', 'pgd', 'uap', 'stadv'] as const))
      .option('--eps <list>', 'L-inf budgets in 1/255 units', '2,4,6,8,10')
      .option('--iters <list>', 'PGD iterations (pgd-k means k steps of --step within eps)', '1,8')
      .option('--step <x>', 'PGD step in 1/255 units', parseNumberIn('--step', 1e-6, 255), 1)
      .option('--random-start', 'PGD: start from a uniform point in the eps ball (seeded)')
      .option('--direction <d>', 'up (raise the predicted quality, default) or down', parseChoice('--direction', ['up', 'down'] as const), 'up')
      .option('--source <onnx>', 'craft the attack on this model instead (transfer); the images are scored by <model>')
      .option('--engine <engine>', `gradient engine: ${ENGINE_CHOICES.join(', ')}`, parseChoice('--engine', ENGINE_CHOICES), 'auto')
      .option('--ep <provider>', 'ONNX Runtime execution provider of the scores and of the ort engine: cpu or cuda', parseChoice('--ep', ['cpu', 'cuda'] as const), 'cpu')
      .option('--threads <n>', 'ONNX Runtime intra-op threads of the scores and of the ort engine, 1 to 1024 (default: ONNX Runtime\'s, one per core)', parseThreads)
      .requiredOption('--data <spec>', 'images to attack (dataset spec, docs/DATA.md)')
      .option('--split <name>', 'train, val, test or all of --data', parseChoice('--split', ['all', ...SPLITS] as const), 'all')
      .option('--split-seed <s>', 'seed of the 70/10/20 split', parseSeed('--split-seed'), 0)
      .option('--max-images <n>', 'attack at most this many images', parseInteger('--max-images', 1, 100000), 100000)
      .option('--uap-train <spec>', 'UAP: images to train the perturbation on (default: the train split of --data)')
      .option('--uap <file.npy>', 'UAP: apply this saved perturbation instead of training one')
      .option('--uap-epochs <n>', 'UAP: training epochs', parseInteger('--uap-epochs', 1, 1000), 5)
      .option('--stadv-iterations <n>', 'stAdv: L-BFGS iterations', parseInteger('--stadv-iterations', 1, 1000), 5)
      .option('--seed <s>', 'seed of random starts and UAP batches', parseSeed('--seed'), 0)
      .option('--batch <n>', 'images per attack batch, 1 to 256: the gradient engine holds a batch\'s activations (random starts are drawn per batch, as in evaluate)', parseInteger('--batch', 1, 256), ATTACK_BATCH)
      .option('--save-float', 'also save the float attacked images as .npy ([3,H,W] float32 in [0,1])')
      .requiredOption('--out <dir>', 'output folder: clean/<stem>.png and <attack>[-<iters>]-eps<k>/<stem>.png')
      .option('--json', 'print the iqa-surgeon/attack@1 summary as JSON'),
  )).action(async (file: string, opts: AttackFlags) => {
    const eps = opts.attack === 'stadv' ? [] : list('--eps', opts.eps, 0, 255, false);
    const iters = opts.attack === 'pgd' ? list('--iters', opts.iters, 1, 1000, true) : [1];
    const model = Model.load(file);
    const preprocess = preprocessFor(model, opts);
    const score = scoreSpecFor(model, opts);
    const srcModel = opts.source ? Model.load(opts.source) : model;
    const srcScore = opts.source ? scoreSpecFor(srcModel, opts) : score;
    const srcPre = opts.source ? preprocessFor(srcModel, opts) : preprocess;
    const [h, w] = preprocess.size;
    if (srcPre.size[0] !== h || srcPre.size[1] !== w) throw new UsageError(`--source takes ${srcPre.size.join('x')} images, the model ${h}x${w}: transfer needs the same input size`);
    const all = listDataset(parseDatasetSpec(opts.data)).items;
    const items = (opts.split === 'all' ? all : selectSplit(all, opts.split, { seed: opts.splitSeed })).slice(0, opts.maxImages);
    const progress = makeProgress({ json: opts.json, err: io.err });
    progress.line(describePreprocess(preprocess, readPreprocess(model) !== undefined));
    progress.line(scoreLine(model, opts));
    if (opts.source) progress.line(scoreLine(srcModel, opts, '--source'));
    const clean = await loadPixelBatch(items, preprocess);
    const n = items.length;
    for (let i = 0; i < n; i++) await savePixelsPng(clean.data, i, h, w, path.join(opts.out, 'clean', `${stem(items[i]!)}.png`));
    const threads = opts.threads !== undefined ? { threads: opts.threads } : {};
    // gradient steps run back to back with nothing else on the cores: the engine's threads spin between operators
    const engine = await createEngine({ model: srcModel, engine: opts.engine, ...(opts.engine !== 'tfjs' ? { ep: opts.ep, ...threads, spinning: true } : {}) });
    const scorer = await openScorer(file, score, pixelMap(preprocess, h * w), [3, h, w], { ep: opts.ep, ...threads });
    let cleanScoresFrom: 'first-gradient-step' | 'scorer' = 'scorer';
    const runs: { run: string; eps: number | null; meanClean: number; meanAttacked: number; linf: number; flowMean?: number; folder: string }[] = [];
    const per = 3 * h * w;
    const names = items.map((i) => i.name);
    try {
      progress.line(`engine: ${engine.describe()}; scores: ONNX Runtime (${scorer.provider})`);
      const objective = scoreObjective(engine, srcScore, pixelMap(srcPre, h * w), [3, h, w]);
      const plan = opts.attack === 'stadv' ? [{ k: 0, e: null as number | null }] : iters.flatMap((k) => eps.map((e) => ({ k, e: e as number | null })));
      // The clean scores: where the ONNX Runtime engine crafts the attack on the scored model itself
      // and the first gradient step starts at the clean images, that step's forward (ONNX Runtime
      // running the file's own nodes, inside the gradient graph) already gives them; else the scorer.
      const fromFirstStep = engine.kind === 'ort' && !opts.source && (opts.attack === 'pgd' || opts.attack === 'fgsm') && !opts.randomStart;
      if (fromFirstStep) cleanScoresFrom = 'first-gradient-step';
      const cleanScores: number[] = fromFirstStep ? new Array<number>(n).fill(Number.NaN) : await scorer.score(clean.data, n, names);
      progress.start(plan.length, opts.attack);
      for (const [pi, { k, e }] of plan.entries()) {
        const attacked = new Float32Array(clean.data.length);
        let flowSum = 0;
        if (opts.attack === 'uap') {
          let u: Perturbation;
          if (opts.uap) {
            const t = decodeNpy(readRegularFile(opts.uap, { what: 'UAP file', maxBytes: 1 << 30 }), `UAP file '${opts.uap}'`);
            if (t.dims.length !== 3 || t.dims[0] !== 3) throw new UsageError(`UAP file '${opts.uap}' has shape [${t.dims.join(',')}], not [3,h,w]`);
            u = { dims: [3, t.dims[1]!, t.dims[2]!], data: t.data.map((v) => Math.min(e! / 255, Math.max(-e! / 255, v))) };
          } else {
            const trainItems = opts.uapTrain ? listDataset(parseDatasetSpec(opts.uapTrain)).items : selectSplit(all, 'train', { seed: opts.splitSeed });
            const px = await loadPixelBatch(trainItems, srcPre);
            u = await trainUap(objective, px.data, trainItems.length, { eps: e! / 255, epochs: opts.uapEpochs, seed: opts.seed, direction: opts.direction });
          }
          const folder = path.join(opts.out, `uap-eps${e}`);
          mkdirSync(folder, { recursive: true });
          const npy = encodeNpy(u.dims, u.data);
          writeFileAtomic(path.join(folder, 'perturbation.npy'), (wr) => wr.write(npy));
          // the perturbation as an image: 0.5 + u / (2 eps), so +eps is white and -eps black
          const vis = u.data.map((v) => 0.5 + v / (2 * Math.max(e! / 255, 1e-12)));
          await savePixelsPng(vis, 0, u.dims[1], u.dims[2], path.join(folder, 'perturbation.png'));
          attacked.set(applyPerturbation(clean.data, [n, 3, h, w], u));
        } else {
          // image-wise attacks run in batches of --batch images (the engine's memory grows with the batch)
          for (let s = 0; s < n; s += opts.batch) {
            const b = Math.min(opts.batch, n - s);
            const x = clean.data.subarray(s * per, (s + b) * per);
            if (opts.attack === 'stadv') {
              const r = await stadv(objective, x, b, { iterations: opts.stadvIterations, direction: opts.direction });
              attacked.set(r.attacked, s * per);
              flowSum += r.flowMean * b;
              continue;
            }
            const r = opts.attack === 'pgd'
              ? await pgd(objective, x, b, { eps: e! / 255, step: opts.step / 255, iters: k, direction: opts.direction, randomStart: opts.randomStart === true, seed: seedFor(opts.seed, s) })
              : await fgsm(objective, x, b, { eps: e! / 255, direction: opts.direction });
            attacked.set(r.attacked, s * per);
            if (fromFirstStep && pi === 0) {
              r.startScores.forEach((v, i) => {
                checkScore(v, names[s + i]!);
                cleanScores[s + i] = v;
              });
            }
          }
        }
        const meanClean = cleanScores.reduce((a, b) => a + b, 0) / n;
        const flowMean = opts.attack === 'stadv' ? flowSum / n : undefined;
        const linf = opts.attack === 'stadv' ? linfDistance(clean.data, attacked) : checkBudget(clean.data, attacked, e! / 255);
        const run = `${opts.attack}${opts.attack === 'pgd' ? `-${k}` : ''}${e === null ? '' : `-eps${e}`}`;
        const folder = path.join(opts.out, run);
        for (let i = 0; i < n; i++) {
          await savePixelsPng(attacked, i, h, w, path.join(folder, `${stem(items[i]!)}.png`));
          if (opts.saveFloat) {
            const npy = encodeNpy([3, h, w], attacked.slice(i * per, (i + 1) * per));
            writeFileAtomic(path.join(folder, `${stem(items[i]!)}.npy`), (wr) => wr.write(npy));
          }
        }
        const adv = await scorer.score(attacked, n, names);
        runs.push({ run, eps: e, meanClean, meanAttacked: adv.reduce((a, b) => a + b, 0) / n, linf: linf * 255, ...(flowMean !== undefined ? { flowMean } : {}), folder });
        progress.update(pi + 1, {});
      }
      progress.stop();
    } finally {
      engine.dispose();
      await scorer.dispose();
    }
    if (opts.json) {
      io.out(`${JSON.stringify({ schema: 'iqa-surgeon/attack@1', model: file, source: opts.source ?? null, images: n, preprocessing: preprocess, cleanScoresFrom, runs }, null, 2)}\n`);
      return;
    }
    for (const r of runs) io.out(`${r.run}: mean score ${r.meanClean.toFixed(4)} -> ${r.meanAttacked.toFixed(4)} (L-inf ${r.linf.toFixed(2)}/255${r.flowMean !== undefined ? `, mean flow ${r.flowMean.toFixed(3)} px` : ''}) in ${r.folder}\n`);
  });
}
