import type { Command } from 'commander';
import path from 'node:path';
import { listDataset, parseDatasetSpec, selectSplit } from '../../data/dataset.js';
import type { PreprocessFlags } from '../../data/preprocess.js';
import { readPreprocess } from '../../data/preprocess.js';
import { ENGINE_CHOICES, type EngineChoice } from '../../engines/factory.js';
import { Model } from '../../ir/model.js';
import { materialize } from '../../surgery/materialize.js';
import { finetune, type Defence } from '../../train/finetune.js';
import type { LossKind } from '../../train/losses.js';
import { validateModel } from '../../validation/validate.js';
import type { CliIO } from '../main.js';
import { collect, parseChoice, parseInteger, parseNumberIn, parseThreads } from '../options.js';
import { addScoreOptions, scoreLine, scoreSpecFor, type ScoreFlags } from '../score-options.js';
import { addPreprocessOptions, describePreprocess, preprocessFor } from '../preprocess-options.js';
import { makeProgress } from '../progress.js';

interface FinetuneFlags extends PreprocessFlags, ScoreFlags {
  data: string;
  output: string;
  epochs: number;
  lr: number;
  lrPretrainedRatio: number;
  batch: number;
  microBatch?: number;
  loss: LossKind;
  defence: Defence;
  trainable: string[];
  new: string[];
  freezeOrth?: boolean;
  engine: EngineChoice;
  ep?: 'cpu' | 'cuda';
  threads?: number;
  stageSumMaxGb?: number;
  resume?: string;
  materialize?: boolean;
  seed: number;
  splitSeed: number;
  splitFile?: string;
  json?: boolean;
}

export function registerFinetune(program: Command, io: CliIO): void {
  addScoreOptions(addPreprocessOptions(
    program
      .command('finetune')
      .description('fine-tune a (spliced, pruned) model on scored images: Adam, norm-in-norm/L1/MSE, optional NT or AT defence; best validation SROCC epoch kept, checkpoints each epoch')
      .argument('<model>', 'model to fine-tune')
      .requiredOption('--data <spec>', 'scored dataset (koniq:, csv:, folder: spec; docs/DATA.md): train split to train, val split to validate')
      .requiredOption('-o, --output <file>', 'output model file (checkpoints in <output>.ckpt/)')
      .option('--epochs <n>', 'epochs', parseInteger('--epochs', 1, 1000), 5)
      .option('--lr <x>', 'learning rate of the new parameters (the RobustBlock and --new)', parseNumberIn('--lr', 1e-12, 1), 1e-4)
      .option('--lr-pretrained-ratio <x>', 'learning rate of the pretrained parameters as a fraction of --lr', parseNumberIn('--lr-pretrained-ratio', 0, 10), 0.1)
      .option('--batch <n>', 'images per batch (>= 2)', parseInteger('--batch', 2, 1024), 8)
      .option('--micro-batch <n>', 'images per engine call, 1 to 1024 (default: the whole batch); the step and its loss stay the batch\'s, gradients are summed over the calls, the engine\'s memory is a micro-batch\'s', parseInteger('--micro-batch', 1, 1024))
      .option('--loss <loss>', 'norm-in-norm, l1 or mse', parseChoice('--loss', ['norm-in-norm', 'l1', 'mse'] as const), 'norm-in-norm')
      .option('--defence <d>', 'none, nt (gradient-norm regularisation) or at (FGSM adversarial training)', parseChoice('--defence', ['none', 'nt', 'at'] as const), 'none')
      .option('--trainable <selector>', 'parameters to train (name, glob, stage:<name>, robust-block, all); repeatable', collect, [])
      .option('--new <selector>', 'parameters that get the full learning rate besides the RobustBlock\'s; repeatable', collect, [])
      .option('--freeze-orth', 'keep the orthogonal conv (Cayley W and alpha) fixed')
      .option('--engine <engine>', `gradient engine: ${ENGINE_CHOICES.join(', ')}`, parseChoice('--engine', ENGINE_CHOICES), 'auto')
      .option('--ep <provider>', 'execution provider of the ort engine: cpu or cuda', parseChoice('--ep', ['cpu', 'cuda'] as const))
      .option('--threads <n>', 'intra-op threads of the ort engine, 1 to 1024 (default: ONNX Runtime\'s, one per core)', parseThreads)
      .option('--stage-sum-max-gb <g>', 'micro-batches: sum through the RobustBlock\'s Cayley once per step while its Q takes at most this many GB, 0 to 1024 (default: 1/16 of memory; the paper\'s position: Q 2.3 GB, a batch of 32 in calls of 8 peaked at 18 GB summed, 12.9 GB per call, and ran 4.6x faster)', parseNumberIn('--stage-sum-max-gb', 0, 1024))
      .option('--resume <dir>', 'continue from the last checkpoint in this folder')
      .option('--materialize', 'after training, precompute the RobustBlock for deployment')
      .option('--seed <s>', 'seed of the batch order', parseInteger('--seed', 0, 2 ** 31), 0)
      .option('--split-seed <s>', 'seed of the 70/10/20 split', parseInteger('--split-seed', 0, 2 ** 32 - 1), 0)
      .option('--split-file <csv>', 'a CSV with columns image_name (or path) and split')
      .option('--json', 'print the finetune@1 report as JSON'),
  )).action(async (file: string, opts: FinetuneFlags) => {
    const model = Model.load(file);
    const preprocess = preprocessFor(model, opts);
    const score = scoreSpecFor(model, opts);
    const ds = listDataset(parseDatasetSpec(opts.data));
    const split = { seed: opts.splitSeed, ...(opts.splitFile ? { splitFile: opts.splitFile } : {}) };
    const train = selectSplit(ds.items, 'train', split);
    const val = selectSplit(ds.items, 'val', split);
    const progress = makeProgress({ json: opts.json, err: io.err });
    if (!opts.json) io.err(`${describePreprocess(preprocess, readPreprocess(model) !== undefined)}\n${scoreLine(model, opts)}\n`);
    let started = Date.now();
    let images = 0;
    const result = await finetune(model, {
      train,
      val,
      preprocess,
      score,
      epochs: opts.epochs,
      batch: opts.batch,
      ...(opts.microBatch !== undefined ? { microBatch: opts.microBatch } : {}),
      lr: opts.lr,
      lrPretrainedRatio: opts.lrPretrainedRatio,
      loss: opts.loss,
      defence: opts.defence,
      trainable: opts.trainable.length ? opts.trainable : ['all'],
      newSelectors: opts.new,
      freezeOrth: opts.freezeOrth === true,
      engine: opts.engine,
      ...(opts.ep ? { ep: opts.ep } : {}),
      ...(opts.threads !== undefined ? { threads: opts.threads } : {}),
      ...(opts.stageSumMaxGb !== undefined ? { stageSumMaxBytes: opts.stageSumMaxGb * 1e9 } : {}),
      seed: opts.seed,
      checkpointDir: opts.resume ?? `${opts.output}.ckpt`,
      resume: opts.resume !== undefined,
      onEvent: (e) => {
        if (e.kind === 'start') progress.line(`engine: ${e.engine}; ${e.trainable} trainable parameters (${e.newParams} new); ${e.images} training images, ${e.batches} batches per epoch${e.microBatch !== undefined ? `, engine calls of at most ${e.microBatch} images` : ''}`);
        else if (e.kind === 'batch') {
          if (e.batch === 1) {
            progress.start(e.batches, `epoch ${e.epoch}`);
            started = Date.now();
            images = 0;
          }
          images += e.images;
          progress.update(e.batch, { loss: e.loss, imagesPerSecond: images / Math.max(1e-3, (Date.now() - started) / 1000) });
          if (e.batch === e.batches) progress.stop();
        } else {
          const s = e.summary;
          progress.line(`epoch ${s.epoch}: ${s.epoch === 0 ? 'before training' : `train loss ${s.trainLoss.toFixed(4)}`}, val loss ${s.valLoss.toFixed(4)}, val SROCC ${s.valSrocc.toFixed(4)}, PLCC ${s.valPlcc.toFixed(4)}`);
        }
      },
    });
    let materialized = false;
    if (opts.materialize) {
      await materialize(model, { dropParams: false });
      materialized = true;
    }
    await validateModel(model, { step: 'finetune' });
    const saved = model.save(opts.output);
    if (opts.json) {
      io.out(`${JSON.stringify({ ...result, materialized, file: saved.path, checkpoints: path.resolve(opts.resume ?? `${opts.output}.ckpt`) }, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2)}\n`);
      return;
    }
    io.out(`best epoch ${result.best} (val SROCC ${result.epochs.find((e) => e.epoch === result.best)!.valSrocc.toFixed(4)}); wrote ${saved.path}${materialized ? ' (RobustBlock materialized)' : ''}\n`);
  });
}
