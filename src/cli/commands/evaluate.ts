import type { Command } from 'commander';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { ScoreSpec } from '../../attacks/score.js';
import { listDataset, parseDatasetSpec, selectSplit, SPLITS, type DatasetItem, type SplitName } from '../../data/dataset.js';
import { savePixelsPng } from '../../data/pixels.js';
import { readPreprocess, type PreprocessFlags } from '../../data/preprocess.js';
import { ENGINE_CHOICES, type EngineChoice } from '../../engines/factory.js';
import { UsageError } from '../../errors.js';
import { evaluateModels, parseAttackList, type EvaluatedModel } from '../../evaluate/evaluate.js';
import { Model } from '../../ir/model.js';
import { table4Text } from '../../report/table.js';
import { writeReport } from '../../report/write.js';
import type { EvaluateResult } from '../../report/schema.js';
import type { CliIO } from '../main.js';
import { addScoreOptions, scoreSpecFor, type ScoreFlags } from '../score-options.js';
import { addPreprocessOptions, describePreprocess, preprocessFor } from '../preprocess-options.js';
import { makeProgress } from '../progress.js';
import { parseChoice, parseInteger, parseNumberIn, parseSeed } from '../options.js';

interface EvaluateFlags extends PreprocessFlags, ScoreFlags {
  baseline?: string;
  source?: string;
  data: string;
  mosData?: string;
  split: SplitName | 'all';
  splitSeed: number;
  maxImages: number;
  attacks: string;
  eps: string;
  step: number;
  seed: number;
  direction: 'up' | 'down';
  quantize?: boolean;
  engine: EngineChoice;
  ep: 'cpu' | 'cuda';
  rScore: 'msu' | 'paper';
  examples: number;
  report: string;
  json?: boolean;
}

function parseEps(text: string): number[] {
  const parts = text.split(',').map((s) => s.trim());
  const v = parts.map(Number);
  if (parts.some((p) => !/^\d+(\.\d+)?$/.test(p)) || v.some((x) => !(x >= 0 && x <= 255))) throw new UsageError(`--eps '${text}' must be comma-separated numbers in [0, 255] (units of 1/255)`);
  return v;
}

function items(spec: string, split: SplitName | 'all', seed: number, max: number): DatasetItem[] {
  const all = listDataset(parseDatasetSpec(spec)).items;
  return (split === 'all' ? all : selectSplit(all, split, { seed })).slice(0, max);
}

export function registerEvaluate(program: Command, io: CliIO): void {
  addScoreOptions(addPreprocessOptions(
    program
      .command('evaluate')
      .description('attack one or two models (PGD, FGSM, UAP, stAdv, noise) and report SROCC/PLCC, absolute gain, R-score and AUC over eps, scored by ONNX Runtime')
      .argument('<model>', 'the model to evaluate (e.g. the patched one)')
      .option('--baseline <onnx>', 'a second model evaluated the same way (e.g. the original), listed first')
      .option('--source <onnx>', 'craft the attacks on this model and score them on the evaluated ones (transfer)')
      .requiredOption('--data <spec>', 'images to attack (dataset spec, docs/DATA.md)')
      .option('--mos-data <spec>', 'scored images for SROCC/PLCC (default: --data when it has scores)')
      .option('--split <name>', 'train, val, test or all (of --data and --mos-data)', parseChoice('--split', ['all', ...SPLITS] as const), 'all')
      .option('--split-seed <s>', 'seed of the 70/10/20 split', parseSeed('--split-seed'), 0)
      .option('--max-images <n>', 'attack at most this many images', parseInteger('--max-images', 1, 100000), 100000)
      .option('--attacks <list>', 'pgd-<k>, fgsm, uap, stadv, noise (comma-separated)', 'pgd-1,pgd-8,uap,stadv')
      .option('--eps <list>', 'L-inf budgets in 1/255 units', '2,4,6,8,10')
      .option('--step <x>', 'PGD step in 1/255 units', parseNumberIn('--step', 1e-6, 255), 1)
      .option('--seed <s>', 'seed of random starts, noise and bootstrap', parseInteger('--seed', 0, 2 ** 31), 0)
      .option('--direction <d>', 'up (raise the predicted quality, default) or down', parseChoice('--direction', ['up', 'down'] as const), 'up')
      .option('--quantize', 'score the 8-bit attacked images an attacker can ship (default: the float images)')
      .option('--engine <engine>', `gradient engine for the attacks: ${ENGINE_CHOICES.join(', ')}`, parseChoice('--engine', ENGINE_CHOICES), 'auto')
      .option('--ep <provider>', 'ONNX Runtime execution provider of the scores and of the ort engine: cpu or cuda', parseChoice('--ep', ['cpu', 'cuda'] as const), 'cpu')
      .option('--r-score <variant>', 'msu (default) or paper', parseChoice('--r-score', ['msu', 'paper'] as const), 'msu')
      .option('--examples <n>', 'attacked images shown beside their originals in the report', parseInteger('--examples', 0, 100), 3)
      .requiredOption('--report <dir>', 'report folder (report.json, report.md, plots/, index.html)')
      .option('--json', 'print the evaluate@1 result as JSON'),
  )).action(async (file: string, opts: EvaluateFlags) => {
    const attacks = parseAttackList(opts.attacks);
    const eps = parseEps(opts.eps);
    const describe = (f: string): EvaluatedModel & { fromMetadata: boolean } => {
      const model = Model.load(f);
      const score: ScoreSpec = scoreSpecFor(model, opts);
      return { file: f, name: path.basename(f).replace(/\.onnx$/i, ''), role: '', preprocess: preprocessFor(model, opts), score, fromMetadata: readPreprocess(model) !== undefined };
    };
    const main = { ...describe(file), role: opts.baseline ? 'patched' : 'evaluated' };
    const models = opts.baseline ? [{ ...describe(opts.baseline), role: 'original' }, main] : [main];
    if (opts.source) {
      const s = describe(opts.source);
      for (const m of models) m.source = { file: s.file, preprocess: s.preprocess, score: s.score };
    }
    const images = items(opts.data, opts.split, opts.splitSeed, opts.maxImages);
    const mosSpec = opts.mosData ?? (images.every((i) => i.mos !== undefined) ? opts.data : null);
    const mosImages = mosSpec === null ? null : mosSpec === opts.data ? images : items(mosSpec, opts.split, opts.splitSeed, 100000);
    const progress = makeProgress({ json: opts.json, err: io.err });
    for (const m of models) progress.line(`${m.name}: ${describePreprocess(m.preprocess, m.fromMetadata)}`);
    progress.line(`attacking ${images.length} images; scores from ONNX Runtime (${opts.ep}); ${opts.quantize ? '8-bit' : 'float'} attacked images scored`);
    const imagesDir = path.join(opts.report, 'images');
    const examples: NonNullable<EvaluateResult['examples']> = [];
    const pending: Promise<void>[] = [];
    const [h, w] = main.preprocess.size;
    const png = (px: Float32Array, k: number, target: string): Promise<void> => savePixelsPng(px, k, h, w, target);
    let runTotal = 0;
    const result = await evaluateModels(models, {
      images,
      mosImages,
      dataSpec: opts.data,
      mosSpec,
      attacks,
      eps,
      step: opts.step,
      direction: opts.direction,
      seed: opts.seed,
      quantize: opts.quantize === true,
      engine: opts.engine,
      ep: opts.ep,
      onEngine: (line) => progress.line(`engine: ${line}`),
      rScoreVariant: opts.rScore,
      onEvent: (e) => {
        if (e.done === 0) {
          runTotal = e.total;
          progress.start(e.total, e.model);
        }
        progress.update(e.done, {});
        if (e.done === runTotal - 1) progress.stop();
      },
      keepImages: (model, run, clean, attacked) => {
        const stem = (i: number): string => images[i]!.name.replace(/[^A-Za-z0-9._-]+/g, '_').replace(/\.[^.]*$/, '');
        for (let i = 0; i < Math.min(opts.examples, images.length); i++) {
          if (!/^(pgd-\d+|fgsm|noise)-eps/.test(run) || examples.some((x) => x.model === model && x.attacked.includes(`/${stem(i)}.png`) && x.attack !== run)) continue;
          const cleanRel = `images/${model}/clean/${stem(i)}.png`;
          const advRel = `images/${model}/${run}/${stem(i)}.png`;
          pending.push(png(clean, i, path.join(opts.report, cleanRel)), png(attacked, i, path.join(opts.report, advRel)));
          examples.push({ model, attack: run, clean: cleanRel, attacked: advRel, cleanScore: NaN, attackedScore: NaN });
        }
      },
    });
    await Promise.all(pending);
    // keep one example per image and model: the strongest run (last written), with its scores
    const byKey = new Map<string, (typeof examples)[number]>();
    for (const e of examples) byKey.set(`${e.model}/${e.clean}`, e);
    result.examples = [...byKey.values()].map((e) => {
      const m = result.models.find((x) => x.name === e.model)!;
      const idx = m.scores!.images.findIndex((n) => e.clean.endsWith(`/${n.replace(/[^A-Za-z0-9._-]+/g, '_').replace(/\.[^.]*$/, '')}.png`));
      return { ...e, cleanScore: m.scores!.clean[idx]!, attackedScore: m.scores!.attacked[e.attack]![idx]! };
    });
    mkdirSync(imagesDir, { recursive: true });
    const written = await writeReport(result, opts.report);
    if (opts.json) {
      io.out(`${JSON.stringify(result, null, 1)}\n`);
      return;
    }
    io.out(table4Text(result));
    io.out(`report: ${path.join(written.dir, 'index.html')}\n`);
  });
}
