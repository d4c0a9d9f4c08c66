import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import { CheckFailedError, UsageError } from '../../errors.js';
import { compareModels, type EquivOptions } from '../../equiv/compare.js';
import { formatReport, reportToJson } from '../../equiv/report.js';
import { Model } from '../../ir/model.js';
import type { CliIO } from '../main.js';
import { collect, parseInputShapes } from '../options.js';

function tolerance(option: string) {
  return (v: string): number => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n) || n < 0) throw new UsageError(`${option} '${v}' must be a number >= 0 (like 1e-4)`);
    return n;
  };
}

interface EquivCliOptions {
  structural?: boolean;
  atol?: number;
  rtol?: number;
  perLayer?: boolean;
  inputs?: string;
  inputShape?: string[];
  json?: boolean;
  mirror?: boolean;
}

/** `--inputs`: a seed today; a folder of images is a later slice. */
function parseSeed(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  if (/^\d+$/.test(text) && Number.isSafeInteger(Number(text))) return Number(text);
  if (existsSync(text)) throw new UsageError(`--inputs '${text}': comparing on real images from a folder is not available yet; give a seed (a non-negative integer) for random inputs`);
  throw new UsageError(`--inputs '${text}' must be a seed (a non-negative integer); folders of images are not available yet`);
}

export function registerEquiv(program: Command, io: CliIO): void {
  program
    .command('equiv')
    .description('check that two models compute the same (numeric, on seeded inputs) or are the same graph (--structural); with one model, run it twice (determinism)')
    .argument('<a>', 'reference model (for example the released one)')
    .argument('[b]', 'model to check against it (for example the patched one); left out: A run twice')
    .option('--structural', 'compare graphs (node order, node names and tensor names do not matter) instead of running them')
    .option('--atol <x>', 'absolute tolerance (default 1e-4; with --structural: tolerance on weights, default 0 = byte-equal)', tolerance('--atol'))
    .option('--rtol <x>', 'relative tolerance, relative to A (default 1e-3)', tolerance('--rtol'))
    .option('--per-layer', 'also compare every intermediate value with the same name in both models, and name the first node that diverges')
    .option('--inputs <seed>', 'seed of the random inputs (default 0)')
    .option('--input-shape <shape>', 'dims for a graph input (N,C,H,W or name=N,C,H,W, repeatable); otherwise symbolic dims take the other model\'s fixed dim, else 1', collect)
    .option('--mirror', 'compare against the TensorFlow.js mirror (not available yet)')
    .option('--json', 'print the iqa-surgeon/equiv@1 report as JSON')
    .action(async (aFile: string, bFile: string | undefined, opts: EquivCliOptions) => {
      if (opts.mirror) throw new UsageError('--mirror (comparison with the TensorFlow.js mirror) is not available yet; compare two ONNX files instead');
      const seed = parseSeed(opts.inputs);
      if (opts.structural && (opts.rtol !== undefined || opts.inputs !== undefined || opts.inputShape)) {
        throw new UsageError('--structural compares graphs without running them: --rtol, --inputs and --input-shape do not apply (--atol is the tolerance on weights)');
      }
      const a = Model.load(aFile);
      const b = bFile === undefined ? undefined : Model.load(bFile);
      const eo: EquivOptions = { names: { a: aFile, ...(bFile !== undefined ? { b: bFile } : {}) } };
      if (opts.structural) eo.structural = true;
      if (opts.perLayer) eo.perLayer = true;
      if (opts.atol !== undefined) eo.atol = opts.atol;
      if (opts.rtol !== undefined) eo.rtol = opts.rtol;
      if (seed !== undefined) eo.seed = seed;
      const shapes = parseInputShapes(opts.inputShape, a.graph.inputs.filter((v) => !v.isInitializer).map((v) => v.name));
      if (shapes) eo.inputShapes = shapes;
      const report = await compareModels(a, b, eo);
      // the report goes to stdout either way; a failure adds one line on stderr and exit status 3
      io.out(opts.json ? `${reportToJson(report)}\n` : formatReport(report));
      if (!report.equivalent) throw new CheckFailedError(report.summary, `iqa-surgeon: check failed: ${report.summary}`);
    });
}
