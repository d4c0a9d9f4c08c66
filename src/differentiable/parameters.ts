/**
 * The parameters of a model, engine-neutral (every `DifferentiableModel` engine uses this module:
 * the tfjs mirror today, an ONNX Runtime gradient engine later): the float32 initializers of the
 * main graph, keyed by their ONNX names.
 *
 * Which parameters train: chosen by exact initializer name, by glob (`layer4.*`, `*.weight`),
 * by stage (`stage:layer3`: every float initializer read by the stage's nodes), `robust-block`
 * (the trainable parameters of every spliced RobustBlock, as its metadata lists them) or `all`.
 * A selector that matches nothing is an error (a typo should not silently train nothing). Pruning
 * masks (`surgery/prune/`) and a spliced RobustBlock's constants (its DFT bases and inverse
 * machinery: initializers under the block's prefix that its metadata does not list as parameters)
 * are initializers of the file but never selected for training.
 */
import { computeStages, findStage } from '../analysis/stages.js';
import type { Dim } from '../analysis/shapes/types.js';
import { UserError } from '../errors.js';
import type { Model } from '../ir/model.js';
import { DataType, dataTypeName } from '../onnx/data-types.js';
import { stageNodes } from '../rewrite/select.js';
import { globToRegExp } from '../rewrite/util.js';
import { readBlockEntries } from '../surgery/block-metadata.js';
import { pruneMaskNames } from '../surgery/prune/prune.js';

/** Names of the float32 initializers of the main graph (the parameters), in file order. */
export function parameterNames(model: Model): string[] {
  return model.graph.initializers().filter((v) => v.initializer!.data_type === DataType.FLOAT).map((v) => v.name);
}

/**
 * The error for a name that is not a parameter: unknown in the graph, or an initializer that
 * cannot train (not float32, e.g. an int64 shape constant), or a value that is not an initializer.
 */
export function notAParameter(model: Model, name: string): UserError {
  const v = model.graph.lookup(name);
  const init = v?.initializer;
  if (init) return new UserError('no-such-parameter', `initializer '${name}' is ${dataTypeName(init.data_type)}, not float32: it is not a parameter and cannot train`);
  if (v) return new UserError('no-such-parameter', `'${name}' is a computed value or graph input, not an initializer: it is not a parameter`);
  return new UserError('no-such-parameter', `no float32 initializer named '${name}'`);
}

/** The trainable parameters the spliced RobustBlocks list in their metadata. */
export function blockParameters(model: Model): Set<string> {
  const out = new Set<string>();
  for (const e of readBlockEntries(model) ?? []) for (const p of e.parameters ?? []) if (typeof p === 'string') out.add(p);
  return out;
}

/**
 * The spliced RobustBlocks' constants: initializers under a block's name prefix (`<prefix>.`) that
 * its metadata does not list as parameters (DFT bases, the pool matrix, the inverse's unit
 * vectors, scalars such as 2 and -2). Part of the method, never trained.
 */
export function blockConstants(model: Model): Set<string> {
  const out = new Set<string>();
  const entries = readBlockEntries(model) ?? [];
  if (entries.length === 0) return out;
  const params = blockParameters(model);
  const prefixes = entries.map((e) => `${e.options?.prefix ?? 'robust_block'}.`);
  for (const v of model.graph.initializers()) if (!params.has(v.name) && prefixes.some((p) => v.name.startsWith(p))) out.add(v.name);
  return out;
}

/** Resolve selectors to parameter names (file order, no duplicates). */
export async function selectTrainable(model: Model, selectors: readonly string[], inputShapes?: Record<string, Dim[]>): Promise<string[]> {
  // pruning masks are constants of the method, never trained (a trained mask would un-prune)
  const masks = pruneMaskNames(model);
  for (const sel of selectors) if (masks.has(sel)) throw new UserError('not-trainable', `'${sel}' is a pruning mask: masks are never trained`);
  // the RobustBlock's constants (DFT bases, inverse machinery) are the method's, not weights
  const constants = blockConstants(model);
  for (const sel of selectors) if (constants.has(sel)) throw new UserError('not-trainable', `'${sel}' is a constant of a spliced RobustBlock (not one of its parameters): it is never trained`);
  const params = parameterNames(model).filter((p) => !masks.has(p) && !constants.has(p));
  const chosen = new Set<string>();
  for (const sel of selectors) {
    let matched: string[];
    if (sel === 'all') matched = params;
    else if (sel === 'robust-block') matched = params.filter((p) => blockParameters(model).has(p));
    else if (sel.startsWith('stage:')) {
      const stage = findStage(await computeStages(model, inputShapes ? { inputShapes } : {}), sel.slice(6));
      const nodes = stageNodes(model, stage);
      const read = new Set<string>();
      for (const n of nodes) for (const v of n.inputs) if (v?.isInitializer) read.add(v.name);
      matched = params.filter((p) => read.has(p));
    } else if (/[*?]/.test(sel)) {
      const re = globToRegExp(sel);
      matched = params.filter((p) => re.test(p));
    } else matched = params.includes(sel) ? [sel] : [];
    if (matched.length === 0 && !/[*?:]/.test(sel) && sel !== 'all' && sel !== 'robust-block' && model.graph.lookup(sel)) throw notAParameter(model, sel);
    if (matched.length === 0) throw new UserError('no-such-parameter', `the trainable selector '${sel}' matches no float32 initializer`);
    for (const m of matched) chosen.add(m);
  }
  return params.filter((p) => chosen.has(p));
}
