/**
 * TypeScript shapes of the decoded ONNX messages (field names as in onnx.proto). Absent optional
 * fields are `undefined`; repeated fields may be absent too. int64 values are numbers when safe,
 * bigints otherwise (see `Int64`).
 */
import type { ProtoMessage } from './codec.js';
import type { Int64 } from './wire.js';

export type { Int64 };

export interface StringStringEntryProto extends ProtoMessage {
  key?: string;
  value?: string;
}

export interface OperatorSetIdProto extends ProtoMessage {
  domain?: string;
  version?: Int64;
}

export interface TensorShapeDimension extends ProtoMessage {
  dim_value?: Int64;
  dim_param?: string;
  denotation?: string;
}

export interface TensorShapeProto extends ProtoMessage {
  dim?: TensorShapeDimension[];
}

export interface TypeProtoTensor extends ProtoMessage {
  elem_type?: number;
  shape?: TensorShapeProto;
}

export interface TypeProto extends ProtoMessage {
  tensor_type?: TypeProtoTensor;
  sequence_type?: { elem_type?: TypeProto } & ProtoMessage;
  map_type?: { key_type?: number; value_type?: TypeProto } & ProtoMessage;
  optional_type?: { elem_type?: TypeProto } & ProtoMessage;
  sparse_tensor_type?: TypeProtoTensor;
  denotation?: string;
}

export interface ValueInfoProto extends ProtoMessage {
  name?: string;
  type?: TypeProto;
  doc_string?: string;
  metadata_props?: StringStringEntryProto[];
}

export interface TensorProto extends ProtoMessage {
  dims?: Int64[];
  data_type?: number;
  segment?: { begin?: Int64; end?: Int64 } & ProtoMessage;
  float_data?: Float32Array | number[];
  int32_data?: number[];
  string_data?: Uint8Array[];
  int64_data?: Int64[];
  name?: string;
  doc_string?: string;
  raw_data?: Uint8Array;
  external_data?: StringStringEntryProto[];
  data_location?: number;
  double_data?: Float64Array | number[];
  uint64_data?: Int64[];
  metadata_props?: StringStringEntryProto[];
}

export interface SparseTensorProto extends ProtoMessage {
  values?: TensorProto;
  indices?: TensorProto;
  dims?: Int64[];
}

export interface AttributeProto extends ProtoMessage {
  name?: string;
  ref_attr_name?: string;
  doc_string?: string;
  type?: number;
  f?: number;
  i?: Int64;
  s?: Uint8Array;
  t?: TensorProto;
  g?: GraphProto;
  sparse_tensor?: SparseTensorProto;
  tp?: TypeProto;
  floats?: number[];
  ints?: Int64[];
  strings?: Uint8Array[];
  tensors?: TensorProto[];
  graphs?: GraphProto[];
  sparse_tensors?: SparseTensorProto[];
  type_protos?: TypeProto[];
}

export interface NodeProto extends ProtoMessage {
  input?: string[];
  output?: string[];
  name?: string;
  op_type?: string;
  domain?: string;
  overload?: string;
  attribute?: AttributeProto[];
  doc_string?: string;
  metadata_props?: StringStringEntryProto[];
}

export interface TensorAnnotation extends ProtoMessage {
  tensor_name?: string;
  quant_parameter_tensor_names?: StringStringEntryProto[];
}

export interface GraphProto extends ProtoMessage {
  node?: NodeProto[];
  name?: string;
  initializer?: TensorProto[];
  sparse_initializer?: SparseTensorProto[];
  doc_string?: string;
  input?: ValueInfoProto[];
  output?: ValueInfoProto[];
  value_info?: ValueInfoProto[];
  quantization_annotation?: TensorAnnotation[];
  metadata_props?: StringStringEntryProto[];
}

export interface FunctionProto extends ProtoMessage {
  name?: string;
  input?: string[];
  output?: string[];
  attribute?: string[];
  attribute_proto?: AttributeProto[];
  node?: NodeProto[];
  doc_string?: string;
  opset_import?: OperatorSetIdProto[];
  domain?: string;
  overload?: string;
  value_info?: ValueInfoProto[];
  metadata_props?: StringStringEntryProto[];
}

export interface TrainingInfoProto extends ProtoMessage {
  initialization?: GraphProto;
  algorithm?: GraphProto;
  initialization_binding?: StringStringEntryProto[];
  update_binding?: StringStringEntryProto[];
}

export interface ModelProto extends ProtoMessage {
  ir_version?: Int64;
  opset_import?: OperatorSetIdProto[];
  producer_name?: string;
  producer_version?: string;
  domain?: string;
  model_version?: Int64;
  doc_string?: string;
  graph?: GraphProto;
  metadata_props?: StringStringEntryProto[];
  training_info?: TrainingInfoProto[];
  functions?: FunctionProto[];
}

/** AttributeProto.AttributeType */
export const AttributeType = {
  UNDEFINED: 0,
  FLOAT: 1,
  INT: 2,
  STRING: 3,
  TENSOR: 4,
  GRAPH: 5,
  SPARSE_TENSOR: 11,
  TYPE_PROTO: 13,
  FLOATS: 6,
  INTS: 7,
  STRINGS: 8,
  TENSORS: 9,
  GRAPHS: 10,
  SPARSE_TENSORS: 12,
  TYPE_PROTOS: 14,
} as const;

/** TensorProto.DataLocation */
export const DataLocation = { DEFAULT: 0, EXTERNAL: 1 } as const;
