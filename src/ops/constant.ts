/**
 * Mirror kernels: the constant family (Constant, ConstantOfShape, Range, EyeLike).
 *
 * Constant tensors come from their TensorProto through the mirror's type mapping (float ->
 * float32, integers -> int32, bool -> bool). Range is start + i * delta with tfjs ops, so it is
 * differentiable in start and delta; only its length (from start, limit, delta) is read to the
 * host.
 */
import { MIRROR_DTYPES, protoToTensor } from './tensor-proto.js';
import { dataTypeName } from '../onnx/data-types.js';
import type { TensorProto } from '../onnx/proto-types.js';
import { ALL_TYPES, NUMERIC_TYPES } from './shape.js';
import type { KernelContext, KernelTable } from './types.js';

const CONSTANT_VALUE_ATTRS = ['value', 'value_float', 'value_floats', 'value_int', 'value_ints'];
const UNSUPPORTED_VALUE_ATTRS = ['sparse_value', 'value_string', 'value_strings'];

function tensorAttrProblem(t: TensorProto | undefined, what: string): string | undefined {
  if (!t) return undefined;
  const type = t.data_type ?? 0;
  if (!MIRROR_DTYPES.has(type)) return `${what} has element type ${dataTypeName(type)}, which the mirror cannot hold`;
  if (t.data_location === 1) return `${what} holds external data`;
  return undefined;
}

export const CONSTANT_KERNELS: KernelTable = {
  Constant: {
    types: ALL_TYPES,
    unsupported: (node) => {
      const bad = UNSUPPORTED_VALUE_ATTRS.find((a) => node.attribute(a));
      if (bad) return `Constant with '${bad}' is not supported by the mirror`;
      if (!CONSTANT_VALUE_ATTRS.some((a) => node.attribute(a))) return 'Constant without a value attribute';
      return tensorAttrProblem(node.attribute('value')?.t, "Constant's value");
    },
    forward: (ctx: KernelContext) => {
      const tf = ctx.tf;
      const n = ctx.node;
      const t = n.attribute('value')?.t;
      if (t) return [protoToTensor(tf, t, `Constant '${n.label}'`)];
      const f = n.attrFloat('value_float');
      if (n.attribute('value_float')) return [tf.scalar(f ?? 0, 'float32')];
      if (n.attribute('value_floats')) return [tf.tensor1d(n.attrFloats('value_floats') ?? [], 'float32')];
      if (n.attribute('value_int')) return [tf.scalar(n.attrInt('value_int', 0), 'int32')];
      if (n.attribute('value_ints')) return [tf.tensor1d(n.attrInts('value_ints') ?? [], 'int32')];
      return ctx.fail('no value attribute');
    },
  },

  ConstantOfShape: {
    // input 0 is the int64 shape
    types: NUMERIC_TYPES,
    sinceVersion: 9,
    unsupported: (node) => tensorAttrProblem(node.attribute('value')?.t, "ConstantOfShape's value"),
    forward: (ctx: KernelContext, [shapeT]) => {
      const tf = ctx.tf;
      const shape = ctx.ints(shapeT) ?? [];
      if (shape.some((d) => d < 0)) ctx.fail(`negative dims [${shape.join(',')}]`);
      const t = ctx.node.attribute('value')?.t;
      if (!t) return [tf.zeros(shape, 'float32')];
      const v = protoToTensor(tf, t, `ConstantOfShape '${ctx.node.label}' value`);
      if (v.size !== 1) ctx.fail(`value holds ${v.size} elements, not 1`);
      // an attribute constant: its one value is read to the host
      const value = Number(v.dataSync()[0]);
      const dtype = v.dtype as 'float32' | 'int32' | 'bool';
      v.dispose();
      if (dtype === 'bool') return [tf.cast(tf.fill(shape, value ? 1 : 0, 'int32'), 'bool')];
      return [tf.fill(shape, value, dtype)];
    },
  },

  Range: {
    types: NUMERIC_TYPES,
    sinceVersion: 11,
    forward: (ctx: KernelContext, [start, limit, delta]) => {
      const tf = ctx.tf;
      const [s, l, d] = [start, limit, delta].map((t) => ctx.floats(t)?.[0]) as [number, number, number];
      if (d === 0) ctx.fail('delta is 0');
      const n = Math.max(Math.ceil((l - s) / d), 0);
      const dtype = start!.dtype === 'int32' ? 'int32' : 'float32';
      if (n === 0) return [tf.zeros([0], dtype)];
      const i = tf.range(0, n, 1, dtype);
      return [tf.add(tf.reshape(start!, []), tf.mul(i, tf.reshape(delta!, [])))];
    },
  },

  EyeLike: {
    types: ALL_TYPES,
    sinceVersion: 9,
    unsupported: (node) => {
      const dt = node.attrInt('dtype');
      return dt !== undefined && !MIRROR_DTYPES.has(dt) ? `EyeLike dtype ${dataTypeName(dt)} is not supported by the mirror` : undefined;
    },
    forward: (ctx: KernelContext, [x]) => {
      const tf = ctx.tf;
      if (x!.rank !== 2) ctx.fail(`input of rank ${x!.rank}, not 2`);
      const [n, m] = x!.shape as [number, number];
      const k = ctx.node.attrInt('k', 0);
      const dt = ctx.node.attrInt('dtype');
      const dtype = dt === undefined ? x!.dtype : MIRROR_DTYPES.get(dt)!;
      if (n === 0 || m === 0) return [tf.zeros([n, m], dtype)];
      const diff = tf.sub(tf.reshape(tf.range(0, m, 1, 'int32'), [1, m]), tf.reshape(tf.range(0, n, 1, 'int32'), [n, 1]));
      const eye = tf.equal(diff, tf.scalar(k, 'int32'));
      return [dtype === 'bool' ? eye : tf.cast(eye, dtype)];
    },
  },
};
