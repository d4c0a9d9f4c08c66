import type { Command } from 'commander';
import { inspectModel } from '../../analysis/inspect.js';
import { Model } from '../../ir/model.js';
import { formatInspect } from '../format-inspect.js';
import type { CliIO } from '../main.js';
import { collect, parseInputShapes } from '../options.js';

export function registerInspect(program: Command, io: CliIO): void {
  program
    .command('inspect')
    .description('summarize a model: versions, opsets, inputs/outputs, op histogram, params, MACs, external data')
    .argument('<model>', 'ONNX model file')
    .option('--json', 'print the iqa-surgeon/inspect@1 JSON report')
    .option('--input-shape <shape>', 'input shape for MAC counting, N,C,H,W or name=N,C,H,W (repeatable)', collect)
    .action((file: string, opts: { json?: boolean; inputShape?: string[] }) => {
      const model = Model.load(file);
      const shapes = parseInputShapes(opts.inputShape, model.graph.inputs.filter((v) => !v.isInitializer).map((v) => v.name));
      const report = inspectModel(model, shapes ? { inputShapes: shapes } : {});
      io.out(opts.json ? `${JSON.stringify(report, null, 2)}\n` : formatInspect(report));
    });
}
