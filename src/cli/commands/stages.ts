import type { Command } from 'commander';
import { computeStages } from '../../analysis/stages.js';
import { Model } from '../../ir/model.js';
import { formatCount, table } from '../format.js';
import type { CliIO } from '../main.js';
import { collect, parseInputShapes } from '../options.js';

export function registerStages(program: Command, io: CliIO): void {
  program
    .command('stages')
    .description('map the conv stages: where each resolution level ends, its splice edge, [C,H,W], params, MACs')
    .argument('<model>', 'ONNX model file')
    .option('--input-shape <shape>', 'input shape N,C,H,W or name=N,C,H,W (repeatable); needed when the model input is dynamic', collect)
    .option('--no-probe', 'use static shape rules only (never run ONNX Runtime)')
    .option('--json', 'print the iqa-surgeon/stages@1 JSON report')
    .action(async (file: string, opts: { inputShape?: string[]; probe: boolean; json?: boolean }) => {
      const model = Model.load(file);
      const shapes = parseInputShapes(opts.inputShape, model.graph.inputs.filter((v) => !v.isInitializer).map((v) => v.name));
      const map = await computeStages(model, { ...(shapes ? { inputShapes: shapes } : {}), probe: opts.probe });
      if (opts.json) {
        io.out(`${JSON.stringify(map, null, 2)}\n`);
        return;
      }
      io.out(`input ${map.input} [${map.inputShape.join(',')}]\n`);
      const rows = [['#', 'name', '[C,H,W]', 'convs', 'params', 'MACs', 'joins', 'splice edge']];
      for (const s of map.stages) {
        rows.push([String(s.index), s.name, `[${s.shape.join(',')}]`, String(s.convs.length), formatCount(s.params), formatCount(s.macs), String(s.residualJoins.length), s.edge]);
      }
      io.out(table(rows, ''));
    });
}
