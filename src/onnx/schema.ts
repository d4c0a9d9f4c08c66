/**
 * The ONNX protobuf schema (onnx.proto, IR version 11 / ONNX 1.18 fields), as data: message name
 * -> fields. The codec is driven by this table. onnx-proto's bundled schema stops at IR 8; the
 * fields added since (node `overload` and `metadata_props`, graph/value-info/tensor
 * `metadata_props`, function `overload`/`value_info`, float8/int4 data types) are listed here, and
 * anything newer still survives a load/save as an unknown field kept in place.
 */

export type ScalarType = 'string' | 'bytes' | 'int32' | 'int64' | 'uint64' | 'float' | 'double' | 'bool';

export interface FieldDef {
  no: number;
  name: string;
  /** A scalar type or the name of a message in `SCHEMA`. */
  type: ScalarType | string;
  repeated?: boolean;
  /** Declared `[packed = true]`: how new data is written. Decoding accepts both forms. */
  packed?: boolean;
  /** Decode a packed float/double field into a typed array (tensor payloads). */
  typed?: boolean;
}

export interface MessageDef {
  name: string;
  fields: FieldDef[];
  byNo: Map<number, FieldDef>;
  byName: Map<string, FieldDef>;
  /** Fields sorted by number: the canonical order new messages are written in. */
  ordered: FieldDef[];
}

const S = 'string';
const B = 'bytes';
const I32 = 'int32';
const I64 = 'int64';

function msg(name: string, fields: FieldDef[]): MessageDef {
  const ordered = [...fields].sort((a, b) => a.no - b.no);
  return {
    name,
    fields,
    ordered,
    byNo: new Map(fields.map((f) => [f.no, f])),
    byName: new Map(fields.map((f) => [f.name, f])),
  };
}

const defs: MessageDef[] = [
  msg('AttributeProto', [
    { no: 1, name: 'name', type: S },
    { no: 21, name: 'ref_attr_name', type: S },
    { no: 13, name: 'doc_string', type: S },
    { no: 20, name: 'type', type: I32 },
    { no: 2, name: 'f', type: 'float' },
    { no: 3, name: 'i', type: I64 },
    { no: 4, name: 's', type: B },
    { no: 5, name: 't', type: 'TensorProto' },
    { no: 6, name: 'g', type: 'GraphProto' },
    { no: 22, name: 'sparse_tensor', type: 'SparseTensorProto' },
    { no: 14, name: 'tp', type: 'TypeProto' },
    { no: 7, name: 'floats', type: 'float', repeated: true },
    { no: 8, name: 'ints', type: I64, repeated: true },
    { no: 9, name: 'strings', type: B, repeated: true },
    { no: 10, name: 'tensors', type: 'TensorProto', repeated: true },
    { no: 11, name: 'graphs', type: 'GraphProto', repeated: true },
    { no: 23, name: 'sparse_tensors', type: 'SparseTensorProto', repeated: true },
    { no: 15, name: 'type_protos', type: 'TypeProto', repeated: true },
  ]),
  msg('ValueInfoProto', [
    { no: 1, name: 'name', type: S },
    { no: 2, name: 'type', type: 'TypeProto' },
    { no: 3, name: 'doc_string', type: S },
    { no: 4, name: 'metadata_props', type: 'StringStringEntryProto', repeated: true },
  ]),
  msg('NodeProto', [
    { no: 1, name: 'input', type: S, repeated: true },
    { no: 2, name: 'output', type: S, repeated: true },
    { no: 3, name: 'name', type: S },
    { no: 4, name: 'op_type', type: S },
    { no: 7, name: 'domain', type: S },
    { no: 8, name: 'overload', type: S },
    { no: 5, name: 'attribute', type: 'AttributeProto', repeated: true },
    { no: 6, name: 'doc_string', type: S },
    { no: 9, name: 'metadata_props', type: 'StringStringEntryProto', repeated: true },
  ]),
  msg('TrainingInfoProto', [
    { no: 1, name: 'initialization', type: 'GraphProto' },
    { no: 2, name: 'algorithm', type: 'GraphProto' },
    { no: 3, name: 'initialization_binding', type: 'StringStringEntryProto', repeated: true },
    { no: 4, name: 'update_binding', type: 'StringStringEntryProto', repeated: true },
  ]),
  msg('ModelProto', [
    { no: 1, name: 'ir_version', type: I64 },
    { no: 8, name: 'opset_import', type: 'OperatorSetIdProto', repeated: true },
    { no: 2, name: 'producer_name', type: S },
    { no: 3, name: 'producer_version', type: S },
    { no: 4, name: 'domain', type: S },
    { no: 5, name: 'model_version', type: I64 },
    { no: 6, name: 'doc_string', type: S },
    { no: 7, name: 'graph', type: 'GraphProto' },
    { no: 14, name: 'metadata_props', type: 'StringStringEntryProto', repeated: true },
    { no: 20, name: 'training_info', type: 'TrainingInfoProto', repeated: true },
    { no: 25, name: 'functions', type: 'FunctionProto', repeated: true },
  ]),
  msg('StringStringEntryProto', [
    { no: 1, name: 'key', type: S },
    { no: 2, name: 'value', type: S },
  ]),
  msg('TensorAnnotation', [
    { no: 1, name: 'tensor_name', type: S },
    { no: 2, name: 'quant_parameter_tensor_names', type: 'StringStringEntryProto', repeated: true },
  ]),
  msg('GraphProto', [
    { no: 1, name: 'node', type: 'NodeProto', repeated: true },
    { no: 2, name: 'name', type: S },
    { no: 5, name: 'initializer', type: 'TensorProto', repeated: true },
    { no: 15, name: 'sparse_initializer', type: 'SparseTensorProto', repeated: true },
    { no: 10, name: 'doc_string', type: S },
    { no: 11, name: 'input', type: 'ValueInfoProto', repeated: true },
    { no: 12, name: 'output', type: 'ValueInfoProto', repeated: true },
    { no: 13, name: 'value_info', type: 'ValueInfoProto', repeated: true },
    { no: 14, name: 'quantization_annotation', type: 'TensorAnnotation', repeated: true },
    { no: 16, name: 'metadata_props', type: 'StringStringEntryProto', repeated: true },
  ]),
  msg('TensorProto', [
    { no: 1, name: 'dims', type: I64, repeated: true },
    { no: 2, name: 'data_type', type: I32 },
    { no: 3, name: 'segment', type: 'TensorProto.Segment' },
    { no: 4, name: 'float_data', type: 'float', repeated: true, packed: true, typed: true },
    { no: 5, name: 'int32_data', type: I32, repeated: true, packed: true },
    { no: 6, name: 'string_data', type: B, repeated: true },
    { no: 7, name: 'int64_data', type: I64, repeated: true, packed: true },
    { no: 8, name: 'name', type: S },
    { no: 12, name: 'doc_string', type: S },
    { no: 9, name: 'raw_data', type: B },
    { no: 13, name: 'external_data', type: 'StringStringEntryProto', repeated: true },
    { no: 14, name: 'data_location', type: I32 },
    { no: 10, name: 'double_data', type: 'double', repeated: true, packed: true, typed: true },
    { no: 11, name: 'uint64_data', type: 'uint64', repeated: true, packed: true },
    { no: 16, name: 'metadata_props', type: 'StringStringEntryProto', repeated: true },
  ]),
  msg('TensorProto.Segment', [
    { no: 1, name: 'begin', type: I64 },
    { no: 2, name: 'end', type: I64 },
  ]),
  msg('SparseTensorProto', [
    { no: 1, name: 'values', type: 'TensorProto' },
    { no: 2, name: 'indices', type: 'TensorProto' },
    { no: 3, name: 'dims', type: I64, repeated: true },
  ]),
  msg('TensorShapeProto', [{ no: 1, name: 'dim', type: 'TensorShapeProto.Dimension', repeated: true }]),
  msg('TensorShapeProto.Dimension', [
    { no: 1, name: 'dim_value', type: I64 },
    { no: 2, name: 'dim_param', type: S },
    { no: 3, name: 'denotation', type: S },
  ]),
  msg('TypeProto', [
    { no: 1, name: 'tensor_type', type: 'TypeProto.Tensor' },
    { no: 4, name: 'sequence_type', type: 'TypeProto.Sequence' },
    { no: 5, name: 'map_type', type: 'TypeProto.Map' },
    { no: 9, name: 'optional_type', type: 'TypeProto.Optional' },
    { no: 8, name: 'sparse_tensor_type', type: 'TypeProto.SparseTensor' },
    { no: 7, name: 'opaque_type', type: 'TypeProto.Opaque' },
    { no: 6, name: 'denotation', type: S },
  ]),
  msg('TypeProto.Tensor', [
    { no: 1, name: 'elem_type', type: I32 },
    { no: 2, name: 'shape', type: 'TensorShapeProto' },
  ]),
  msg('TypeProto.Sequence', [{ no: 1, name: 'elem_type', type: 'TypeProto' }]),
  msg('TypeProto.Map', [
    { no: 1, name: 'key_type', type: I32 },
    { no: 2, name: 'value_type', type: 'TypeProto' },
  ]),
  msg('TypeProto.Optional', [{ no: 1, name: 'elem_type', type: 'TypeProto' }]),
  msg('TypeProto.SparseTensor', [
    { no: 1, name: 'elem_type', type: I32 },
    { no: 2, name: 'shape', type: 'TensorShapeProto' },
  ]),
  msg('TypeProto.Opaque', [
    { no: 1, name: 'domain', type: S },
    { no: 2, name: 'name', type: S },
  ]),
  msg('OperatorSetIdProto', [
    { no: 1, name: 'domain', type: S },
    { no: 2, name: 'version', type: I64 },
  ]),
  msg('FunctionProto', [
    { no: 1, name: 'name', type: S },
    { no: 4, name: 'input', type: S, repeated: true },
    { no: 5, name: 'output', type: S, repeated: true },
    { no: 6, name: 'attribute', type: S, repeated: true },
    { no: 11, name: 'attribute_proto', type: 'AttributeProto', repeated: true },
    { no: 7, name: 'node', type: 'NodeProto', repeated: true },
    { no: 8, name: 'doc_string', type: S },
    { no: 9, name: 'opset_import', type: 'OperatorSetIdProto', repeated: true },
    { no: 10, name: 'domain', type: S },
    { no: 13, name: 'overload', type: S },
    { no: 12, name: 'value_info', type: 'ValueInfoProto', repeated: true },
    { no: 14, name: 'metadata_props', type: 'StringStringEntryProto', repeated: true },
  ]),
];

export const SCHEMA: ReadonlyMap<string, MessageDef> = new Map(defs.map((d) => [d.name, d]));

export function messageDef(name: string): MessageDef {
  const d = SCHEMA.get(name);
  if (!d) throw new Error(`internal: no schema for message ${name}`);
  return d;
}

export function isScalar(type: string): type is ScalarType {
  return (
    type === 'string' ||
    type === 'bytes' ||
    type === 'int32' ||
    type === 'int64' ||
    type === 'uint64' ||
    type === 'float' ||
    type === 'double' ||
    type === 'bool'
  );
}
