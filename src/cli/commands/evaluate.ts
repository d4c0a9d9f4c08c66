import type { Command } from 'commander';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { ScoreSpec } from '../../attacks/score.js';
import { listDataset, parseDatasetSpec, selectSplit, SPLITS, type DatasetItem, type SplitName } from '../../data/dataset.js';
import { savePixelsPng } from '../../data/pixels.js';
import { readPreprocess, type PreprocessFlags } from '../../data/preprocess.js';
import { ENGINE_CHOICES, type EngineChoice } from '../../engines/factory.js';
import { UsageError } from '../../errors.js';
import { evaluateModels, parseAttackList, planRuns, type EvaluatedModel } from '../../evaluate/evaluate.js';
import { EvaluationState, fileDigest } from '../../evaluate/state.js';
import { VERSION } from '../../version.js';
import { Model } from '../../ir/model.js';
import { seedSpreadText, table4Text } from '../../report/table.js';
import { writeReport } from '../../report/write.js';
import type { CliIO } from '../main.js';
import { addScoreOptions, scoreLine, scoreSpecFor, type ScoreFlags } from '../score-options.js';
import { addPreprocessOptions, describePreprocess, preprocessFor } from '../preprocess-options.js';
import { makeProgress } from '../progress.js';
import { parseChoice, parseInteger, parseNumberIn, parseSeed, parseThreads } from '../options.js';

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
  seeds?: string;
  randomStart?: boolean;
  fresh?: boolean;
  direction: 'up' | 'down';
  quantize?: boolean;
  engine: EngineChoice;
  ep: 'cpu' | 'cuda';
  threads?: number;
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

/** `--seeds`: a count N (seeds --seed .. --seed+N-1) or a comma-separated list. */
export function parseSeeds(text: string, base: number): number[] {
  const t = text.trim();
  if (/^\d{1,4}$/.test(t)) {
    const count = Number(t);
    if (count < 1 || count > 1000) throw new UsageError(`--seeds ${t}: a count must be in [1, 1000]`);
    return Array.from({ length: count }, (_, i) => base + i);
  }
  const parts = t.split(',').map((x) => x.trim());
  if (parts.length < 2 || parts.some((p) => !/^\d{1,10}$/.test(p) || Number(p) > 2 ** 31)) throw new UsageError(`--seeds '${text}' must be a count (e.g. 5) or a comma-separated list of seeds in [0, 2^31] (e.g. 1,2,3)`);
  if (new Set(parts.map(Number)).size !== parts.length) throw new UsageError(`--seeds '${text}' lists a seed twice`);
  return parts.map(Number);
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
      .option('--seeds <list|count>', 'repeat the randomised attacks (noise, UAP, PGD with --random-start) per seed and report the spread: a count N (seeds --seed..--seed+N-1) or a list 1,2,3')
      .option('--random-start', 'PGD starts from a seeded uniform point in the eps ball')
      .option('--fresh', 'discard the saved scores of an interrupted evaluation in --report and start over')
      .option('--direction <d>', 'up (raise the predicted quality, default) or down', parseChoice('--direction', ['up', 'down'] as const), 'up')
      .option('--quantize', 'score the 8-bit attacked images an attacker can ship (default: the float images)')
      .option('--engine <engine>', `gradient engine for the attacks: ${ENGINE_CHOICES.join(', ')}`, parseChoice('--engine', ENGINE_CHOICES), 'auto')
      .option('--ep <provider>', 'ONNX Runtime execution provider of the scores and of the ort engine: cpu or cuda', parseChoice('--ep', ['cpu', 'cuda'] as const), 'cpu')
      .option('--threads <n>', 'ONNX Runtime intra-op threads of the scores and of the ort engine, 1 to 1024 (default: ONNX Runtime\'s, one per core)', parseThreads)
      .option('--r-score <variant>', 'msu (default) or paper', parseChoice('--r-score', ['msu', 'paper'] as const), 'msu')
      .option('--examples <n>', 'attacked images shown beside their originals in the report', parseInteger('--examples', 0, 100), 3)
      .requiredOption('--report <dir>', 'report folder (report.json, report.md, plots/, index.html)')
      .option('--json', 'print the evaluate@1 result as JSON'),
  )).action(async (file: string, opts: EvaluateFlags) => {
    const attacks = parseAttackList(opts.attacks);
    const eps = parseEps(opts.eps);
    const seeds = opts.seeds !== undefined ? parseSeeds(opts.seeds, opts.seed) : undefined;
    const describe = (f: string): EvaluatedModel & { fromMetadata: boolean; scoreText: string } => {
      const model = Model.load(f);
      const score: ScoreSpec = scoreSpecFor(model, opts);
      return { file: f, name: path.basename(f).replace(/\.onnx$/i, ''), role: '', preprocess: preprocessFor(model, opts), score, fromMetadata: readPreprocess(model) !== undefined, scoreText: scoreLine(model, opts) };
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
    for (const m of models) progress.line(`${m.name}: ${describePreprocess(m.preprocess, m.fromMetadata)}\n${m.name}: ${m.scoreText}`);
    progress.line(`attacking ${images.length} images; scores from ONNX Runtime (${opts.ep}); ${opts.quantize ? '8-bit' : 'float'} attacked images scored`);
    const runs = planRuns(attacks, eps, opts.randomStart === true);
    if (seeds && seeds.length > 1) progress.line(`randomised attacks (${runs.filter((r) => r.randomised).map((r) => r.runKey).join(', ') || 'none'}) repeated for seeds ${seeds.join(', ')}`);
    // everything the scores depend on: a changed command never reuses saved scores
    const params = {
      toolkitVersion: VERSION,
      models: models.map((m) => ({ file: path.resolve(m.file), sha256: fileDigest(m.file), preprocess: m.preprocess, score: m.score, source: m.source ? { file: path.resolve(m.source.file), sha256: fileDigest(m.source.file), preprocess: m.source.preprocess, score: m.source.score } : null })),
      images: images.map((i) => [i.name, fileDigest(i.path)]),
      attacks: runs.map((r) => r.runKey),
      step: opts.step,
      seeds: seeds ?? [opts.seed],
      direction: opts.direction,
      randomStart: opts.randomStart === true,
      quantize: opts.quantize === true,
      engine: opts.engine,
      ep: opts.ep,
    };
    const state = EvaluationState.open(opts.report, params, { fresh: opts.fresh === true });
    if (state.resumed > 0) progress.line(`resuming: ${state.resumed} finished unit(s) (batches of images under one attack and seed) taken from ${path.join(opts.report, 'evaluate-state.json')}`);
    const imagesDir = path.join(opts.report, 'images');
    // examples: the first --examples images under the strongest additive run (the last listed), first seed
    const exampleRun = [...runs].reverse().find((r) => /^(pgd-\d+|fgsm|noise)-eps/.test(r.runKey))?.runKey;
    const exampleSeed = (seeds ?? [opts.seed])[0]!;
    const nExamples = exampleRun === undefined ? 0 : Math.min(opts.examples, images.length);
    const stem = (i: number): string => images[i]!.name.replace(/[^A-Za-z0-9._-]+/g, '_').replace(/\.[^.]*$/, '');
    const [h, w] = main.preprocess.size;
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
      ...(seeds ? { seeds } : {}),
      randomStart: opts.randomStart === true,
      quantize: opts.quantize === true,
      engine: opts.engine,
      ep: opts.ep,
      ...(opts.threads !== undefined ? { threads: opts.threads } : {}),
      onEngine: (line) => progress.line(`engine: ${line}`),
      rScoreVariant: opts.rScore,
      store: state,
      onEvent: (e) => {
        if (e.done === 1) {
          runTotal = e.total;
          progress.start(e.total, e.model);
        }
        progress.update(e.done, {});
        if (e.done === runTotal) progress.stop();
      },
      keepImages: async (model, run, seed, start, k, clean, attacked) => {
        if (run !== exampleRun || seed !== exampleSeed) return;
        const writes: Promise<void>[] = [];
        for (let i = start; i < Math.min(start + k, nExamples); i++) {
          writes.push(savePixelsPng(clean, i - start, h, w, path.join(opts.report, `images/${model}/clean/${stem(i)}.png`)));
          writes.push(savePixelsPng(attacked, i - start, h, w, path.join(opts.report, `images/${model}/${run}/${stem(i)}.png`)));
        }
        await Promise.all(writes);
      },
    });
    result.examples = result.models.flatMap((m) =>
      Array.from({ length: nExamples }, (_, i) => ({
        model: m.name,
        attack: exampleRun!,
        clean: `images/${m.name}/clean/${stem(i)}.png`,
        attacked: `images/${m.name}/${exampleRun}/${stem(i)}.png`,
        cleanScore: m.scores!.clean[i]!,
        attackedScore: m.scores!.attacked[exampleRun!]![i]!,
      })),
    );
    mkdirSync(imagesDir, { recursive: true });
    const written = await writeReport(result, opts.report);
    if (opts.json) {
      io.out(`${JSON.stringify(result, null, 1)}\n`);
      return;
    }
    io.out(table4Text(result));
    const spreadText = seedSpreadText(result);
    if (spreadText !== '') io.out(`\nspread over seeds ${result.seeds?.join(', ') ?? ''}:\n${spreadText}`);
    io.out(`report: ${path.join(written.dir, 'index.html')}\n`);
  });
}
