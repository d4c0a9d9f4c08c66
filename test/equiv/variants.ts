/**
 * Variants of a fixture model for the equivalence tests, each written to a file: a byte-identical
 * copy, a copy with nodes shuffled (a random topological order) and initializers reversed, and
 * copies with a weight perturbed, an attribute changed or an op swapped.
 */
import { copyFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { makeAttribute } from '../../src/ir/attributes.js';
import { Model } from '../../src/ir/model.js';
import type { Node } from '../../src/ir/node.js';
import { encode } from '../../src/onnx/codec.js';
import { DataType } from '../../src/onnx/data-types.js';
import { tensorTypedData } from '../../src/onnx/tensor-data.js';
import { mulberry32 } from '../helpers/seeded-random.js';

export function identicalCopy(file: string, dir: string): string {
  const out = path.join(dir, `copy-${path.basename(file)}`);
  copyFileSync(file, out);
  return out;
}

/** A random topological order of the main graph (every node after its producers). */
function shuffledOrder(nodes: readonly Node[], seed: number): Node[] {
  const rnd = mulberry32(seed);
  const set = new Set(nodes);
  const indeg = new Map<Node, number>();
  const next = new Map<Node, Node[]>();
  for (const n of nodes) {
    const deps = new Set(n.inputs.map((v) => v?.producer()).filter((p): p is Node => !!p && set.has(p)));
    indeg.set(n, deps.size);
    for (const p of deps) (next.get(p) ?? next.set(p, []).get(p)!).push(n);
  }
  const ready = nodes.filter((n) => indeg.get(n) === 0);
  const out: Node[] = [];
  while (ready.length) {
    const n = ready.splice(Math.floor(rnd() * ready.length), 1)[0]!;
    out.push(n);
    for (const d of next.get(n) ?? []) {
      indeg.set(d, indeg.get(d)! - 1);
      if (indeg.get(d) === 0) ready.push(d);
    }
  }
  return out;
}

/** Nodes in another valid topological order, initializers in reverse order; returns the file. */
export function reorderedCopy(file: string, dir: string, seed = 7): { file: string; moved: number } {
  const m = Model.load(file);
  const before = [...m.graph.nodes];
  let order = shuffledOrder(before, seed);
  for (let s = seed + 1; order.every((n, i) => n === before[i]) && s < seed + 20; s++) order = shuffledOrder(before, s);
  m.graph.nodes = order;
  const proto = m.syncProto();
  proto.graph!.initializer = [...(proto.graph!.initializer ?? [])].reverse();
  const out = path.join(dir, `reordered-${path.basename(file)}`);
  writeFileSync(out, encode(proto, 'ModelProto'));
  return { file: out, moved: order.filter((n, i) => n !== before[i]).length };
}

/** Add `delta` to every element of the float32 initializer `name`; returns the file. */
export function perturbedCopy(file: string, dir: string, name: string, delta = 1e-2): string {
  const m = Model.load(file);
  const v = m.graph.value(name);
  const t = v.initializer!;
  if (t.data_type !== DataType.FLOAT) throw new Error(`perturbedCopy: '${name}' is not float32`);
  const data = tensorTypedData(t) as Float32Array;
  for (let i = 0; i < data.length; i++) data[i] = data[i]! + delta;
  const copy = { ...t, raw_data: new Uint8Array(data.buffer) };
  delete copy.float_data;
  v.initializer = copy;
  const out = path.join(dir, `perturbed-${path.basename(file)}`);
  m.save(out);
  return out;
}

/** Edit a copy with `edit` and save it. */
export function editedCopy(file: string, dir: string, label: string, edit: (m: Model) => void): string {
  const m = Model.load(file);
  edit(m);
  const out = path.join(dir, `${label}-${path.basename(file)}`);
  m.save(out);
  return out;
}

export function setStrides(m: Model, nodeName: string, strides: number[]): void {
  m.graph.node(nodeName)!.setAttribute(makeAttribute('strides', strides, 'ints'));
}

/** The weight (input 1) of a node. */
export function weightOf(file: string, nodeName: string): string {
  return Model.load(file).graph.node(nodeName)!.input(1)!.name;
}
