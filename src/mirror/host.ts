/**
 * Moving tensors between the host (ONNX TensorProtos, HostTensors) and tfjs, with the mirror's
 * type mapping: float32 -> float32 (float64 is accepted for inputs and rounded), every integer
 * type -> int32 (values must fit), bool -> bool.
 */
import { UserError } from '../errors.js';
import type { HostTensor } from '../differentiable/model.js';
import { elementCount } from '../differentiable/model.js';
import type { Tensor, TF } from '../ops/types.js';

// the TensorProto side lives with the kernels (ops/ must not import mirror/)
export { INT_TYPES, MIRROR_DTYPES, protoToTensor } from '../ops/tensor-proto.js';

/** A host tensor as a tfjs tensor of the dtype its array implies. */
export function hostToTensor(tf: TF, h: HostTensor, where: string): Tensor {
  if (elementCount(h.dims) !== h.data.length) throw new UserError('mirror-shape', `${where}: ${h.data.length} values for dims [${h.dims.join(',')}]`);
  if (h.data instanceof Float32Array) return tf.tensor(h.data, h.dims, 'float32');
  if (h.data instanceof Int32Array) return tf.tensor(h.data, h.dims, 'int32');
  return tf.tensor(h.data, h.dims, 'bool');
}

/** A tfjs tensor read back to the host. */
export function tensorToHost(t: Tensor): HostTensor {
  const data = t.dataSync();
  const dims = [...t.shape];
  if (t.dtype === 'float32') return { dims, data: data instanceof Float32Array ? data : Float32Array.from(data as ArrayLike<number>) };
  if (t.dtype === 'bool') return { dims, data: data instanceof Uint8Array ? data : Uint8Array.from(data as ArrayLike<number>) };
  return { dims, data: data instanceof Int32Array ? data : Int32Array.from(data as ArrayLike<number>) };
}
