/**
 * remove: delete a node, wiring its data input to the readers of its output. Allowed only where
 * that keeps the graph well-typed: one data input (the others constants), one output that is read,
 * and the same element type and shape on both sides (from shape inference, with ONNX Runtime for
 * what rules cannot decide). Otherwise a clear refusal (UserError) says why.
 *
 * When the removed node produced a graph output, the output keeps its name: the wired-through
 * tensor takes it (unless that tensor is a graph input or another output, in which case the
 * output's name changes and the change says so). Initializers read only by the node go too.
 */
import { dimEq } from '../analysis/shapes/dims.js';
import { inferShapes } from '../analysis/shapes/infer.js';
import type { Dim } from '../analysis/shapes/types.js';
import { UserError } from '../errors.js';
import type { Model } from '../ir/model.js';
import type { PassResult } from '../ir/passes/pass.js';
import type { Value } from '../ir/value.js';
import { dataTypeName } from '../onnx/data-types.js';
import { requireNode, showShape } from './util.js';

export interface RemoveOptions {
  /** Name of the node to remove. */
  node: string;
  inputShapes?: Record<string, Dim[]>;
  /** Use ONNX Runtime for shapes no static rule gives (default true). */
  probe?: boolean;
}

function isConstant(v: Value): boolean {
  if (v.isInitializer && !v.isGraphInput) return true;
  const p = v.producer();
  return p !== undefined && p.opType === 'Constant' && p.domain === '';
}

export async function removeNode(model: Model, opts: RemoveOptions): Promise<PassResult> {
  const g = model.graph;
  const node = requireNode(g, opts.node);
  const refuse = (why: string): never => {
    throw new UserError('cannot-remove', `cannot remove node '${node.label}' (${node.opType}): ${why}`);
  };
  if (node.subgraphs.length > 0) refuse('it holds subgraphs');
  const data = node.inputs.filter((v): v is Value => v !== null && !isConstant(v));
  if (data.length !== 1) refuse(data.length === 0 ? 'it has no non-constant input to wire through' : `it has ${data.length} non-constant inputs (${data.map((v) => `'${v.name}'`).join(', ')}); which one would replace its output is ambiguous`);
  const read = node.outputs.filter((o): o is Value => o !== null && (o.uses().length > 0 || o.isGraphOutput));
  if (read.length > 1) refuse(`${read.length} of its outputs are read (${read.map((o) => `'${o.name}'`).join(', ')}); only one can be wired through`);
  const input = data[0]!;
  const output = read[0] ?? node.outputs.find((o) => o !== null) ?? refuse('it has no output');

  const shapes = await inferShapes(model, { ...(opts.inputShapes ? { inputShapes: opts.inputShapes } : {}), probe: opts.probe ?? true });
  const a = shapes.get(input);
  const b = shapes.get(output);
  if (!a?.shape || !b?.shape) refuse(`the shape of '${!a?.shape ? input.name : output.name}' is unknown, so it cannot be checked that wiring '${input.name}' through is safe`);
  if (a!.elemType !== undefined && b!.elemType !== undefined && a!.elemType !== b!.elemType) {
    refuse(`its input '${input.name}' is ${dataTypeName(a!.elemType)} but its output '${output.name}' is ${dataTypeName(b!.elemType)}`);
  }
  if (a!.shape!.length !== b!.shape!.length || a!.shape!.some((d, i) => !dimEq(d, b!.shape![i]!))) {
    refuse(`its input '${input.name}' has shape ${showShape(a!.shape)} but its output '${output.name}' has ${showShape(b!.shape)}`);
  }

  const changes: string[] = [];
  const outName = output.name;
  const wasOutput = output.isGraphOutput;
  const constInputs = node.inputs.filter((v): v is Value => v !== null && v !== input);
  g.replaceAllUses(output, input);
  g.removeNode(node);
  changes.push(`removed node '${node.label}' (${node.opType}); readers of '${outName}' now read '${input.name}'`);
  for (const v of constInputs) {
    if (v.uses().length > 0 || v.isGraphOutput) continue;
    if (v.isInitializer && !v.isGraphInput) {
      g.forget(v);
      changes.push(`removed initializer '${v.name}': only the removed node read it`);
    } else {
      const p = v.producer();
      if (p && p.opType === 'Constant' && p.outputs.every((o) => !o || (o.uses().length === 0 && !o.isGraphOutput))) {
        g.removeNode(p);
        changes.push(`removed Constant node '${p.label}': only the removed node read it`);
      }
    }
  }
  if (wasOutput) {
    if (!input.isGraphInput && !input.isInitializer && g.outputs.filter((o) => o === input).length === 1) {
      const old = input.name;
      g.renameValue(input, outName);
      changes.push(`graph output keeps its name '${outName}' (tensor '${old}' renamed)`);
    } else {
      changes.push(`graph output '${outName}' is now '${input.name}'`);
    }
  }
  return { model, modified: true, changes };
}
