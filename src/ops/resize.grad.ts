/**
 * ONNX gradient rules of the resize family: Resize and Upsample.
 *
 * Resize is linear in X and separable: along each resized axis the output is M x with a constant
 * [out, in] matrix whose rows hold the taps and weights the mirror's kernel computes
 * (`planAxis`: every mode, coordinate transform and nearest rounding it implements). The gradient
 * applies M^T along each resized axis as a MatMul, so it is exact for nearest, linear and cubic
 * alike. The sizes must be static on the resized axes (scales or sizes constant, or shape
 * inference knowing the output); an axis whose scale is 1 is skipped even when its dim is symbolic
 * (the batch).
 *
 * GridSample's gradient is not implemented (its rule is absent, so a model using it is refused
 * with the node named).
 */
import { tensorTypedData } from '../onnx/tensor-data.js';
import type { Node } from '../ir/node.js';
import { applyAlongAxis, inputName, outputName } from './grad-helpers.js';
import { planAxis, resizeSpec } from './resize.js';
import type { GradientEmitter, GradientRule, GradientTable } from './types.js';

/** The values of a constant input (initializer or Constant output), as numbers; undefined otherwise (or when empty). */
function constantValues(node: Node, i: number): number[] | undefined {
  const v = node.inputs[i];
  if (!v) return undefined;
  const p = v.producer();
  const t = v.initializer ?? (p?.opType === 'Constant' && p.domain === '' ? p.attribute('value')?.t : undefined);
  if (!t) return undefined;
  const vals = Array.from(tensorTypedData(t) as ArrayLike<number | bigint>, Number);
  return vals.length > 0 ? vals : undefined;
}

/**
 * How many leading axes a run-time `sizes` input copies from X itself, and the constant sizes
 * after them: PyTorch's interpolate(size=...) exports sizes = Concat(Slice(Shape(X), 0, k), hw)
 * (or Shape(X, end = k)), so the batch and channel axes keep their (symbolic) size.
 */
function copiedLeadingAxes(g: GradientEmitter, x: string): { copied: number; tail: number[] | undefined } {
  const none = { copied: 0, tail: undefined };
  const sizes = g.node.inputs[3];
  const cat = sizes?.producer();
  if (!cat || cat.opType !== 'Concat' || cat.attrInt('axis', 0) !== 0) return none;
  const head = cat.inputs[0]?.producer();
  if (!head) return none;
  // the rest of the Concat, when constant: the sizes of the following axes
  const parts = cat.inputs.slice(1).map((v) => (v ? g.constantInts(v.name) : undefined));
  const tail = parts.every((p) => p !== undefined) ? parts.flat() : undefined;
  const k = leading(g, x, head);
  return k > 0 ? { copied: k, tail } : none;
}

function leading(g: GradientEmitter, x: string, head: Node): number {
  const isShapeOfX = (n: Node | undefined): boolean => !!n && n.opType === 'Shape' && n.inputs[0]?.name === x && n.attrInt('start', 0) === 0;
  if (head.opType === 'Shape' && isShapeOfX(head)) return head.attrInt('end') ?? 0;
  if (head.opType === 'Slice' && isShapeOfX(head.inputs[0]?.producer())) {
    const starts = head.inputs[1] ? g.constantInts(head.inputs[1].name) : undefined;
    const ends = head.inputs[2] ? g.constantInts(head.inputs[2].name) : undefined;
    const steps = head.inputs[4] ? g.constantInts(head.inputs[4].name) : [1];
    if (starts?.length === 1 && starts[0] === 0 && ends?.length === 1 && ends[0]! > 0 && steps?.[0] === 1) return ends[0]!;
  }
  return 0;
}

function resizeRule(op: 'Resize' | 'Upsample'): GradientRule {
  return {
    nonDifferentiable: [1, 2, 3],
    backward: (g: GradientEmitter, dy, wanted) => {
      const out: (string | null)[] = g.node.inputs.map(() => null);
      if (!wanted[0] || !dy[0]) return out;
      const node = g.node;
      const opset = g.opset;
      const x = inputName(g, 0);
      const xd = g.dims(x) ?? g.fail(`the rank of '${x}' is unknown`);
      const yd = g.dims(outputName(g, 0));
      const r = xd.length;
      const spec = resizeSpec(node, opset, op);
      let scales: number[] | undefined;
      let sizes: number[] | undefined;
      let roiIn: number[] | undefined;
      if (op === 'Upsample') {
        if (opset >= 9) scales = constantValues(node, 1);
        else if (opset >= 7) scales = node.attrFloats('scales');
        else scales = [1, 1, node.attrFloat('height_scale', 1)!, node.attrFloat('width_scale', 1)!];
      } else if (opset < 11) scales = constantValues(node, 1);
      else {
        roiIn = constantValues(node, 1);
        scales = constantValues(node, 2);
        sizes = constantValues(node, 3);
      }
      let axes = Array.from({ length: r }, (_, i) => i);
      const axesAttr = op === 'Resize' && opset >= 18 ? node.attrInts('axes') : undefined;
      if (axesAttr && axesAttr.length > 0) axes = axesAttr.map((a) => (a < 0 ? a + r : a));
      const policy = op === 'Resize' && opset >= 18 ? node.attrString('keep_aspect_ratio_policy', 'stretch')! : 'stretch';
      // per axis: scale and output size as the kernel computes them
      const scale = xd.map(() => 1);
      const outDims: (number | string | undefined)[] = [...xd];
      if (scales) {
        axes.forEach((a, i) => {
          const s = Math.fround(scales![i]!);
          scale[a] = s;
          const d = xd[a];
          outDims[a] = typeof d === 'number' ? Math.floor(d * s) : s === 1 ? d : undefined;
        });
      } else if (sizes && policy === 'stretch') {
        axes.forEach((a, i) => {
          const d = xd[a];
          outDims[a] = sizes![i]!;
          scale[a] = typeof d === 'number' ? sizes![i]! / d : NaN;
        });
      } else if (sizes) {
        if (axes.some((a) => typeof xd[a] !== 'number')) g.fail(`keep_aspect_ratio_policy '${policy}' on symbolic dims`);
        const ratios = axes.map((a, i) => sizes![i]! / (xd[a] as number));
        const s = policy === 'not_larger' ? Math.min(...ratios) : Math.max(...ratios);
        axes.forEach((a) => {
          scale[a] = s;
          outDims[a] = Math.trunc(s * (xd[a] as number) + 0.5);
        });
      } else {
        // sizes computed at run time: leading axes copied from X keep their size; the others from shape inference
        if (!yd) g.fail('sizes computed at run time and an output shape that shape inference does not know');
        const { copied, tail } = op === 'Resize' && opset >= 11 ? copiedLeadingAxes(g, x) : { copied: 0, tail: undefined };
        axes.forEach((a) => {
          const d = xd[a];
          const o = a < copied ? d : (tail?.[a - copied] ?? yd[a]);
          outDims[a] = o;
          scale[a] = typeof d === 'number' && typeof o === 'number' ? o / d : d === o ? 1 : NaN;
        });
      }
      let roi: [number, number][] | undefined;
      if (spec.transform === 'tf_crop_and_resize') {
        if (!roiIn || roiIn.length !== 2 * axes.length) g.fail('tf_crop_and_resize with a roi that is not constant');
        roi = xd.map(() => [0, 1] as [number, number]);
        axes.forEach((a, i) => (roi![a] = [roiIn![i]!, roiIn![axes.length + i]!]));
      }
      let t = dy[0];
      for (let a = 0; a < r; a++) {
        const inSize = xd[a];
        const outSize = outDims[a];
        if (typeof inSize !== 'number' || typeof outSize !== 'number') {
          if (scale[a] === 1 && inSize === outSize && roi === undefined) continue;
          g.fail(`axis ${a} is resized with a symbolic or unknown size (${String(inSize)} -> ${String(outSize)}); the gradient needs static sizes`);
        }
        const plan = planAxis(spec, inSize, outSize, scale[a]!, roi?.[a]);
        if (plan.identity) continue;
        // M [out, in]
        const m = new Float32Array(outSize * inSize);
        for (let j = 0; j < plan.n; j++) {
          for (let o = 0; o < outSize; o++) {
            if (plan.outside?.[o]) continue;
            m[o * inSize + plan.idx[j * outSize + o]!] += plan.w[j * outSize + o]!;
          }
        }
        t = applyAlongAxis(g, t, a, r, m, outSize, inSize);
      }
      out[0] = t;
      return out;
    },
  };
}

export const RESIZE_GRADIENTS: GradientTable = {
  Resize: resizeRule('Resize'),
  Upsample: resizeRule('Upsample'),
};
