import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import { CheckFailedError, UsageError } from '../../errors.js';
import { compareModels, type EquivOptions } from '../../equiv/compare.js';
import { BACKEND_CHOICES, type BackendChoice } from '../../mirror/backend.js';
import { formatReport, reportToJson } from '../../equiv/report.js';
import { Model } from '../../ir/model.js';
import type { CliIO } from '../main.js';
import { collect, parseInputShapes, parsePositiveInt } from '../options.js';

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
  backend?: string;
  maxImages?: string;
}

/** `--inputs`: a seed (random inputs), or a folder / dataset spec of images. */
function parseInputs(text: string | undefined): { seed?: number; images?: string } {
  if (text === undefined) return {};
  if (/^\d+$/.test(text) && Number.isSafeInteger(Number(text)) && !existsSync(text)) return { seed: Number(text) };
  if (/^(folder|csv|koniq):/.test(text) || existsSync(text)) return { images: text };
  throw new UsageError(`--inputs '${text}' must be a seed (a non-negative integer) or a folder of images (or a dataset spec like csv:scores.csv)`);
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
    .option('--inputs <seed|dir>', 'seed of the random inputs (default 0), or a folder of images / dataset spec (preprocessed as the model\'s iqa-surgeon.preprocess metadata says)')
    .option('--max-images <n>', 'with --inputs <dir>: at most this many images, sorted by name (default 8)')
    .option('--input-shape <shape>', 'dims for a graph input (N,C,H,W or name=N,C,H,W, repeatable); otherwise symbolic dims take the other model\'s fixed dim, else 1', collect)
    .option('--mirror', 'compare the model in ONNX Runtime with its TensorFlow.js mirror (one model only)')
    .option('--backend <name>', `tfjs backend of the mirror: ${BACKEND_CHOICES.join(', ')} (default auto)`)
    .option('--json', 'print the iqa-surgeon/equiv@1 report as JSON')
    .action(async (aFile: string, bFile: string | undefined, opts: EquivCliOptions) => {
      if (opts.backend !== undefined && !BACKEND_CHOICES.includes(opts.backend as BackendChoice)) throw new UsageError(`--backend '${opts.backend}' must be one of ${BACKEND_CHOICES.join(', ')}`);
      if (opts.backend !== undefined && !opts.mirror) throw new UsageError('--backend chooses the backend of the TensorFlow.js mirror: it needs --mirror');
      const given = parseInputs(opts.inputs);
      const maxImages = opts.maxImages === undefined ? undefined : parsePositiveInt('--max-images')(opts.maxImages);
      if (maxImages !== undefined && given.images === undefined) throw new UsageError('--max-images applies to --inputs <folder of images>');
      if (opts.structural && (opts.rtol !== undefined || opts.inputs !== undefined || opts.inputShape)) {
        throw new UsageError('--structural compares graphs without running them: --rtol, --inputs and --input-shape do not apply (--atol is the tolerance on weights)');
      }
      const a = Model.load(aFile);
      const b = bFile === undefined ? undefined : Model.load(bFile);
      const eo: EquivOptions = { names: { a: aFile, ...(bFile !== undefined ? { b: bFile } : {}) } };
      if (opts.structural) eo.structural = true;
      if (opts.mirror) eo.mirror = (opts.backend as BackendChoice | undefined) ?? true;
      if (opts.perLayer) eo.perLayer = true;
      if (opts.atol !== undefined) eo.atol = opts.atol;
      if (opts.rtol !== undefined) eo.rtol = opts.rtol;
      if (given.seed !== undefined) eo.seed = given.seed;
      if (given.images !== undefined) eo.images = given.images;
      if (maxImages !== undefined) eo.maxImages = maxImages;
      const shapes = parseInputShapes(opts.inputShape, a.graph.inputs.filter((v) => !v.isInitializer).map((v) => v.name));
      if (shapes) eo.inputShapes = shapes;
      const report = await compareModels(a, b, eo);
      // the report goes to stdout either way; a failure adds one line on stderr and exit status 3
      io.out(opts.json ? `${reportToJson(report)}\n` : formatReport(report));
      if (!report.equivalent) throw new CheckFailedError(report.summary, `iqa-surgeon: check failed: ${report.summary}`);
    });
}
