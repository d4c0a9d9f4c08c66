/**
 * Patch files: a list of rewrite steps applied in order, each validated before the next, so a
 * surgery is a reviewable, repeatable file. JSON or YAML:
 *
 *   version: 1
 *   description: smooth activations in the last stage, 384x512 input
 *   steps:
 *     - set-shape: { input: "input=1,3,384,512" }
 *     - replace-op: { op: Relu, with: SiLU, where: "stage:layer4" }
 *     - rename: { map: { input: image, score: quality } }
 *
 * A step is `{ <op>: { options } }` or `{ op: <op>, ...options }`; a bare list of steps is a
 * patch too. What was applied is recorded in the output's metadata_props under
 * `iqa-surgeon.patch` (see docs/REWRITE.md).
 */
import { createRequire } from 'node:module';
import type * as Yaml from 'yaml';
import type { Dim } from '../analysis/shapes/types.js';
import { CheckFailedError, UserError } from '../errors.js';
import type { Model } from '../ir/model.js';
import type { PassResult } from '../ir/passes/pass.js';
import { validateModel, ValidationError } from '../validation/validate.js';
import { VERSION } from '../version.js';
import { cleanupAndSort } from './cleanup.js';
import { extract } from './extract.js';
import { fold } from './fold.js';
import { removeNode } from './remove.js';
import { rename } from './rename.js';
import { describeSpec, parseOpSpec, type OpSpec } from './replace-op.js';
import { replaceOp } from './replace-op.js';
import { setShape } from './set-shape.js';
import { spliceRobustBlock, type SpliceOptions } from '../surgery/splice.js';
import { checkNumericOption, checkSpliceOptionBounds, type NumericBound, type OptionNaming } from '../surgery/robust-block/bounds.js';
import { splitList } from './util.js';
import { FLOAT32_MAX, isFiniteFloat32 } from '../util/numbers.js';

export const PATCH_METADATA_KEY = 'iqa-surgeon.patch';

export const STEP_OPS = ['extract', 'rename', 'set-shape', 'replace-op', 'remove', 'fold', 'cleanup', 'splice'] as const;
export type StepOp = (typeof STEP_OPS)[number];
/** Operations of other issues, accepted by name once they exist. */
const LATER_OPS = ['prune'];

/** splice options that are integers (the others are fractions or alpha). */
const SPLICE_INTEGERS = new Set(['nsIterations', 'reduceKernel', 'orthKernel', 'square', 'seed']);

/**
 * Numbers of a splice step must be finite (JSON's 1e999 and YAML's .inf parse as infinity), the
 * integer options integers, and alpha, which becomes a float32 initializer, finite in float32.
 */
function checkSpliceNumber(where: string, key: string, v: number): void {
  if (SPLICE_INTEGERS.has(key) ? !Number.isSafeInteger(v) : key === 'alpha' ? !isFiniteFloat32(v) : !Number.isFinite(v)) {
    const want = SPLICE_INTEGERS.has(key) ? 'an integer' : key === 'alpha' ? `a finite number within float32 range (|alpha| <= ${FLOAT32_MAX})` : 'a finite number';
    throw new UserError('usage', `${where}: '${key}' = ${v} must be ${want}`);
  }
}

/** splice options (src/surgery/splice.ts) and the JSON types they take. */
const SPLICE_OPTIONS: Record<string, 'string' | 'number' | 'boolean' | 'alpha'> = {
  stage: 'string',
  edge: 'string',
  orth: 'string',
  form: 'string',
  inverse: 'string',
  nsIterations: 'number',
  reduce: 'number',
  reduceKernel: 'number',
  orthKernel: 'number',
  pool: 'string',
  square: 'number',
  alpha: 'alpha',
  compat: 'string',
  restoreSize: 'boolean',
  seed: 'number',
  prefix: 'string',
  postActivation: 'string',
};

/** fold's largest folded tensor: 1 byte to 8 GiB (the default model-file cap). */
export const FOLD_MAX_BYTES_BOUND: NumericBound = { key: 'maxBytes', flag: '--max-bytes', integer: true, min: 1, max: 8 * 1024 ** 3 };

/** A normalised step: the op and its options in canonical form (what is recorded). */
export interface PatchStep {
  op: StepOp;
  [option: string]: unknown;
}

export interface Patch {
  version: 1;
  description?: string;
  steps: PatchStep[];
}

export interface StepReport {
  index: number;
  step: PatchStep;
  modified: boolean;
  changes: string[];
}

export interface ApplyOptions {
  /** Validate after every step (default true; ONNX Runtime included unless `runtime: false`). */
  validate?: boolean;
  runtime?: boolean;
  /** Record the applied steps in metadata_props (default true). */
  record?: boolean;
  /** Where the steps came from, for the record (a file name, or 'command line'). */
  source?: string;
  /** Called after each step (and its validation). */
  onStep?: (r: StepReport) => void;
}

// ---------------------------------------------------------------------------------------------
// Parsing and normalisation

const OPTIONS: Record<StepOp, string[]> = {
  extract: ['inputs', 'outputs', 'inputShape'],
  rename: ['map'],
  'set-shape': ['input', 'shapes'],
  'replace-op': ['op', 'with', 'where', 'inputShape'],
  remove: ['node'],
  fold: ['maxBytes'],
  cleanup: ['keepInputs'],
  splice: [...Object.keys(SPLICE_OPTIONS), 'inputShape'],
};

/** The yaml package, loaded on first use (about 70 ms at start-up for every command otherwise). */
let yamlModule: typeof Yaml | undefined;
function yaml(): typeof Yaml {
  yamlModule ??= createRequire(import.meta.url)('yaml') as typeof Yaml;
  return yamlModule;
}

/** Parse a patch file's text (`name` picks YAML for .yaml/.yml, JSON for .json, else either). */
export function parsePatch(text: string, name = 'patch'): Patch {
  let doc: unknown;
  const lower = name.toLowerCase();
  try {
    if (lower.endsWith('.json')) doc = JSON.parse(text);
    // YAML is a superset of JSON; logLevel 'error': the yaml package would print warnings (unresolved
    // tags) to stderr through process.emitWarning, breaking the one-line error (found by `npm run fuzz`)
    else doc = yaml().parse(text, { logLevel: 'error' });
  } catch (e) {
    throw new UserError('bad-patch', `${name}: not valid ${lower.endsWith('.json') ? 'JSON' : 'YAML/JSON'}: ${String((e as Error).message).split('\n')[0]}`);
  }
  return normalizePatch(doc, name);
}

export function normalizePatch(doc: unknown, name = 'patch'): Patch {
  let steps: unknown;
  let description: string | undefined;
  if (Array.isArray(doc)) steps = doc;
  else if (doc && typeof doc === 'object') {
    const o = doc as Record<string, unknown>;
    for (const k of Object.keys(o)) {
      if (!['version', 'description', 'steps'].includes(k)) throw new UserError('bad-patch', `${name}: unknown top-level key '${k}' (keys: version, description, steps)`);
    }
    if (o.version !== undefined && o.version !== 1) throw new UserError('bad-patch', `${name}: version ${String(o.version)} is not supported (this toolkit reads version 1)`);
    if (o.description !== undefined && typeof o.description !== 'string') throw new UserError('bad-patch', `${name}: description must be a string`);
    description = o.description as string | undefined;
    steps = o.steps;
  }
  if (!Array.isArray(steps)) throw new UserError('bad-patch', `${name}: expected a list of steps (or an object with 'steps: [...]')`);
  if (steps.length === 0) throw new UserError('bad-patch', `${name}: the patch has no steps`);
  const patch: Patch = { version: 1, steps: steps.map((s, i) => normalizeStep(s, `${name}: step ${i + 1}`)) };
  if (description !== undefined) patch.description = description;
  return patch;
}

function isObject(x: unknown): x is Record<string, unknown> {
  return x !== null && typeof x === 'object' && !Array.isArray(x);
}

function parseDims(text: string, where: string): Dim[] {
  const parts = text.split(',').map((s) => s.trim());
  return parts.map((p) => {
    if (/^\d+$/.test(p) && Number(p) > 0) return Number(p);
    if (/^[A-Za-z_][\w.]*$/.test(p)) return p;
    throw new UserError('bad-input-shape', `${where}: '${text}' is not a shape; write it like 1,3,384,512 or batch,3,384,512`);
  });
}

/** `name=1,3,H,W` strings, lists of them, or { name: dims } objects -> { name: Dim[] }. */
export function parseShapeAssignments(x: unknown, where: string): Record<string, Dim[]> {
  const out: Record<string, Dim[]> = {};
  const one = (s: string): void => {
    const eq = s.indexOf('=');
    if (eq <= 0) throw new UserError('bad-input-shape', `${where}: '${s}' must be name=dims, like input=1,3,384,512`);
    out[s.slice(0, eq).trim()] = parseDims(s.slice(eq + 1), where);
  };
  if (typeof x === 'string') {
    // several assignments may be separated by ';' or whitespace
    for (const s of x.split(/[;\s]+/).filter(Boolean)) one(s);
  } else if (Array.isArray(x)) {
    for (const s of x) {
      if (typeof s !== 'string') throw new UserError('bad-input-shape', `${where}: expected strings like input=1,3,384,512`);
      one(s);
    }
  } else if (isObject(x)) {
    for (const [k, v] of Object.entries(x)) {
      if (typeof v === 'string') out[k] = parseDims(v, where);
      else if (Array.isArray(v) && v.every((d) => (typeof d === 'number' && Number.isSafeInteger(d) && d > 0) || (typeof d === 'string' && /^[A-Za-z_][\w.]*$/.test(d)))) out[k] = v as Dim[];
      else throw new UserError('bad-input-shape', `${where}: shape of '${k}' must be a list of positive integers or symbolic names`);
    }
  } else throw new UserError('bad-input-shape', `${where}: expected name=dims`);
  return out;
}

/** `a=b,c=d`, a list of `a=b`, or { a: b } -> { a: b }. */
export function parseRenameMap(x: unknown, where: string): Record<string, string> {
  const out: Record<string, string> = {};
  const one = (s: string): void => {
    const eq = s.indexOf('=');
    if (eq <= 0 || eq === s.length - 1) throw new UserError('usage', `${where}: '${s}' must be old=new`);
    out[s.slice(0, eq).trim()] = s.slice(eq + 1).trim();
  };
  if (typeof x === 'string') x.split(',').filter((s) => s.trim() !== '').forEach(one);
  else if (Array.isArray(x)) x.forEach((s) => (typeof s === 'string' ? one(s) : (() => { throw new UserError('usage', `${where}: map entries must be old=new strings`); })()));
  else if (isObject(x)) {
    for (const [k, v] of Object.entries(x)) {
      if (typeof v !== 'string' || v === '') throw new UserError('usage', `${where}: new name for '${k}' must be a non-empty string`);
      out[k] = v;
    }
  } else throw new UserError('usage', `${where}: 'map' must be old=new pairs`);
  return out;
}

function strList(x: unknown, where: string, what: string): string[] {
  if (typeof x === 'string' || (Array.isArray(x) && x.every((s) => typeof s === 'string'))) {
    const l = splitList(x as string | string[]);
    if (l.length > 0) return l;
  }
  throw new UserError('usage', `${where}: '${what}' must be a tensor name or a list of them`);
}

/** Normalise one step (either form) into `{ op, ...canonical options }`. */
export function normalizeStep(raw: unknown, where: string, naming: OptionNaming = 'patch'): PatchStep {
  if (!isObject(raw)) throw new UserError('bad-patch', `${where}: a step must be an object like { rename: { map: { a: b } } }`);
  let op: string;
  let args: Record<string, unknown>;
  if (typeof raw.op === 'string' && (STEP_OPS as readonly string[]).concat(LATER_OPS).includes(raw.op)) {
    op = raw.op;
    args = { ...raw };
    delete args.op;
    // replace-op's own `op` option collides with the step key in this form: `{ op: replace-op, replace: Relu, ... }`
    if (op === 'replace-op' && 'replace' in args) {
      args.op = args.replace;
      delete args.replace;
    }
  } else {
    const keys = Object.keys(raw);
    if (keys.length !== 1) throw new UserError('bad-patch', `${where}: a step has one key, the operation (got ${keys.map((k) => `'${k}'`).join(', ') || 'none'})`);
    op = keys[0]!;
    const v = raw[op];
    if (v === null || v === undefined) args = {};
    else if (isObject(v)) args = { ...v };
    else throw new UserError('bad-patch', `${where} (${op}): options must be an object`);
  }
  where = where ? `${where} (${op})` : op;
  if (LATER_OPS.includes(op)) throw new UserError('bad-patch', `${where}: '${op}' is not available in this version of iqa-surgeon`);
  if (!(STEP_OPS as readonly string[]).includes(op)) throw new UserError('bad-patch', `${where}: unknown operation (operations: ${STEP_OPS.join(', ')})`);
  const stepOp = op as StepOp;
  for (const k of Object.keys(args)) {
    if (!OPTIONS[stepOp].includes(k)) throw new UserError('bad-patch', `${where}: unknown option '${k}' (options: ${OPTIONS[stepOp].join(', ')})`);
  }
  const step: PatchStep = { op: stepOp };
  const shapeOpt = (): void => {
    if (args.inputShape !== undefined) step.inputShape = parseShapeAssignments(args.inputShape, where);
  };
  switch (stepOp) {
    case 'extract':
      step.inputs = args.inputs === undefined ? [] : strList(args.inputs, where, 'inputs');
      step.outputs = strList(args.outputs, where, 'outputs');
      shapeOpt();
      break;
    case 'rename':
      step.map = parseRenameMap(args.map, where);
      if (Object.keys(step.map as object).length === 0) throw new UserError('usage', `${where}: 'map' is empty`);
      break;
    case 'set-shape': {
      if (args.input === undefined && args.shapes === undefined) throw new UserError('usage', `${where}: give 'input' (name=dims)`);
      step.shapes = { ...(args.shapes !== undefined ? parseShapeAssignments(args.shapes, where) : {}), ...(args.input !== undefined ? parseShapeAssignments(args.input, where) : {}) };
      break;
    }
    case 'replace-op': {
      if (typeof args.op !== 'string' || args.op === '') throw new UserError('usage', `${where}: 'op' (the op type to replace) is required`);
      if (args.with === undefined) throw new UserError('usage', `${where}: 'with' (the new op, e.g. LeakyRelu[alpha=0.01]) is required`);
      let spec: OpSpec;
      if (typeof args.with === 'string') spec = parseOpSpec(args.with);
      else if (isObject(args.with) && typeof args.with.opType === 'string') spec = parseOpSpec(args.with.opType);
      else throw new UserError('usage', `${where}: 'with' must be an op spec like LeakyRelu[alpha=0.01] or { opType, attributes }`);
      if (isObject(args.with) && isObject(args.with.attributes)) spec.attributes = { ...(spec.attributes ?? {}), ...(args.with.attributes as OpSpec['attributes']) };
      step.replace = args.op;
      step.with = describeSpec(spec);
      if (args.where !== undefined) {
        if (typeof args.where !== 'string' || args.where === '') throw new UserError('usage', `${where}: 'where' must be a stage (stage:layer4) or a node-name pattern`);
        step.where = args.where;
      }
      shapeOpt();
      break;
    }
    case 'remove':
      step.node = strList(args.node, where, 'node');
      break;
    case 'fold':
      if (args.maxBytes !== undefined) {
        checkNumericOption(FOLD_MAX_BYTES_BOUND, args.maxBytes, naming, `${where}: `);
        step.maxBytes = args.maxBytes;
      }
      break;
    case 'cleanup':
      if (args.keepInputs !== undefined) {
        if (typeof args.keepInputs !== 'boolean') throw new UserError('usage', `${where}: 'keepInputs' must be true or false`);
        step.keepInputs = args.keepInputs;
      }
      break;
    case 'splice':
      for (const [k, kind] of Object.entries(SPLICE_OPTIONS)) {
        let v = args[k];
        if (v === undefined) continue;
        if (k === 'stage' && typeof v === 'number') v = String(v);
        const ok = kind === 'alpha' ? v === 'norm' || typeof v === 'number' : typeof v === kind;
        if (!ok) throw new UserError('usage', `${where}: '${k}' must be ${kind === 'alpha' ? "a number or 'norm'" : `a ${kind}`}`);
        if (typeof v === 'number') checkSpliceNumber(where, k, v);
        step[k] = v;
      }
      if ((step.stage === undefined) === (step.edge === undefined)) throw new UserError('usage', `${where}: give exactly one of 'stage' or 'edge'`);
      // the same bounds as the command line's (a hostile patch must not hang `apply`)
      checkSpliceOptionBounds(step, 'patch', `${where}: `);
      shapeOpt();
      break;
  }
  return step;
}

/** A readable one-line form of a step: `replace-op Relu -> SiLU where stage:layer4`. */
export function describeStep(step: PatchStep): string {
  const s = step as Record<string, unknown>;
  switch (step.op) {
    case 'extract':
      return `extract ${(s.inputs as string[]).join(',') || '(graph inputs)'} -> ${(s.outputs as string[]).join(',')}`;
    case 'rename':
      return `rename ${Object.entries(s.map as Record<string, string>).map(([a, b]) => `${a}=${b}`).join(',')}`;
    case 'set-shape':
      return `set-shape ${Object.entries(s.shapes as Record<string, Dim[]>).map(([a, b]) => `${a}=${b.join(',')}`).join(' ')}`;
    case 'replace-op':
      return `replace-op ${String(s.replace)} -> ${String(s.with)}${s.where ? ` where ${String(s.where)}` : ''}`;
    case 'remove':
      return `remove ${(s.node as string[]).join(', ')}`;
    case 'splice':
      return `splice at ${s.stage !== undefined ? `stage ${String(s.stage)}` : `edge ${String(s.edge)}`}`;
    default:
      return step.op;
  }
}

// ---------------------------------------------------------------------------------------------
// Applying

/** Apply one normalised step (no validation). */
export async function applyStep(model: Model, step: PatchStep): Promise<PassResult> {
  const s = step as Record<string, unknown>;
  const inputShapes = s.inputShape as Record<string, Dim[]> | undefined;
  const shapeOpt = inputShapes ? { inputShapes } : {};
  switch (step.op) {
    case 'extract': {
      const inputs = s.inputs as string[];
      return extract(model, {
        inputs: inputs.length > 0 ? inputs : model.graph.inputs.filter((v) => !v.isInitializer).map((v) => v.name),
        outputs: s.outputs as string[],
        ...shapeOpt,
      });
    }
    case 'rename':
      return rename(model, { map: s.map as Record<string, string> });
    case 'set-shape':
      return setShape(model, { shapes: s.shapes as Record<string, Dim[]> });
    case 'replace-op':
      return replaceOp(model, { op: s.replace as string, with: s.with as string, ...(s.where ? { where: s.where as string } : {}), ...shapeOpt });
    case 'remove': {
      const changes: string[] = [];
      for (const n of s.node as string[]) changes.push(...(await removeNode(model, { node: n })).changes);
      return { model, modified: true, changes };
    }
    case 'fold':
      return fold(model, s.maxBytes !== undefined ? { maxBytes: s.maxBytes as number } : {});
    case 'cleanup':
      return cleanupAndSort(model, s.keepInputs !== undefined ? { keepInputs: s.keepInputs as boolean } : {});
    case 'splice': {
      const { op: _op, inputShape: _shape, ...rest } = s;
      const r = await spliceRobustBlock(model, { ...(rest as SpliceOptions), ...shapeOpt });
      const changes = [
        `spliced a RobustBlock (${r.options.orth}${r.options.orth === 'cayley' ? `, ${r.options.form}` : ''}) on '${r.edge}'${r.stage ? ` (stage ${r.stage})` : ''}: [${r.inShape.join(',')}] -> [${r.outShape.join(',')}], ${r.nodes.length} nodes, ${r.parameters.length} parameter initializers`,
      ];
      for (const [k, v] of Object.entries(r.fixedInputs)) changes.push(`input '${k}' fixed to [${v.join(',')}]`);
      // the block's nodes are appended where the splice put them; ONNX wants the list sorted
      const before = [...model.graph.nodes];
      model.graph.toposort();
      const moved = model.graph.nodes.filter((n, i) => before[i] !== n).length;
      if (moved > 0) changes.push(`reordered ${moved} node${moved === 1 ? '' : 's'} into topological order`);
      return { model, modified: true, changes };
    }
  }
}

/** Prefix a step's errors with the step, keeping their kind (exit status). */
function withStep(e: unknown, label: string): unknown {
  if (e instanceof ValidationError) return e;
  if (e instanceof UserError) {
    const w = new UserError(e.code, `${label}: ${e.message}`);
    return w;
  }
  if (e instanceof CheckFailedError) {
    const report = e.report.startsWith('iqa-surgeon: check failed: ') ? `iqa-surgeon: check failed: ${label}: ${e.report.slice(27)}` : `${label}: ${e.report}`;
    return new CheckFailedError(`${label}: ${e.message}`, report);
  }
  return e;
}

/** Apply a patch step by step, validating after each; returns the final model and what each step did. */
export async function applyPatch(model: Model, patch: Patch, opts: ApplyOptions = {}): Promise<{ model: Model; steps: StepReport[] }> {
  const reports: StepReport[] = [];
  let cur = model;
  const n = patch.steps.length;
  for (let i = 0; i < n; i++) {
    const step = patch.steps[i]!;
    const label = n === 1 ? step.op : `step ${i + 1} of ${n} (${step.op})`;
    let r: PassResult;
    try {
      r = await applyStep(cur, step);
      if (opts.validate !== false) await validateModel(r.model, { step: label, runtime: opts.runtime ?? true });
    } catch (e) {
      throw withStep(e, label);
    }
    cur = r.model;
    const report: StepReport = { index: i + 1, step, modified: r.modified, changes: r.changes };
    reports.push(report);
    opts.onStep?.(report);
  }
  if (opts.record !== false) recordPatch(cur, patch, opts.source ?? 'library');
  return { model: cur, steps: reports };
}

export interface PatchRecord {
  tool: string;
  source: string;
  description?: string;
  steps: PatchStep[];
}

/** The patches recorded in a model's metadata_props (oldest first). */
export function recordedPatches(model: Model): PatchRecord[] {
  const raw = model.metadata().get(PATCH_METADATA_KEY);
  if (raw === undefined) return [];
  try {
    const v = JSON.parse(raw) as unknown;
    return Array.isArray(v) ? (v as PatchRecord[]) : [];
  } catch {
    return [];
  }
}

/** Append a patch to the model's `iqa-surgeon.patch` record. */
export function recordPatch(model: Model, patch: Patch, source: string): void {
  const list = recordedPatches(model);
  const rec: PatchRecord = { tool: `iqa-surgeon ${VERSION}`, source, steps: patch.steps };
  if (patch.description !== undefined) rec.description = patch.description;
  list.push(rec);
  model.setMetadata(PATCH_METADATA_KEY, JSON.stringify(list));
}
