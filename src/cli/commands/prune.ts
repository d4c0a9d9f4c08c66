import type { Command } from 'commander';
import { UsageError } from '../../errors.js';
import { Model } from '../../ir/model.js';
import { validateModel } from '../../validation/validate.js';
import { pruneModel, type PruneReport, type PruneScope } from '../../surgery/prune/prune.js';
import { shrinkPruned, type ShrinkReport } from '../../surgery/prune/shrink.js';
import { listDataset, parseDatasetSpec, selectSplit } from '../../data/dataset.js';
import type { PreprocessFlags } from '../../data/preprocess.js';
import { prunePls } from '../../train/prune-pls.js';
import type { CliIO } from '../main.js';
import { parseInteger, parseNumberIn, parseSeed } from '../options.js';
import { addPreprocessOptions, preprocessFor } from '../preprocess-options.js';

export function registerPrune(program: Command, io: CliIO): void {
  addPreprocessOptions(
  program
    .command('prune')
    .description('structured filter pruning: mask the smallest-norm filters of each conv (and their BatchNormalization), optionally remove them physically')
    .argument('<model>', 'model to prune (the original or a spliced one)')
    .requiredOption('-o, --output <file>', 'output model file')
    .option('--ratio <r>', 'fraction of each conv\'s filters to prune, in [0, 0.9]', parseNumberIn('--ratio', 0, 0.9), 0.1)
    .option('--criterion <c>', 'l2 (the paper\'s) or l1 filter norm, or pls (PLS-VIP on features of --data)', 'l2')
    .option('--data <spec>', 'scored images for --criterion pls (their train split; docs/DATA.md)')
    .option('--pls-images <n>', 'images the PLS features come from', parseInteger('--pls-images', 3, 100000), 200)
    .option('--split-seed <s>', 'seed of the 70/10/20 split', parseSeed('--split-seed'), 0)
    .option('--align <n>', 'round each conv\'s kept filters to a multiple of n (8 makes shrunk models fast on ONNX Runtime CPU)', parseInteger('--align', 1, 256), 1)
    .option('--scope <s>', 'all (model convs and the block\'s reduce conv), backbone or block', 'all')
    .option('--shrink', 'remove the pruned channels physically (a smaller, faster, equivalent model)')
    .option('--json', 'print the iqa-surgeon/prune@1 report as JSON'),
  ).action(async (file: string, opts: PreprocessFlags & { output: string; ratio: number; criterion: string; scope: string; shrink?: boolean; json?: boolean; data?: string; plsImages: number; splitSeed: number; align: number }) => {
      if (opts.criterion !== 'l1' && opts.criterion !== 'l2' && opts.criterion !== 'pls') throw new UsageError(`--criterion must be l1, l2 or pls (got '${opts.criterion}')`);
      if (!['all', 'backbone', 'block'].includes(opts.scope)) throw new UsageError(`--scope must be all, backbone or block (got '${opts.scope}')`);
      if (opts.criterion === 'pls' && !opts.data) throw new UsageError('--criterion pls needs --data <spec> (scored images to compute the features on)');
      const model = Model.load(file);
      let report: PruneReport;
      if (opts.criterion === 'pls') {
        const items = selectSplit(listDataset(parseDatasetSpec(opts.data!)).items, 'train', { seed: opts.splitSeed });
        report = await prunePls(model, { ratio: opts.ratio, scope: opts.scope as PruneScope, items, maxImages: opts.plsImages, preprocess: preprocessFor(model, opts) });
      } else report = pruneModel(model, { criterion: opts.criterion, ratio: opts.ratio, scope: opts.scope as PruneScope, align: opts.align });
      let shrink: ShrinkReport | undefined;
      if (opts.shrink) shrink = shrinkPruned(model);
      await validateModel(model, { step: opts.shrink ? 'prune --shrink' : 'prune' });
      const saved = model.save(opts.output);
      if (opts.json) {
        io.out(`${JSON.stringify({ schema: 'iqa-surgeon/prune@1', ...report, shrink: shrink ?? null, file: saved.path, bytes: saved.bytes }, null, 2)}\n`);
        return;
      }
      io.out(`pruned ${report.filtersPruned} of ${report.filtersInScope} filters (${report.criterion}, ratio ${report.ratio}, scope ${report.scope}) in ${report.pruned.length} convs\n`);
      for (const l of report.leftOut) io.out(`  left out ${l.node}: ${l.reason}\n`);
      if (shrink) {
        io.out(`shrunk: ${shrink.parametersBefore} -> ${shrink.parametersAfter} parameters (${((1 - shrink.parametersAfter / shrink.parametersBefore) * 100).toFixed(1)}% fewer)\n`);
        for (const k of shrink.keptMasked) io.out(`  kept masked ${k.node}: ${k.reason}\n`);
      }
      io.out(`wrote ${saved.path}\n`);
    });
}
