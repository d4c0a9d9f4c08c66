import type { Command } from 'commander';
import { UsageError } from '../../errors.js';
import { describeSpec, listDataset, parseDatasetSpec, selectSplit, SPLITS, type DatasetItem, type SplitName } from '../../data/dataset.js';
import type { ImageError } from '../../data/image.js';
import { loadBatches } from '../../data/loader.js';
import { DEFAULT_SEED, DEFAULT_SIZE, makeDefaultDataset } from '../../data/make-default.js';
import { readPreprocess, writePreprocess, type PreprocessFlags } from '../../data/preprocess.js';
import { Model } from '../../ir/model.js';
import type { CliIO } from '../main.js';
import { parsePositiveInt, parseSeed } from '../options.js';
import { addPreprocessOptions, preprocessFor } from '../preprocess-options.js';


function parseSplit(text: string): SplitName | 'all' {
  if (text === 'all' || SPLITS.includes(text as SplitName)) return text as SplitName | 'all';
  throw new UsageError(`--split '${text}' must be train, val, test or all`);
}

export function registerDataset(program: Command, io: CliIO): void {
  const dataset = program.command('dataset').description('image datasets: list and load them (--data <spec>), make the embedded synthetic dataset, store preprocessing in a model');

  dataset
    .command('make-default')
    .description('write the embedded synthetic IQA dataset (procedural scenes, graded distortions, SSIM-based MOS) as <out>/images + <out>/scores.csv')
    .requiredOption('--out <dir>', 'new (or empty) folder to create; written in a temporary folder and renamed into place')
    .option('--size <n>', 'number of images', parsePositiveInt('--size'), DEFAULT_SIZE)
    .option('--seed <s>', 'seed (the same seed gives the same files)', parseSeed('--seed'), DEFAULT_SEED)
    .option('--json', 'print the iqa-surgeon/dataset-make-default@1 report')
    .action(async (opts: { out: string; size: number; seed: number; json?: boolean }) => {
      const tty = !opts.json && process.stderr.isTTY === true;
      const r = await makeDefaultDataset({
        out: opts.out,
        size: opts.size,
        seed: opts.seed,
        ...(tty ? { onProgress: (d: number, t: number) => io.err(`\rgenerating ${d}/${t}${d === t ? '\n' : ''}`) } : {}),
      });
      if (opts.json) {
        io.out(`${JSON.stringify(r, null, 2)}\n`);
        return;
      }
      io.out(`wrote ${r.images} images (${r.scenes} scenes, ${r.width}x${r.height}, seed ${r.seed}) to ${r.out}\n`);
      io.out(`scores ${r.csv}: MOS-like 1..5 from SSIM, min ${r.mos.min} mean ${r.mos.mean} max ${r.mos.max}\n`);
    });

  addPreprocessOptions(
    dataset
      .command('info')
      .description('list a dataset (count, scores, split); with --load decode every image through the preprocessing')
      .requiredOption('--data <spec>', 'koniq:<dir>[,images=<sub>] | csv:<file>[,root=<dir>] | folder:<dir> | a path (auto-detected)')
      .option('--split <name>', 'train, val, test or all', parseSplit, 'all')
      .option('--split-seed <s>', 'seed of the 70/10/20 split', parseSeed('--split-seed'), 0)
      .option('--split-file <csv>', 'a CSV with columns image_name (or path) and split, used instead of the seeded split')
      .option('--skip-bad', 'leave out unusable rows and images that cannot be decoded, and count them')
      .option('--load', 'decode and preprocess every image (checks the files; reports the tensor shape)')
      .option('--model <onnx>', 'take preprocessing from this model (input size, metadata iqa-surgeon.preprocess); flags override')
      .option('--json', 'print the iqa-surgeon/dataset-info@1 report'),
  ).action(async (opts: PreprocessFlags & { data: string; split: SplitName | 'all'; splitSeed: number; splitFile?: string; skipBad?: boolean; load?: boolean; model?: string; json?: boolean }) => {
    const spec = parseDatasetSpec(opts.data);
    const ds = listDataset(spec, { skipBad: opts.skipBad === true });
    const items: DatasetItem[] = opts.split === 'all' ? ds.items : selectSplit(ds.items, opts.split, { seed: opts.splitSeed, ...(opts.splitFile ? { splitFile: opts.splitFile } : {}) });
    const scored = items.filter((it) => it.mos !== undefined).map((it) => it.mos!);
    const report: Record<string, unknown> = {
      schema: 'iqa-surgeon/dataset-info@1',
      kind: spec.kind,
      location: spec.location,
      split: opts.split,
      items: items.length,
      skippedRows: ds.skipped.map((s) => ({ line: s.line, reason: s.reason })),
      mos: scored.length ? { count: scored.length, min: scored.reduce((a, b) => Math.min(a, b)), max: scored.reduce((a, b) => Math.max(a, b)), mean: Number((scored.reduce((a, b) => a + b, 0) / scored.length).toFixed(4)) } : null,
    };
    if (opts.load) {
      const pre = preprocessFor(opts.model ? Model.load(opts.model) : undefined, opts);
      const bad: { file: string; error: string }[] = [];
      let loaded = 0;
      let shape: number[] = [];
      const onSkip = (_it: DatasetItem, e: ImageError) => bad.push({ file: e.file, error: e.message });
      const tty = !opts.json && process.stderr.isTTY === true;
      for await (const b of loadBatches(items, pre, { skipBad: opts.skipBad === true, onSkip })) {
        loaded += b.dims[0];
        shape = [1, ...b.dims.slice(1)];
        if (tty) io.err(`\rloaded ${loaded + bad.length}/${items.length}`);
      }
      if (tty) io.err('\n');
      report.preprocess = pre;
      report.loaded = loaded;
      report.tensorShape = shape;
      report.skippedImages = bad;
    }
    if (opts.json) {
      io.out(`${JSON.stringify(report, null, 2)}\n`);
      return;
    }
    io.out(`dataset ${describeSpec(spec)}\n`);
    io.out(`items ${items.length}${opts.split !== 'all' ? ` (split ${opts.split})` : ''}${ds.skipped.length ? `, ${ds.skipped.length} bad rows skipped` : ''}\n`);
    const mos = report.mos as { count: number; min: number; max: number; mean: number } | null;
    io.out(mos ? `MOS ${mos.count} scored: min ${mos.min} mean ${mos.mean} max ${mos.max}\n` : 'MOS none (images without scores)\n');
    if (opts.load) {
      const skipped = (report.skippedImages as unknown[]).length;
      io.out(`loaded ${String(report.loaded)} images as [${(report.tensorShape as number[]).join(',')}] float32${skipped ? `, ${skipped} bad images skipped` : ''}\n`);
    }
  });

  addPreprocessOptions(
    dataset
      .command('preprocess')
      .description("show a model's preprocessing (metadata iqa-surgeon.preprocess, else its input size and the defaults); with -o write a copy that stores it, flags applied")
      .argument('<model>', 'ONNX model file')
      .option('-o, --output <file>', 'write the model with the resolved preprocessing stored in its metadata_props')
      .option('--json', 'print the resolved preprocessing as JSON'),
  ).action((file: string, opts: PreprocessFlags & { output?: string; json?: boolean }) => {
    const model = Model.load(file);
    const stored = readPreprocess(model);
    const pre = preprocessFor(model, opts);
    if (opts.output) {
      writePreprocess(model, pre);
      model.save(opts.output);
    }
    if (opts.json) {
      io.out(`${JSON.stringify({ schema: 'iqa-surgeon/preprocess@1', stored: stored !== undefined, preprocess: pre, ...(opts.output ? { output: opts.output } : {}) }, null, 2)}\n`);
      return;
    }
    io.out(`preprocess (${stored ? 'from metadata' : 'not stored; defaults and input shape'}): size ${pre.size.join('x')}, range [${pre.range.join(', ')}], mean [${pre.mean.join(', ')}], std [${pre.std.join(', ')}], ${pre.colorOrder}, kernel ${pre.kernel}, fit ${pre.fit}\n`);
    if (opts.output) io.out(`wrote ${opts.output}\n`);
  });
}
