/**
 * Loading and saving ModelProto files: size limits, external data (validated at load, read
 * lazily), and atomic saves that never write outside the output folder nor over the files the
 * model was read from.
 */
import { existsSync, realpathSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { OnnxFormatError, PathError, UserError } from '../errors.js';
import { acquireLock, checkNameLength, checkReplaceableTarget, pauseForTests, writeTemp, type PendingFile } from '../util/atomic-write.js';
import { readRegularFile } from '../util/safe-read.js';
import { decode, encode, encodeTo, encodedSize, LAYOUT, type ProtoMessage, type Substitute } from './codec.js';
import { EXTERNAL_REF, resolveExternalRef, type TensorWithRef } from './external-data.js';
import {
  DataLocation,
  type AttributeProto,
  type GraphProto,
  type ModelProto,
  type NodeProto,
  type TensorProto,
} from './proto-types.js';
import { dataTypeInfo, rawByteLength } from './data-types.js';
import { isExternal, tensorByteLength, tensorRawBytes } from './tensor-data.js';

export interface LoadedModel {
  proto: ModelProto;
  /** Absolute path of the model file, when loaded from a file. */
  path?: string;
  /** Folder external data is resolved against. */
  dir?: string;
  /** Real paths of every file this model reads from (itself and its external data files). */
  sourceFiles: Set<string>;
}

export interface LoadOptions {
  /** Refuse files larger than this many bytes (default 8 GiB). */
  maxFileBytes?: number;
  /** Refuse models with more nodes than this, subgraphs and functions included (default 40,000: the structural commands' measured limit, docs/RELIABILITY.md). */
  maxNodes?: number;
  /** Refuse models holding more protobuf messages than this, of any kind (default 1,000,000). */
  maxProtoMessages?: number;
  /** Refuse tensors declaring more elements than this (default 2^31: 8 GiB of float32, the default file-size cap); also caps what the shape probe feeds. */
  maxTensorElements?: number;
  /** Refuse images with more pixels than this, from their header, before decoding (default 2^28; read by src/data). */
  maxImagePixels?: number;
}

/**
 * Resource limits for reading models. Every limit is checked before the memory it guards is
 * spent: the file size before reading, node and message counts while decoding (a 10 MB file of
 * empty nodes would otherwise build millions of objects), element counts from dims alone.
 */
export type Limits = Required<LoadOptions>;

export const DEFAULT_MAX_FILE_BYTES = 8 * 1024 ** 3;

export const DEFAULT_LIMITS: Readonly<Limits> = Object.freeze({
  maxFileBytes: DEFAULT_MAX_FILE_BYTES,
  maxNodes: 40_000,
  maxProtoMessages: 1_000_000,
  maxTensorElements: 2 ** 31,
  maxImagePixels: 2 ** 28,
});

/** The command-line flag that raises each limit (named in the error). */
export const LIMIT_FLAGS: Readonly<Record<keyof Limits, string>> = Object.freeze({
  maxFileBytes: '--max-file-bytes',
  maxNodes: '--max-nodes',
  maxProtoMessages: '--max-proto-messages',
  maxTensorElements: '--max-tensor-elements',
  maxImagePixels: '--max-image-pixels',
});

let processLimits: Limits = { ...DEFAULT_LIMITS };

/** The limits loads use when their options do not say (set by the CLI's global flags). */
export function currentLimits(): Readonly<Limits> {
  return processLimits;
}

/** Replace the process-wide limits (unset entries take the defaults). */
export function setLimits(limits: LoadOptions = {}): void {
  processLimits = { ...DEFAULT_LIMITS };
  for (const k of Object.keys(DEFAULT_LIMITS) as (keyof Limits)[]) {
    const v = limits[k];
    if (v !== undefined) processLimits[k] = v;
  }
}

function resolveLimits(opts: LoadOptions): Limits {
  const base = currentLimits();
  return {
    maxFileBytes: opts.maxFileBytes ?? base.maxFileBytes,
    maxNodes: opts.maxNodes ?? base.maxNodes,
    maxProtoMessages: opts.maxProtoMessages ?? base.maxProtoMessages,
    maxTensorElements: opts.maxTensorElements ?? base.maxTensorElements,
    maxImagePixels: opts.maxImagePixels ?? base.maxImagePixels,
  };
}

/** Throws the limit error when `count` elements exceed `maxTensorElements` (for callers that allocate from shapes). */
export function checkElementCount(count: number, what: string, maxTensorElements = currentLimits().maxTensorElements): void {
  if (!(count <= maxTensorElements)) {
    throw new UserError('limit-tensor-elements', `${what} has ${Number.isFinite(count) ? count : 'too many'} elements, over the limit of ${maxTensorElements} (raise it with ${LIMIT_FLAGS.maxTensorElements})`);
  }
}

/** Read and decode an ONNX model file. Throws UserError subclasses for anything a user can cause. */
export function loadModelFile(file: string, opts: LoadOptions = {}): LoadedModel {
  const abs = path.resolve(file);
  const limits = resolveLimits(opts);
  // the one safe reader: regular files only (a FIFO, a device or a folder is refused on the opened
  // descriptor, without blocking), the size checked before anything is read
  const bytes = readRegularFile(abs, { what: 'model file', maxBytes: limits.maxFileBytes, maxBytesFlag: LIMIT_FLAGS.maxFileBytes });
  const real = realpathSync(abs);
  return decodeModel(bytes, { path: abs, dir: path.dirname(real), realPath: real }, limits);
}

/** Decode model bytes; external data is resolved against `dir` (when given). */
export function decodeModel(bytes: Uint8Array, where: { path?: string; dir?: string; realPath?: string } = {}, opts: LoadOptions = {}): LoadedModel {
  if (bytes.length === 0) throw new OnnxFormatError('empty file: not an ONNX model');
  const limits = resolveLimits(opts);
  let proto: ModelProto;
  let nodes = 0;
  let messages = 0;
  const count = (typeName: string): void => {
    if (++messages > limits.maxProtoMessages) {
      throw new UserError('limit-proto-messages', `the model holds more than ${limits.maxProtoMessages} protobuf messages, over the limit (raise it with ${LIMIT_FLAGS.maxProtoMessages})`);
    }
    if (typeName === 'NodeProto' && ++nodes > limits.maxNodes) {
      throw new UserError('limit-nodes', `the model has more than ${limits.maxNodes} nodes, over the limit (raise it with ${LIMIT_FLAGS.maxNodes})`);
    }
  };
  try {
    proto = decode<ModelProto>(bytes, 'ModelProto', count);
  } catch (e) {
    if (e instanceof OnnxFormatError && looksLikeText(bytes)) {
      throw new OnnxFormatError(`${e.message} (the file looks like text, not an ONNX protobuf)`);
    }
    throw e;
  }
  if (!proto.graph) {
    throw new OnnxFormatError(
      proto.ir_version === undefined
        ? 'not an ONNX model: no ir_version and no graph found in the protobuf'
        : 'ONNX model has no graph',
    );
  }
  const loaded: LoadedModel = { proto, sourceFiles: new Set() };
  if (where.path) loaded.path = where.path;
  if (where.dir) loaded.dir = where.dir;
  if (where.realPath) loaded.sourceFiles.add(where.realPath);
  forEachTensor(proto, (t) => {
    if (isExternal(t)) {
      if (!where.dir) throw new OnnxFormatError(`tensor '${t.name ?? ''}' stores its data externally; load the model from its file`);
      const ref = resolveExternalRef(t, where.dir);
      (t as TensorWithRef)[EXTERNAL_REF] = ref;
      loaded.sourceFiles.add(ref.file);
    } else {
      checkInlineTensor(t);
    }
    checkTensorElements(t, limits.maxTensorElements);
  });
  return loaded;
}

/**
 * An inline tensor's dims must be non-negative integers, and a raw_data payload must have the
 * size its dims and data type say (as ONNX's checker requires): otherwise the file is refused at
 * load rather than written back by a save that the next load would refuse. Unknown data types
 * are left to the read (the tensor may never be read).
 */
function checkInlineTensor(t: TensorProto): void {
  const label = `tensor '${(t.name ?? '').slice(0, 80)}'`;
  let count = 1;
  for (const d of t.dims ?? []) {
    const v = Number(d);
    if (!Number.isSafeInteger(v) || v < 0) throw new OnnxFormatError(`${label} has an invalid dimension ${String(d).slice(0, 40)}`);
    count *= v;
  }
  if (!t.raw_data) return;
  const info = dataTypeInfo(t.data_type);
  if (!info || info.bits === 0 || !Number.isSafeInteger(count)) return;
  const want = rawByteLength(info, count);
  if (t.raw_data.length !== want) {
    throw new OnnxFormatError(`${label} has ${t.raw_data.length} bytes of raw_data, but its dims [${(t.dims ?? []).slice(0, 8).map(String).join(',')}] and data type ${info.name} need ${want}`);
  }
}

/** Refuse a tensor whose dims declare more than `max` elements (from dims alone, before any data is read). */
function checkTensorElements(t: TensorProto, max: number): void {
  let n = 1;
  for (const d of t.dims ?? []) {
    const v = Number(d);
    if (!Number.isSafeInteger(v) || v < 0) return; // reported, with the tensor's name, where the dims are used
    n *= v;
  }
  checkElementCount(n, `tensor '${(t.name ?? '').slice(0, 80)}'`, max);
}

function looksLikeText(bytes: Uint8Array): boolean {
  const n = Math.min(bytes.length, 256);
  for (let i = 0; i < n; i++) {
    const b = bytes[i]!;
    if (b < 0x09 || (b > 0x0d && b < 0x20) || b === 0x7f) return false;
  }
  return true;
}

/** Visit every TensorProto in the model: initializers, attribute tensors, subgraphs, functions. */
export function forEachTensor(model: ModelProto, visit: (t: TensorProto) => void): void {
  const graphs: GraphProto[] = [];
  if (model.graph) graphs.push(model.graph);
  for (const ti of model.training_info ?? []) {
    if (ti.initialization) graphs.push(ti.initialization);
    if (ti.algorithm) graphs.push(ti.algorithm);
  }
  const visitNodes = (nodes: NodeProto[] | undefined): void => {
    for (const n of nodes ?? []) for (const a of n.attribute ?? []) visitAttr(a);
  };
  const visitAttr = (a: AttributeProto): void => {
    if (a.t) visit(a.t);
    for (const t of a.tensors ?? []) visit(t);
    if (a.sparse_tensor?.values) visit(a.sparse_tensor.values);
    if (a.sparse_tensor?.indices) visit(a.sparse_tensor.indices);
    for (const s of a.sparse_tensors ?? []) {
      if (s.values) visit(s.values);
      if (s.indices) visit(s.indices);
    }
    if (a.g) graphs.push(a.g);
    for (const g of a.graphs ?? []) graphs.push(g);
  };
  for (const f of model.functions ?? []) visitNodes(f.node);
  while (graphs.length > 0) {
    const g = graphs.pop()!;
    for (const t of g.initializer ?? []) visit(t);
    for (const s of g.sparse_initializer ?? []) {
      if (s.values) visit(s.values);
      if (s.indices) visit(s.indices);
    }
    visitNodes(g.node);
  }
}

// ---------------------------------------------------------------------------------------------
// Saving

export interface SaveOptions {
  /** true: move large tensors to a side file; false: everything inline; 'auto' (default): only when the file would pass `autoLimitBytes`. */
  externalData?: boolean | 'auto';
  /** Tensors of at least this many bytes go to the side file (default 1024, as ONNX's own tools). */
  externalThresholdBytes?: number;
  /** With 'auto', files that would be larger than this use external data (default 2 GiB - 64 MiB, protobuf's limit with a margin). */
  autoLimitBytes?: number;
  /** Side file name, a plain file name in the output's folder (default `<output name>.data`). */
  dataFileName?: string;
  /** Alignment of tensors in the side file (default 64 bytes). */
  alignment?: number;
  /** Files that must never be overwritten (the input model and its data); a LoadedModel's sourceFiles are always protected. */
  protect?: Iterable<string>;
}

export interface SaveReport {
  path: string;
  bytes: number;
  externalDataFile?: string;
  externalTensors: number;
  externalBytes: number;
}

const PROTOBUF_LIMIT = 2 * 1024 ** 3 - 64 * 1024 ** 2;

function sameFile(a: string, protectedReal: Set<string>): boolean {
  if (!existsSync(a)) return false;
  let real: string;
  try {
    real = realpathSync(a);
  } catch {
    return false;
  }
  if (protectedReal.has(real)) return true;
  const st = statSync(real);
  for (const p of protectedReal) {
    try {
      const ps = statSync(p);
      if (ps.ino === st.ino && ps.dev === st.dev) return true;
    } catch {
      // a protected file that vanished cannot be overwritten
    }
  }
  return false;
}

function isDirectory(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/** Inline form of an externally stored tensor (the original object is not modified). */
function inlined(t: TensorProto): TensorProto {
  const copy: TensorProto = { ...t, raw_data: tensorRawBytes(t) };
  delete copy.external_data;
  delete copy.data_location;
  return copy;
}

/** Save a model atomically; with external data, the side file is written (atomically) first. */
export function saveModelFile(model: LoadedModel | ModelProto, outFile: string, opts: SaveOptions = {}): SaveReport {
  const loaded: LoadedModel = 'proto' in model ? (model as LoadedModel) : { proto: model as ModelProto, sourceFiles: new Set() };
  const out = path.resolve(outFile);
  const outDir = path.dirname(out);
  if (!existsSync(outDir) || !statSync(outDir).isDirectory()) {
    throw new PathError('missing-dir', `output folder '${path.dirname(outFile)}' does not exist`);
  }
  const protectedReal = new Set<string>(loaded.sourceFiles);
  for (const p of opts.protect ?? []) {
    try {
      protectedReal.add(realpathSync(p));
    } catch {
      // not there: nothing to protect
    }
  }
  if (sameFile(out, protectedReal)) {
    throw new PathError('overwrite-input', `refusing to overwrite '${outFile}': the model is read from it; write to another file`);
  }
  if (isDirectory(out)) throw new PathError('not-a-file', `output '${outFile}' is a folder; give the model a file name`);
  checkNameLength(out);
  checkReplaceableTarget(out);

  const threshold = opts.externalThresholdBytes ?? 1024;
  const inlineSub: Substitute = (m, typeName) => (typeName === 'TensorProto' && isExternal(m as TensorProto) ? inlined(m as TensorProto) : m);

  let external = opts.externalData ?? 'auto';
  if (external === 'auto') {
    external = encodedSizeWithoutReading(loaded.proto) > (opts.autoLimitBytes ?? PROTOBUF_LIMIT);
  }

  if (!external) {
    const pending = writeTemp(out, (w) => encodeTo(loaded.proto, 'ModelProto', w, inlineSub));
    let release: (() => void) | undefined;
    try {
      const bytes = statSync(pending.tmp).size;
      release = acquireLock(out);
      pending.commit();
      return { path: out, bytes, externalTensors: 0, externalBytes: 0 };
    } catch (e) {
      pending.abort();
      throw e;
    } finally {
      release?.();
    }
  }

  const dataName = opts.dataFileName ?? `${path.basename(out)}.data`;
  if (dataName.length === 0 || dataName === '.' || dataName === '..' || /[\\/\0]/.test(dataName)) {
    throw new PathError('bad-data-name', `external data file name '${dataName}' must be a plain file name (no folders)`);
  }
  const dataPath = path.join(outDir, dataName);
  if (dataPath === out) throw new PathError('bad-data-name', `external data file name '${dataName}' is the model file itself`);
  if (sameFile(dataPath, protectedReal)) {
    throw new PathError('overwrite-input', `refusing to overwrite '${dataName}': the model reads data from it; choose another output name`);
  }
  if (isDirectory(dataPath)) throw new PathError('not-a-file', `external data file '${dataName}' would replace a folder; choose another output name`);
  checkNameLength(dataPath, 'external data');
  checkReplaceableTarget(dataPath, 'external data file');

  const align = opts.alignment ?? 64;
  const moved = new Map<TensorProto, TensorProto>();
  let externalBytes = 0;
  let pendingData: PendingFile | undefined;
  let pendingModel: PendingFile | undefined;
  let release: (() => void) | undefined;
  try {
    pendingData = writeTemp(dataPath, (w) => {
      const pad = new Uint8Array(align);
      forEachTensor(loaded.proto, (t) => {
        if (moved.has(t)) return;
        if (t.data_type === 8 /* string */) return;
        // an unknown data type stays inline: the load checks an external length against the type
        // and would refuse the file this save wrote (found by `npm run fuzz`)
        if (!dataTypeInfo(t.data_type) && !isExternal(t)) return;
        if (tensorByteLength(t) < threshold) return;
        const bytes = tensorRawBytes(t);
        const rem = w.bytesWritten % align;
        if (rem !== 0) w.write(pad.subarray(0, align - rem));
        const offset = w.bytesWritten;
        w.write(bytes);
        externalBytes += bytes.length;
        const copy: TensorProto = { ...t };
        delete copy.raw_data;
        delete copy.float_data;
        delete copy.int32_data;
        delete copy.int64_data;
        delete copy.double_data;
        delete copy.uint64_data;
        delete (copy as TensorWithRef)[EXTERNAL_REF];
        copy.data_location = DataLocation.EXTERNAL;
        copy.external_data = [
          { key: 'location', value: dataName },
          { key: 'offset', value: String(offset) },
          { key: 'length', value: String(bytes.length) },
        ];
        moved.set(t, copy);
      });
    });
    const sub: Substitute = (m, typeName) => {
      if (typeName !== 'TensorProto') return m;
      const t = m as TensorProto;
      return moved.get(t) ?? (isExternal(t) ? inlined(t) : t);
    };
    pendingModel = writeTemp(out, (w) => encodeTo(loaded.proto, 'ModelProto', w, sub));
    const bytes = statSync(pendingModel.tmp).size;
    // Concurrent writers to one output commit one at a time (a lock beside the output): without
    // it, two runs interleaving their renames left one run's model reading the other's data.
    pauseForTests('before-commit');
    release = acquireLock(out);
    // Two files cannot be renamed at once. If a previous model sits at the output, it may read a
    // data file of the same name: remove it first, so a kill between the renames leaves no model
    // (rerun) rather than the old model reading the new data (wrong weights, silently).
    if (existsSync(dataPath) && existsSync(out)) rmSync(out, { force: true });
    pendingData.commit();
    pauseForTests('between-renames'); // the window between the two renames (tests widen it)
    pendingModel.commit();
    return { path: out, bytes, externalDataFile: dataPath, externalTensors: moved.size, externalBytes };
  } catch (e) {
    pendingData?.abort();
    pendingModel?.abort();
    throw e;
  } finally {
    release?.();
  }
}

/** Encoded size with external tensors counted at their inline size, without reading them. */
function encodedSizeWithoutReading(proto: ModelProto): number {
  let extra = 0;
  const sub: Substitute = (m, typeName) => {
    if (typeName === 'TensorProto' && isExternal(m as TensorProto)) {
      extra += tensorByteLength(m as TensorProto) + 10;
    }
    return m;
  };
  return encodedSize(proto, 'ModelProto', sub) + extra;
}

/** Encode to bytes in memory (inlining any external data). */
export function encodeModel(proto: ModelProto): Uint8Array {
  return encode(proto, 'ModelProto', (m, typeName) => (typeName === 'TensorProto' && isExternal(m as TensorProto) ? inlined(m as TensorProto) : m));
}

/** True when the message was decoded from a file (has a recorded wire layout). */
export function hasLayout(m: ProtoMessage): boolean {
  return m[LAYOUT] !== undefined;
}
