/**
 * ONNX gradient rule of Einsum (matmul family; MatMul and Gemm are in matmul.grad.ts).
 *
 * For y = einsum(t_1, ..., t_k -> out), operand j's gradient is einsum(out, t_i (i != j) -> t_j)
 * applied to dy and the other operands: each label of t_j is either kept in the output or
 * contracted with another operand, so it appears on the left. Labels that only operand j holds
 * (summed in the forward, e.g. 'ij->i') are dropped from that equation and restored by
 * Unsqueeze + Expand. An ellipsis is kept when the output has one too; its broadcast dims are
 * summed back with unbroadcast. Refused (named before anything runs): a label repeated within one
 * operand (a diagonal), and an ellipsis that the output drops.
 */
import type { Node } from '../ir/node.js';
import { expandLike, one, rankOf, unsqueeze } from './grad-helpers.js';
import type { GradientRule, GradientTable } from './types.js';

interface Parsed {
  inputs: string[];
  output: string;
}

/** Terms of an equation with '...' written as '.', the implicit output made explicit. */
export function parseEinsum(equation: string): Parsed {
  const eq = equation.replace(/\s+/g, '').replace(/\.\.\./g, '.');
  const [lhs, rhs] = eq.split('->') as [string, string | undefined];
  const inputs = lhs.split(',');
  let output = rhs;
  if (output === undefined) {
    const counts = new Map<string, number>();
    for (const t of inputs) for (const ch of t) if (ch !== '.') counts.set(ch, (counts.get(ch) ?? 0) + 1);
    const once = [...counts].filter(([, n]) => n === 1).map(([ch]) => ch).sort();
    output = (inputs.some((t) => t.includes('.')) ? '.' : '') + once.join('');
  }
  return { inputs, output };
}

function problem(node: Node): string | undefined {
  const eq = node.attrString('equation');
  if (!eq) return 'Einsum without an equation';
  const p = parseEinsum(eq);
  for (const t of p.inputs) {
    const letters = [...t].filter((c) => c !== '.');
    if (new Set(letters).size !== letters.length) return `the gradient of Einsum '${eq}': a label repeats within one operand (a diagonal)`;
    if (t.includes('.') && !p.output.includes('.')) return `the gradient of Einsum '${eq}': the output drops the ellipsis`;
  }
  return undefined;
}

const show = (t: string): string => t.replace(/\./g, '...');

const einsum: GradientRule = {
  unsupported: (node) => problem(node),
  backward: (g, dy, wanted) => {
    const inputs = g.node.inputs;
    const out: (string | null)[] = inputs.map(() => null);
    const d = dy[0];
    if (!d) return out;
    const p = parseEinsum(g.node.attrString('equation')!);
    inputs.forEach((v, j) => {
      if (!v || !wanted[j]) return;
      const term = p.inputs[j]!;
      const others = p.inputs.filter((_, i) => i !== j);
      const seen = new Set([...p.output, ...others.join('')]);
      const keep = [...term].filter((c) => c === '.' || seen.has(c)).join('');
      const eq = `${[p.output, ...others].map(show).join(',')}->${show(keep)}`;
      const operands = [d, ...inputs.filter((_, i) => i !== j).map((o) => o!.name)];
      let gj = one(g, 'Einsum', operands, { equation: eq });
      if (keep.length !== term.length) {
        // restore the labels only this operand holds, at their positions in the operand
        const rank = rankOf(g, v.name);
        const ell = rank - [...term].filter((c) => c !== '.').length;
        const positions: number[] = [];
        let at = 0;
        for (const c of term) {
          if (c === '.') {
            at += ell;
            continue;
          }
          if (!seen.has(c)) positions.push(at);
          at += 1;
        }
        gj = expandLike(g, unsqueeze(g, gj, positions), v.name);
      } else if (term.includes('.')) {
        // the ellipsis dims of the result are the output's; sum away those operand j broadcast
        const yd = g.dims(g.node.outputs[0]!.name) ?? g.fail('the output shape is unknown (needed to undo ellipsis broadcasting)');
        const xd = g.dims(v.name) ?? g.fail(`the shape of '${v.name}' is unknown`);
        const yEll = yd.length - (p.output.length - 1);
        const yAt = p.output.indexOf('.');
        const xEll = xd.length - (term.length - 1);
        const xAt = term.indexOf('.');
        const labelDim = (c: string): number | string => {
          const k = term.indexOf(c);
          return xd[k < xAt ? k : k - 1 + xEll]!;
        };
        const gradDims = [...keep].flatMap((c) => (c === '.' ? yd.slice(yAt, yAt + yEll) : [labelDim(c)]));
        gj = g.unbroadcast(gj, v.name, gradDims);
      }
      out[j] = gj;
    });
    return out;
  },
};

export const EINSUM_GRADIENTS: GradientTable = { Einsum: einsum };
