/**
 * Shape, type and (for small numeric tensors) contents of a TensorProto: initializers and the
 * `value` of Constant nodes.
 */
import type { TensorProto } from '../../onnx/proto-types.js';
import { tensorDims, tensorToNumbers } from '../../onnx/tensor-data.js';
import { isTrackedType, MAX_TRACKED_ELEMENTS } from './util.js';
import type { ShapeInfo, ShapeSource } from './types.js';

export function tensorShapeInfo(t: TensorProto, source: ShapeSource): ShapeInfo {
  const shape = tensorDims(t);
  const info: ShapeInfo = { elemType: t.data_type, shape, source };
  const count = shape.reduce((a, b) => a * b, 1);
  if (count <= MAX_TRACKED_ELEMENTS && isTrackedType(t.data_type)) {
    const value = tensorToNumbers(t);
    if (value.length === count) info.value = value;
  }
  return info;
}
