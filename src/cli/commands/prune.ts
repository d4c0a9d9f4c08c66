import type { Command } from 'commander';
import { UsageError } from '../../errors.js';
import { Model } from '../../ir/model.js';
import { validateModel } from '../../validation/validate.js';
import { pruneModel, type PruneReport, type PruneScope } from '../../surgery/prune/prune.js';
import { shrinkPruned, type ShrinkReport } from '../../surgery/prune/shrink.js';
import type { CliIO } from '../main.js';

function parseRatio(text: string): number {
  if (!/^(0|0?\.\d+|1(\.0*)?|\d+(\.\d+)?(e-?\d+)?)$/i.test(text.trim())) throw new UsageError(`--ratio '${text}' must be a number in [0, 0.9]`);
  const v = Number(text);
  if (!(v >= 0 && v <= 0.9)) throw new UsageError(`--ratio ${text} is outside [0, 0.9]`);
  return v;
}

export function registerPrune(program: Command, io: CliIO): void {
  program
    .command('prune')
    .description('structured filter pruning: mask the smallest-norm filters of each conv (and their BatchNormalization), optionally remove them physically')
    .argument('<model>', 'model to prune (the original or a spliced one)')
    .requiredOption('-o, --output <file>', 'output model file')
    .option('--ratio <r>', 'fraction of each conv\'s filters to prune, in [0, 0.9]', parseRatio, 0.1)
    .option('--criterion <c>', 'l2 (the paper\'s) or l1 filter norm', 'l2')
    .option('--scope <s>', 'all (model convs and the block\'s reduce conv), backbone or block', 'all')
    .option('--shrink', 'remove the pruned channels physically (a smaller, faster, equivalent model)')
    .option('--json', 'print the iqa-surgeon/prune@1 report as JSON')
    .action(async (file: string, opts: { output: string; ratio: number; criterion: string; scope: string; shrink?: boolean; json?: boolean }) => {
      if (opts.criterion !== 'l1' && opts.criterion !== 'l2') throw new UsageError(`--criterion must be l1 or l2 (got '${opts.criterion}')`);
      if (!['all', 'backbone', 'block'].includes(opts.scope)) throw new UsageError(`--scope must be all, backbone or block (got '${opts.scope}')`);
      const model = Model.load(file);
      const report: PruneReport = pruneModel(model, { criterion: opts.criterion, ratio: opts.ratio, scope: opts.scope as PruneScope });
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
      if (shrink) io.out(`shrunk: ${shrink.parametersBefore} -> ${shrink.parametersAfter} parameters (${((1 - shrink.parametersAfter / shrink.parametersBefore) * 100).toFixed(1)}% fewer)\n`);
      io.out(`wrote ${saved.path}\n`);
    });
}
