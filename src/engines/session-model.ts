/**
 * The models the ONNX Runtime engine opens sessions on, derived from the user's model without
 * modifying it: parameters whose values the engine holds on the host (the trained ones, and any
 * other one set through `setParameter`) become graph inputs fed on every run, so an optimizer
 * step never rebuilds a session; every other initializer stays a constant that ONNX Runtime can
 * fold and prepack. Values that are not graph outputs can be added as outputs (for `forward`
 * with named values).
 */
import { Model } from '../ir/model.js';
import type { ValueInfoProto } from '../onnx/proto-types.js';

/**
 * A copy of `model` in which the initializers `fed` are graph inputs (same names, float32, the
 * initializer's dims) and `extraOutputs` are graph outputs too. Payload bytes are shared with
 * `model` (never modified in place).
 */
export function sessionModel(model: Model, fed: readonly string[], extraOutputs: readonly string[] = []): Model {
  const copy = model.clone();
  const g = copy.proto.graph!;
  const fedSet = new Set(fed);
  const moved = (g.initializer ?? []).filter((t) => fedSet.has(t.name ?? ''));
  if (moved.length !== fedSet.size) {
    const missing = [...fedSet].filter((n) => !moved.some((t) => t.name === n));
    throw new Error(`internal: sessionModel: no initializer named ${missing.join(', ')}`);
  }
  g.initializer = (g.initializer ?? []).filter((t) => !fedSet.has(t.name ?? ''));
  const inputs = [...(g.input ?? [])];
  for (const t of moved) {
    // an IR < 4 file may list its initializers as graph inputs already
    if (inputs.some((i) => i.name === t.name)) continue;
    inputs.push({ name: t.name!, type: { tensor_type: { elem_type: t.data_type ?? 1, shape: { dim: (t.dims ?? []).map((d) => ({ dim_value: Number(d) })) } } } });
  }
  g.input = inputs;
  const outputs = [...(g.output ?? [])];
  for (const name of extraOutputs) {
    if (outputs.some((o) => o.name === name)) continue;
    const type = model.graph.lookup(name)?.type;
    const info: ValueInfoProto = { name };
    // only the element type: a declared shape that is wrong would make ONNX Runtime refuse the model
    if (type?.tensor_type?.elem_type) info.type = { tensor_type: { elem_type: type.tensor_type.elem_type } };
    outputs.push(info);
  }
  g.output = outputs;
  return new Model(copy.proto, modelSource(model));
}

/** Where `model` came from, for a model derived from it (external data resolves against the same folder). */
export function modelSource(model: Model): { dir?: string; sourceFiles?: Set<string> } {
  const src: { dir?: string; sourceFiles?: Set<string> } = { sourceFiles: new Set(model.sourceFiles) };
  if (model.dir) src.dir = model.dir;
  return src;
}
