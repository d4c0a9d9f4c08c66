/**
 * set-shape: change the declared shape of graph inputs (static sizes or symbolic dims such as
 * `batch`), then re-infer shapes downstream and update every declared shape that changed (graph
 * outputs, value_info). Shapes are re-inferred with the stale declarations removed, so they
 * cannot leak into the result; values no rule shapes are measured with ONNX Runtime.
 *
 * A node that cannot take the new shape (a Reshape to a hard-coded size, a Gemm whose width no
 * longer matches) makes the pass fail with a CheckFailedError naming the node.
 */
import { isUnknownDim } from '../analysis/shapes/dims.js';
import { inferShapes } from '../analysis/shapes/infer.js';
import type { Dim } from '../analysis/shapes/types.js';
import { CheckFailedError, UserError } from '../errors.js';
import type { Model } from '../ir/model.js';
import type { PassResult } from '../ir/passes/pass.js';
import type { TensorShapeProto, ValueInfoProto } from '../onnx/proto-types.js';
import { shapeProto, showShape } from './util.js';

export interface SetShapeOptions {
  /** Graph input name -> new dims (numbers, or names for symbolic dims). */
  shapes: Record<string, Dim[]>;
  /** Use ONNX Runtime for shapes no static rule gives (default true). */
  probe?: boolean;
}

type Decl = (number | string | undefined)[] | undefined;

function readShape(s: TensorShapeProto | undefined): Decl {
  if (!s) return undefined;
  return (s.dim ?? []).map((d) => (d.dim_value !== undefined ? Number(d.dim_value) : d.dim_param ? d.dim_param : undefined));
}

function sameDecl(a: Decl, b: Decl): boolean {
  if (a === undefined || b === undefined) return a === b;
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

export async function setShape(model: Model, opts: SetShapeOptions): Promise<PassResult> {
  const g = model.graph;
  const changes: string[] = [];
  const inputs = g.inputs.filter((v) => !v.isInitializer);
  const names = Object.keys(opts.shapes);
  if (names.length === 0) throw new UserError('usage', 'set-shape needs at least one input=dims');
  for (const name of names) {
    const v = inputs.find((x) => x.name === name);
    if (!v) throw new UserError('no-such-input', `set-shape: '${name}' is not a graph input (inputs: ${inputs.map((x) => x.name).join(', ')})`);
    const dims = opts.shapes[name]!;
    if (dims.some((d) => (typeof d === 'number' ? !Number.isSafeInteger(d) || d <= 0 : !/^[A-Za-z_][\w.]*$/.test(d)))) {
      throw new UserError('bad-input-shape', `set-shape: '${name}': dims must be positive integers or symbolic names, got ${showShape(dims)}`);
    }
    const tt = v.info?.type?.tensor_type;
    if (!tt) throw new UserError('no-type', `set-shape: graph input '${name}' is not a tensor with a declared type`);
    const before = readShape(tt.shape);
    if (before && before.length !== dims.length) {
      throw new UserError('bad-input-shape', `set-shape: '${name}' has rank ${before.length} ${showShape(before)}; the new shape ${showShape(dims)} has rank ${dims.length}`);
    }
    if (sameDecl(before, dims)) continue;
    tt.shape = shapeProto(dims);
    changes.push(`input '${name}': ${showShape(before)} -> ${showShape(dims)}`);
  }
  if (changes.length === 0) return { model, modified: false, changes: ['input shapes already as given: nothing to do'] };

  // infer on a copy whose intermediate and output declarations carry no shape
  const copy = model.clone();
  for (const e of [...(copy.proto.graph!.value_info ?? []), ...(copy.proto.graph!.output ?? [])]) {
    const v = copy.graph.lookup(e.name ?? '');
    if (v && v.producer() && e.type?.tensor_type) delete e.type.tensor_type.shape;
  }
  let shapes;
  try {
    shapes = await inferShapes(copy, { probe: opts.probe ?? true });
  } catch (e) {
    if (e instanceof UserError && (e.code === 'shape-mismatch' || e.code === 'probe-failed')) {
      const m = /node '([^']*)'/.exec(e.message);
      throw new CheckFailedError(
        `the model cannot take the new input shape${m ? ` at node '${m[1]}'` : ''}: ${e.message}`,
        `iqa-surgeon: check failed: the model cannot take the new input shape${m ? ` at node '${m[1]}'` : ''}: ${e.message}`,
      );
    }
    throw e;
  }

  // update declared shapes that changed
  const entries: { e: ValueInfoProto; role: string }[] = [
    ...(model.proto.graph!.output ?? []).map((e) => ({ e, role: 'output' })),
    ...(model.proto.graph!.value_info ?? []).map((e) => ({ e, role: 'value_info' })),
  ];
  let infoChanged = 0;
  const infoLines: string[] = [];
  for (const { e, role } of entries) {
    const v = g.lookup(e.name ?? '');
    const tt = e.type?.tensor_type;
    if (!v || !v.producer() || !tt) continue;
    const info = shapes.get(e.name ?? '');
    const before = readShape(tt.shape);
    let next: TensorShapeProto | undefined;
    if (info?.shape) next = shapeProto(info.shape);
    else if (before) next = { dim: before.map(() => ({})) };
    const after = readShape(next);
    if (sameDecl(before, after)) continue;
    if (next) tt.shape = next;
    else delete tt.shape;
    const line = `${role === 'output' ? 'output' : 'value_info'} '${e.name}': ${showShape(before)} -> ${showShape(after)}`;
    if (role === 'output') changes.push(line);
    else {
      infoChanged++;
      infoLines.push(line);
    }
  }
  if (infoChanged > 0) {
    changes.push(`${infoChanged} intermediate shape${infoChanged === 1 ? '' : 's'} (value_info) updated`);
    changes.push(...infoLines.slice(0, 20).map((l) => `  ${l}`));
    if (infoLines.length > 20) changes.push(`  ... and ${infoLines.length - 20} more`);
  }
  const unknown = [...shapes.entries()].filter(([, i]) => i.shape?.some((d) => isUnknownDim(d))).length;
  if (unknown > 0) changes.push(`note: ${unknown} value${unknown === 1 ? ' has' : 's have'} dims no rule could decide`);
  return { model, modified: true, changes };
}
