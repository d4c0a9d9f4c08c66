/**
 * `inspect`: a summary of a model (versions, opsets, producer, inputs/outputs with shapes, op
 * histogram, parameters, MACs, external data, metadata). The JSON form is a stable schema
 * (`iqa-surgeon/inspect@1`, documented in docs/CLI.md).
 */
import { statSync } from 'node:fs';
import type { Model } from '../ir/model.js';
import type { Value } from '../ir/value.js';
import { dataTypeName } from '../onnx/data-types.js';
import { EXTERNAL_REF, type TensorWithRef } from '../onnx/external-data.js';
import { forEachTensor } from '../onnx/model-io.js';
import { tensorByteLength } from '../onnx/tensor-data.js';
import { inferShapesStatic } from './shapes/infer.js';
import type { Dim } from './shapes/types.js';
import { parameterCount, totalMacs } from './stats.js';

export interface TensorSummary {
  name: string;
  elemType: string;
  /** Dims: numbers, symbolic names, or null where unknown; null for unknown rank. */
  shape: (number | string | null)[] | null;
}

export interface InspectReport {
  schema: 'iqa-surgeon/inspect@1';
  file: string | null;
  fileBytes: number | null;
  irVersion: number;
  producer: { name: string; version: string };
  domain: string;
  modelVersion: number;
  opsets: { domain: string; version: number }[];
  inputs: TensorSummary[];
  outputs: TensorSummary[];
  nodes: number;
  /** Op type (prefixed with its domain when not the default one) -> count, most frequent first. */
  ops: Record<string, number>;
  subgraphs: number;
  functions: string[];
  initializers: number;
  params: number;
  initializerBytes: number;
  /** Multiply-accumulates of Conv/ConvTranspose/Gemm/MatMul for one input (symbolic dims as 1); null if shapes are unknown. */
  macs: number | null;
  externalData: { tensors: number; bytes: number; files: string[] };
  metadata: Record<string, string>;
}

function summarize(v: Value): TensorSummary {
  const shape = v.declaredShape;
  return {
    name: v.name,
    elemType: dataTypeName(v.elemType),
    shape: shape ? shape.map((d) => d ?? null) : null,
  };
}

export function inspectModel(model: Model, opts: { inputShapes?: Record<string, Dim[]> } = {}): InspectReport {
  const g = model.graph;
  const ops = new Map<string, number>();
  let nodes = 0;
  let subgraphs = 0;
  for (const n of g.allNodes()) {
    nodes++;
    subgraphs += n.subgraphs.length;
    const key = n.domain ? `${n.domain}::${n.opType}` : n.opType;
    ops.set(key, (ops.get(key) ?? 0) + 1);
  }
  const sortedOps = Object.fromEntries([...ops].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])));

  let initializerBytes = 0;
  let initializers = 0;
  for (const v of g.initializers()) {
    initializers++;
    initializerBytes += tensorByteLength(v.initializer!);
  }
  const ext = { tensors: 0, bytes: 0, files: new Set<string>() };
  forEachTensor(model.proto, (t) => {
    const ref = (t as TensorWithRef)[EXTERNAL_REF];
    if (!ref) return;
    ext.tensors++;
    ext.bytes += ref.length;
    ext.files.add(ref.location);
  });

  let macs: number | null = null;
  try {
    const shapes = inferShapesStatic(model, opts.inputShapes ? { inputShapes: opts.inputShapes } : {});
    macs = totalMacs(g, shapes);
  } catch {
    macs = null;
  }

  const inputs = g.inputs.filter((v) => !v.isInitializer).map(summarize);
  const p = model.proto;
  return {
    schema: 'iqa-surgeon/inspect@1',
    file: model.path ?? null,
    fileBytes: model.path ? statSync(model.path).size : null,
    irVersion: model.irVersion,
    producer: { name: p.producer_name ?? '', version: p.producer_version ?? '' },
    domain: p.domain ?? '',
    modelVersion: Number(p.model_version ?? 0),
    opsets: model.opsets(),
    inputs,
    outputs: g.outputs.map(summarize),
    nodes,
    ops: sortedOps,
    subgraphs,
    functions: (p.functions ?? []).map((f) => `${f.domain ?? ''}::${f.name ?? ''}`),
    initializers,
    params: parameterCount(g),
    initializerBytes,
    macs,
    externalData: { tensors: ext.tensors, bytes: ext.bytes, files: [...ext.files] },
    metadata: Object.fromEntries(model.metadata()),
  };
}

