import type { Command } from 'commander';
import { Model } from '../../ir/model.js';
import { formatBytes } from '../format.js';
import type { CliIO } from '../main.js';
import { parsePositiveInt } from '../options.js';

export function registerConvert(program: Command, io: CliIO): void {
  program
    .command('convert')
    .description('re-save a model (e.g. to move weights to or from an external data file); the input is never modified')
    .argument('<in>', 'ONNX model file')
    .requiredOption('-o, --output <file>', 'output model file (written atomically; must differ from the input)')
    .option('--external-data', 'store tensors of at least --threshold bytes in <output>.data beside the output')
    .option('--inline', 'store every tensor inside the model file (fails past protobuf\'s 2 GB limit)')
    .option('--threshold <bytes>', 'smallest tensor moved to the external data file', parsePositiveInt('--threshold'), 1024)
    .option('--json', 'print the result as JSON')
    .action((file: string, opts: { output: string; externalData?: boolean; inline?: boolean; threshold: number; json?: boolean }) => {
      const model = Model.load(file);
      const mode = opts.externalData ? true : opts.inline ? false : 'auto';
      const r = model.save(opts.output, { externalData: mode, externalThresholdBytes: opts.threshold });
      if (opts.json) {
        io.out(`${JSON.stringify({ schema: 'iqa-surgeon/convert@1', ...r }, null, 2)}\n`);
        return;
      }
      io.out(`wrote ${r.path} (${formatBytes(r.bytes)})\n`);
      if (r.externalDataFile) io.out(`wrote ${r.externalDataFile} (${r.externalTensors} tensors, ${formatBytes(r.externalBytes)})\n`);
    });
}
