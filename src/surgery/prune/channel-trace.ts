/**
 * Whether a conv's output channels can be pruned by masking: follow its output forward through
 * ops that keep a zero channel exactly zero until every path ends in a consumer that only sums
 * channels linearly (a conv, or a Gemm/MatMul on pooled or flattened features). Along the way a
 * BatchNormalization on the channels must have its gamma and beta masked too, and a depthwise conv
 * (group = input channels, one filter per channel) reading them follows its producer: its weight
 * and bias for the channel are masked, so the channel stays exactly zero through it. A Concat along
 * the channel axis moves the channels to an offset (later masks are placed there). Anything else,
 * e.g. a residual Add joining another path, an op with f(0) != 0 (Sigmoid, Softmax, Exp, a Clip
 * whose range excludes 0), a graph output, a grouped conv that is not depthwise (only whole groups
 * could go), leaves the conv out, with the reason.
 */
import type { Node } from '../../ir/node.js';
import type { Value } from '../../ir/value.js';
import { tensorDims, tensorTypedData } from '../../onnx/tensor-data.js';

/** A node whose per-channel parameters are masked with the conv's: channel c at index c + offset. */
export interface Follower {
  node: Node;
  offset: number;
}

export type Trace = { ok: true; batchNorms: Follower[]; depthwise: Follower[] } | { ok: false; reason: string };

/** Depthwise conv with multiplier 1: group = input channels = output channels, weight [C, 1, k, k]. */
export function isDepthwise(n: Node, weight: Value | null | undefined = n.input(1)): boolean {
  const group = n.attrInt('group', 1);
  const t = weight?.initializer;
  const dims = t ? tensorDims(t) : undefined;
  return n.opType === 'Conv' && group > 1 && !!dims && dims[0] === group && dims[1] === 1;
}

/** Ops for which f(0) = 0 elementwise and channels keep their positions. */
const ZERO_PRESERVING_UNARY = new Set(['Relu', 'LeakyRelu', 'Elu', 'Selu', 'Celu', 'Tanh', 'HardSwish', 'Mish', 'Gelu', 'Softsign', 'Identity', 'Dropout', 'Neg', 'Abs', 'Sign', 'Sin', 'Erf', 'Asinh', 'Atan', 'ThresholdedRelu', 'Shrink']);
/** Spatial ops that keep zero channels zero (interpolation and pooling of zeros are zeros). */
const ZERO_PRESERVING_SPATIAL = new Set(['MaxPool', 'AveragePool', 'GlobalAveragePool', 'GlobalMaxPool', 'LpPool', 'GlobalLpPool', 'Resize', 'Upsample', 'ReduceMean', 'ReduceMax', 'ReduceSum', 'ReduceL2', 'ReduceL1']);
/** Layout ops after which the channel is no longer at axis 1 (only layout-blind ops may follow). */
const LAYOUT = new Set(['Flatten', 'Reshape', 'Squeeze', 'Unsqueeze', 'Transpose', 'Concat']);

function where(n: Node): string {
  return `${n.opType} '${n.name || n.outputs[0]?.name || '?'}'`;
}

function constantScalarOk(v: Value | null | undefined, test: (x: number) => boolean): boolean {
  if (!v) return true;
  const t = v.initializer;
  if (!t) return false;
  try {
    return Array.from(tensorTypedData(t) as ArrayLike<number>, Number).every(test);
  } catch {
    return false;
  }
}

function isInitializer(v: Value | null | undefined): boolean {
  return !!v && v.initializer !== undefined;
}

/**
 * Trace the output channels of a conv. While tracing, `channelAxis` turns false once a layout op
 * moved the channels off axis 1 (then only layout-blind zero-preserving ops and linear consumers
 * may follow), and `viaFeatures` turns true after global pooling or flattening (a Gemm/MatMul may
 * then consume the channels as features).
 */
export function traceConvOutput(conv: Node, channelsOf: (v: Value) => number | undefined = () => undefined): Trace {
  const batchNorms: Follower[] = [];
  const depthwise: Follower[] = [];
  const seen = new Set<Value>();
  const visit = (v: Value, channelAxis: boolean, viaFeatures: boolean, offset: number): string | undefined => {
    if (seen.has(v)) return undefined;
    seen.add(v);
    if (v.isGraphOutput) return `its channels reach the graph output '${v.name}'`;
    for (const { node: n, index } of v.uses()) {
      const op = n.domain === '' ? n.opType : `${n.domain}::${n.opType}`;
      let next: { channelAxis: boolean; viaFeatures: boolean; offset?: number } | undefined;
      if (op === 'Conv' || op === 'ConvTranspose') {
        if (index !== 0) return `its channels reach ${where(n)} as weights`;
        if (!channelAxis) return `its channels reach ${where(n)} after a layout change`;
        if (op === 'Conv' && isDepthwise(n)) {
          // channel c of the output reads only channel c: masking its weight and bias keeps it zero
          if (!isInitializer(n.input(1)) || (n.input(2) && !isInitializer(n.input(2)))) return `the depthwise conv ${where(n)} has parameters that are not initializers`;
          depthwise.push({ node: n, offset });
          next = { channelAxis, viaFeatures };
        } else if (n.attrInt('group', 1) !== 1) {
          return `it feeds the grouped conv ${where(n)} (group ${n.attrInt('group', 1)}, not depthwise with one filter per channel: its input channels could only be removed in whole groups)`;
        } else continue; // a linear consumer: zero channels contribute nothing
      } else if (op === 'Gemm' || op === 'MatMul') {
        if (!viaFeatures || index !== 0) return `it reaches ${where(n)} other than as pooled/flattened features`;
        continue;
      } else if (op === 'BatchNormalization') {
        if (index !== 0) return `it reaches ${where(n)} as a parameter`;
        if (!channelAxis) return `it reaches ${where(n)} after a layout change`;
        if (!isInitializer(n.input(1)) || !isInitializer(n.input(2))) return `${where(n)} has gamma/beta that are not initializers`;
        batchNorms.push({ node: n, offset });
        next = { channelAxis, viaFeatures };
      } else if (op === 'Clip') {
        const lo = n.input(1) ?? null;
        const hi = n.input(2) ?? null;
        const attrLo = n.attrFloat('min');
        const attrHi = n.attrFloat('max');
        const ok = constantScalarOk(lo, (x) => x <= 0) && constantScalarOk(hi, (x) => x >= 0) && (attrLo === undefined || attrLo <= 0) && (attrHi === undefined || attrHi >= 0);
        if (!ok) return `${where(n)} does not map 0 to 0`;
        next = { channelAxis, viaFeatures };
      } else if (op === 'PRelu') {
        if (index !== 0) return `it reaches ${where(n)} as a slope`;
        next = { channelAxis, viaFeatures };
      } else if (op === 'Mul' || (op === 'Div' && index === 0)) {
        // 0 * anything (finite) = 0; the other operand must not mix channels (it broadcasts)
        next = { channelAxis, viaFeatures };
      } else if (op === 'Pad') {
        const mode = n.attrString('mode', 'constant');
        if (index !== 0) return `it reaches ${where(n)} as pads`;
        if (mode === 'constant' && !constantScalarOk(n.input(2) ?? null, (x) => x === 0)) return `${where(n)} pads with a non-zero value`;
        next = { channelAxis, viaFeatures };
      } else if (ZERO_PRESERVING_UNARY.has(op)) {
        next = { channelAxis, viaFeatures };
      } else if (ZERO_PRESERVING_SPATIAL.has(op)) {
        if (index !== 0) return `it reaches ${where(n)} as a parameter`;
        const global = op.startsWith('Global') || op.startsWith('Reduce');
        next = { channelAxis, viaFeatures: viaFeatures || global };
      } else if (op === 'Concat' && channelAxis && !viaFeatures && n.attrInt('axis', 0) === 1) {
        // along the channels: they stay on axis 1, at the offset of this input
        if (n.inputs.filter((x) => x === v).length > 1) return `its channels enter ${where(n)} twice`;
        let at = 0;
        for (const x of n.inputs.slice(0, index)) {
          const c = x ? channelsOf(x) : undefined;
          if (c === undefined) return `the channel count of '${x?.name}' before it in ${where(n)} is not known statically`;
          at += c;
        }
        next = { channelAxis, viaFeatures, offset: offset + at };
      } else if (LAYOUT.has(op)) {
        if (op !== 'Concat' && index !== 0) return `it reaches ${where(n)} as a shape`;
        // a Concat along channels keeps them on axis 1 at an offset, which masks of later BNs would need
        next = { channelAxis: false, viaFeatures: viaFeatures || op === 'Flatten' || op === 'Reshape' || op === 'Squeeze' };
      } else if ((op === 'Sigmoid' || op === 'HardSigmoid') && n.outputs[0]?.uses().every((u) => u.node.opType === 'Mul' && u.node.inputs.includes(v))) {
        continue; // x * sigmoid(x) (SiLU/Swish): the Mul is followed through x's own use
      } else if (op === 'Add' || op === 'Sub' || op === 'Sum' || op === 'Max' || op === 'Min' || op === 'Mean') {
        return `its channels join another path at ${where(n)} (a residual group: pruned together or not at all)`;
      } else {
        return `it reaches ${where(n)}, which does not keep a zero channel zero`;
      }
      for (const out of n.outputs) {
        if (!out) continue;
        const r = visit(out, next.channelAxis, next.viaFeatures, next.offset ?? offset);
        if (r) return r;
      }
    }
    return undefined;
  };
  const out = conv.output(0);
  if (!out) return { ok: false, reason: 'the conv has no output' };
  const reason = visit(out, true, false, 0);
  return reason ? { ok: false, reason } : { ok: true, batchNorms, depthwise };
}
