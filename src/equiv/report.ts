/**
 * The equivalence report: one object (`iqa-surgeon/equiv@1`, see docs/EQUIV.md) and its text form.
 * The text form is what the CLI prints and what `assertEquivalent` throws as its message.
 */
import type { PerLayerResult } from './per-layer.js';
import type { TensorComparison, Tolerances } from './numeric.js';
import { fmt, type StructuralResult } from './structural.js';

export interface EquivReport {
  schema: 'iqa-surgeon/equiv@1';
  /** The models compared: file paths, or '(model A)' / '(model B)' for in-memory models. */
  a: string;
  b: string;
  mode: 'numeric' | 'structural';
  /** One model compared with a second run of itself. */
  determinism: boolean;
  equivalent: boolean;
  tolerances: Tolerances;
  /** Numeric mode: what ran and what it was fed. */
  runtime: string | null;
  inputs: { seed: number | null; images?: { source: string; files: string[]; size: [number, number] }; tensors: { name: string; elemType: string; elemTypeB?: string; shape: number[] }[] } | null;
  structural: StructuralResult | null;
  /** Numeric mode: one entry per graph output of A, in order. */
  outputs: TensorComparison[];
  perLayer: PerLayerResult | null;
  /** One line: the verdict and the first reason. */
  summary: string;
}

/** JSON text of a report; non-finite numbers are written as the strings "Infinity", "-Infinity", "NaN". */
export function reportToJson(r: EquivReport): string {
  return JSON.stringify(r, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v), 2);
}

const shape = (d: readonly number[]): string => `[${d.join(',')}]`;

function binLabel(lo: number, hi: number): string {
  if (lo === 0 && hi === 0) return '0';
  if (lo === 0) return `(0, ${fmt(hi)})`;
  return `[${fmt(lo)}, ${Number.isFinite(hi) ? fmt(hi) : 'inf'})`;
}

function histogramText(c: TensorComparison, indent: string): string {
  const bins = c.histogram.filter((b) => b.count > 0);
  if (bins.length === 0) return '';
  const width = Math.max(...bins.map((b) => binLabel(b.lo, b.hi).length));
  const most = Math.max(...bins.map((b) => b.count));
  let s = `${indent}histogram of |a - b|:\n`;
  for (const b of bins) {
    const bar = '#'.repeat(Math.max(1, Math.round((b.count / most) * 30)));
    s += `${indent}  ${binLabel(b.lo, b.hi).padEnd(width)}  ${String(b.count).padStart(8)}  ${bar}\n`;
  }
  return s;
}

function comparisonText(c: TensorComparison, tol: Tolerances, indent = '  '): string {
  if (c.problem) return `${indent}output '${c.name}': FAIL, ${c.problem}\n`;
  let s = `${indent}output '${c.name}' ${shape(c.shapeA)}: ${c.pass ? 'ok' : 'FAIL'}, ${c.failing} of ${c.elements} elements outside tolerance\n`;
  s += `${indent}  abs error: max ${fmt(c.maxAbs)}  mean ${fmt(c.meanAbs)}  median ${fmt(c.medianAbs)}\n`;
  s += `${indent}  rel error: max ${fmt(c.maxRel)}  mean ${fmt(c.meanRel)}  median ${fmt(c.medianRel)}\n`;
  if (c.worst && c.maxAbs > 0) s += `${indent}  largest error at flat index ${c.worst.index}: ${fmt(c.worst.a)} (A) vs ${fmt(c.worst.b)} (B)\n`;
  if (!c.pass) {
    s += `${indent}  smallest passing tolerances: atol ${fmt(c.minAtol)} (with rtol 0), or rtol ${fmt(c.minRtol)} (with atol 0), or atol ${fmt(c.minAtolAtRtol)} with rtol ${fmt(tol.rtol)}\n`;
    s += histogramText(c, `${indent}  `);
  }
  return s;
}

/** The report as text. */
export function formatReport(r: EquivReport): string {
  let s = `equiv ${r.mode}${r.determinism ? ' (determinism: one model run twice)' : ''}: A = ${r.a}, B = ${r.b}\n`;
  if (r.mode === 'structural' && r.structural) {
    const st = r.structural;
    s += `  nodes: ${st.nodes[0]} vs ${st.nodes[1]}; weights must be ${st.weightAtol > 0 ? `within atol ${fmt(st.weightAtol)}` : 'byte-equal'} (largest difference found: ${fmt(st.maxWeightDiff)})\n`;
    s += st.difference ? `  first difference: ${st.difference.message}\n` : `  fingerprint ${st.fingerprint[0]}\n`;
  } else {
    if (r.inputs) s += `  inputs: ${r.inputs.images ? `${r.inputs.images.files.length} images from ${r.inputs.images.source} (${r.inputs.images.files.slice(0, 3).join(', ')}${r.inputs.images.files.length > 3 ? ', ...' : ''})` : `seed ${r.inputs.seed}`}; ${r.inputs.tensors.map((t) => `${t.name} ${t.elemType}${shape(t.shape)}${t.elemTypeB ? ` (${t.elemTypeB} in B)` : ''}`).join(', ')}; ${r.runtime}\n`;
    s += `  tolerance: |a - b| <= atol ${fmt(r.tolerances.atol)} OR |a - b| <= rtol ${fmt(r.tolerances.rtol)} * |a|\n`;
    for (const c of r.outputs) s += comparisonText(c, r.tolerances);
    const pl = r.perLayer;
    if (pl) {
      s += `  per layer: ${pl.compared} values compared (same name in both), ${pl.failing} outside tolerance` + (pl.onlyInA || pl.onlyInB ? `; ${pl.onlyInA} only in A, ${pl.onlyInB} only in B (not compared)` : '') + '\n';
      const d = pl.firstDivergence;
      if (d) {
        s += `  first diverging node (topological order): '${d.node}' (${d.opType}), output '${d.output}': ${d.problem ?? `max abs ${fmt(d.maxAbs)}, max rel ${fmt(d.maxRel)}, ${d.failing} of ${d.elements} elements outside tolerance`}\n`;
        s += d.inputsAgree ? `    its inputs agree within tolerance: the difference starts at this node\n` : `    some of its inputs already differ (values upstream of it have other names in the two models)\n`;
      }
    }
  }
  s += `result: ${r.summary}\n`;
  return s;
}
