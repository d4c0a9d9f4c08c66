/**
 * A model: its ModelProto (IR version, opsets, producer, metadata, functions, training info kept
 * as decoded) and the linked main Graph.
 */
import { UserError } from '../errors.js';
import { cloneProto } from '../onnx/clone.js';
import { decodeModel, encodeModel, loadModelFile, saveModelFile, type LoadOptions, type SaveOptions, type SaveReport } from '../onnx/model-io.js';
import type { ModelProto } from '../onnx/proto-types.js';
import { Graph, NameRegistry } from './graph.js';

export class Model {
  readonly proto: ModelProto;
  readonly graph: Graph;
  /** Absolute path of the file it was loaded from. */
  readonly path: string | undefined;
  /** Folder its external data is read from. */
  readonly dir: string | undefined;
  /** Real paths of the files it reads from (protected from being overwritten by saves). */
  readonly sourceFiles: ReadonlySet<string>;

  constructor(proto: ModelProto, source: { path?: string; dir?: string; sourceFiles?: Set<string> } = {}) {
    if (!proto.graph) throw new UserError('onnx-format', 'ONNX model has no graph');
    this.proto = proto;
    this.graph = Graph.fromProto(proto.graph, new NameRegistry());
    this.path = source.path;
    this.dir = source.dir;
    this.sourceFiles = source.sourceFiles ?? new Set();
  }

  static load(file: string, opts: LoadOptions = {}): Model {
    const loaded = loadModelFile(file, opts);
    return new Model(loaded.proto, loaded);
  }

  static fromBytes(bytes: Uint8Array, dir?: string): Model {
    const loaded = decodeModel(bytes, dir ? { dir } : {});
    return new Model(loaded.proto, loaded);
  }

  get irVersion(): number {
    return Number(this.proto.ir_version ?? 0);
  }

  /** Opset version imported for a domain ('' = the default ONNX domain). */
  opsetVersion(domain = ''): number | undefined {
    const norm = (d: string | undefined): string => (d === 'ai.onnx' ? '' : (d ?? ''));
    const imp = this.proto.opset_import?.find((o) => norm(o.domain) === norm(domain));
    return imp?.version === undefined ? undefined : Number(imp.version);
  }

  opsets(): { domain: string; version: number }[] {
    return (this.proto.opset_import ?? []).map((o) => ({ domain: o.domain ?? '', version: Number(o.version ?? 0) }));
  }

  /** metadata_props as a map (later duplicates win). */
  metadata(): Map<string, string> {
    return new Map((this.proto.metadata_props ?? []).map((e) => [e.key ?? '', e.value ?? '']));
  }

  setMetadata(key: string, value: string): void {
    const list = (this.proto.metadata_props ??= []);
    const i = list.findIndex((e) => e.key === key);
    if (i >= 0) {
      if (list[i]!.value !== value) list[i] = { ...list[i], key, value };
    } else list.push({ key, value });
  }

  /** Write the IR back into `proto` (in place) and return it. */
  syncProto(): ModelProto {
    this.graph.syncProto();
    return this.proto;
  }

  /** Save atomically; the files this model reads from are never overwritten. */
  save(out: string, opts: SaveOptions = {}): SaveReport {
    this.syncProto();
    return saveModelFile({ proto: this.proto, sourceFiles: new Set(this.sourceFiles) }, out, opts);
  }

  /** Encode to bytes in memory (external data inlined). */
  toBytes(): Uint8Array {
    return encodeModel(this.syncProto());
  }

  /** An independent copy (payload bytes are shared: they are never modified in place). */
  clone(): Model {
    const src: { path?: string; dir?: string; sourceFiles: Set<string> } = { sourceFiles: new Set(this.sourceFiles) };
    if (this.path) src.path = this.path;
    if (this.dir) src.dir = this.dir;
    return new Model(cloneProto(this.syncProto()), src);
  }
}
