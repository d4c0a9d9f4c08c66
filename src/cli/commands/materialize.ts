import type { Command } from 'commander';
import { Model } from '../../ir/model.js';
import { materialize } from '../../surgery/materialize.js';
import type { CliIO } from '../main.js';

export function registerMaterialize(program: Command, io: CliIO): void {
  program
    .command('materialize')
    .description('deployment form: precompute the spliced blocks\' Q matrices (and AOL kernels) as constants; re-run after every fine-tune')
    .argument('<model>', 'model with a spliced RobustBlock')
    .requiredOption('-o, --output <file>', 'output model file')
    .option('--drop-params', 'do not keep the kernel W and alpha in the metadata')
    .option('--json', 'print the iqa-surgeon/materialize@1 report as JSON')
    .action(async (file: string, opts: { output: string; dropParams?: boolean; json?: boolean }) => {
      const model = Model.load(file);
      const report = await materialize(model, { dropParams: opts.dropParams === true });
      const saved = model.save(opts.output);
      if (opts.json) {
        io.out(`${JSON.stringify({ ...report, file: saved.path, bytes: saved.bytes }, null, 2)}\n`);
        return;
      }
      for (const b of report.blocks) {
        io.out(b.folded.length ? `${b.prefix}: folded ${b.folded.length} values, removed ${b.removedNodes} nodes${b.keptParams ? ' (W and alpha kept in metadata)' : ''}\n` : `${b.prefix}: already materialized\n`);
      }
      io.out(`wrote ${saved.path}\n`);
    });
}
