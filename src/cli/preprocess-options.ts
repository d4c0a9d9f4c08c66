/**
 * Preprocessing flags shared by every command that loads images (dataset, finetune, attack,
 * evaluate), and how they combine with a model: defaults < the model's input shape < the model's
 * metadata (`iqa-surgeon.preprocess`) < flags.
 */
import type { Command } from 'commander';
import { preprocessFromFlags, readPreprocess, resolvePreprocess, RESIZE_KERNELS, type PreprocessFlags, type PreprocessSpec } from '../data/preprocess.js';
import type { Model } from '../ir/model.js';

export function addPreprocessOptions(cmd: Command): Command {
  return cmd
    .option('--input-size <H,W>', 'model input height and width')
    .option('--range <lo,hi>', 'pixel value range the model expects, e.g. 0,1 or 0,255')
    .option('--mean <r,g,b>', 'per-channel mean subtracted (in the --range scale)')
    .option('--std <r,g,b>', 'per-channel standard deviation divided by')
    .option('--color-order <order>', 'RGB or BGR')
    .option('--resize-kernel <kernel>', `resize kernel: ${RESIZE_KERNELS.join(', ')}`)
    .option('--fit <fit>', 'fill (stretch to the size) or cover (keep aspect, crop the centre)');
}

/** The size a model's first input fixes, when its H and W are static. */
export function modelInputSize(model: Model): Partial<PreprocessSpec> | undefined {
  const input = model.graph.inputs.find((v) => !v.isInitializer);
  const shape = input?.declaredShape;
  if (!shape || shape.length !== 4) return undefined;
  const [, , h, w] = shape;
  return typeof h === 'number' && typeof w === 'number' && h > 0 && w > 0 ? { size: [h, w] } : undefined;
}

/** defaults < the model's input shape < the model's metadata < flags. */
export function preprocessFor(model: Model | undefined, flags: PreprocessFlags): PreprocessSpec {
  const fromFlags = preprocessFromFlags(flags);
  return model ? resolvePreprocess(modelInputSize(model), readPreprocess(model), fromFlags) : resolvePreprocess(fromFlags);
}

/** One line saying which preprocessing is in force and where it came from. */
export function describePreprocess(p: PreprocessSpec, fromMetadata: boolean): string {
  return `preprocessing${fromMetadata ? '' : ' (no iqa-surgeon.preprocess metadata: defaults and flags)'}: ${p.size[0]}x${p.size[1]} ${p.kernel}/${p.fit}, range [${p.range.join(', ')}], mean [${p.mean.join(', ')}], std [${p.std.join(', ')}], ${p.colorOrder}`;
}
