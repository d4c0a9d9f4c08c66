/**
 * Sessions and runners: every ONNX Runtime session of the toolkit is opened here, with one set
 * of options, and released by the runner's dispose() (withRunner() does it in a finally).
 *
 * Where the model comes from (defect 9 of issue 11): a model that is on disk and unmodified is
 * opened from its file path, so ONNX Runtime reads its external data beside it (no 2 GB protobuf
 * limit); a modified model with external data, or one whose inline encoding would pass protobuf's
 * limit, is saved to a temporary folder with external data and opened by path; only a small,
 * self-contained model is handed over as a buffer. The runner says which (`source`).
 */
import { mkdtempSync, readFileSync, realpathSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { UserError } from '../errors.js';
import type { Model } from '../ir/model.js';
import { encode, encodedSize, type Substitute } from '../onnx/codec.js';
import { ORT_TYPE_CODES } from '../onnx/data-types.js';
import { forEachTensor } from '../onnx/model-io.js';
import type { ModelProto, TensorProto } from '../onnx/proto-types.js';
import { isExternal, tensorByteLength } from '../onnx/tensor-data.js';
import { checkMemoryEstimate, describeEstimate, type MemoryEstimate } from './memory-limit.js';
import { encodeWithInMemoryWeights, type InMemoryExternal } from './in-memory-weights.js';
import { notice } from './notices.js';
import { loadOrt, type OrtSession, type OrtTensor } from './ort.js';
import { fromOrtTensor, toOrtTensor, type RuntimeTensor } from './tensor.js';

export type ExecutionProvider = 'cpu' | 'cuda';
export type OptimizationLevel = 'disabled' | 'basic' | 'extended' | 'all';

export interface RunnerOptions {
  /** Default 'cpu'. 'cuda' falls back to the CPU, with a one-line notice, where CUDA is absent. */
  provider?: ExecutionProvider;
  /** Threads of one operator (default: ONNX Runtime's choice). */
  intraOpThreads?: number;
  /** Graph optimisations (default 'disabled': the graph runs as written). */
  optimization?: OptimizationLevel;
  /** ONNX Runtime's own logging, 0 (verbose) to 4 (fatal only; the default: errors come back as one-line exceptions). */
  logSeverity?: 0 | 1 | 2 | 3 | 4;
  /** A static estimate of the session's memory: checked against --max-memory, and said in one line, before the session is created. */
  memory?: { estimate: MemoryEstimate; what: string };
  /** ONNX Runtime's own profiling: a Chrome-trace JSON per session, named `<prefix>_<date>.json` in the working folder, written by `endProfiling()`. */
  profilePrefix?: string;
  /** ONNX Runtime's CPU memory arena (default on); off, freed buffers go back to the system (lower peak RSS for very large graphs). */
  memoryArena?: boolean;
  /** Whether ONNX Runtime's intra-op threads spin while waiting for work (default: ONNX Runtime's, on). Off, an idle session leaves the cores to other sessions and processes. */
  spinning?: boolean;
}

/** Where a session's model came from. */
export type SessionSource = 'path' | 'buffer' | 'temp-path';

export interface RunnerValueInfo {
  name: string;
  /** ONNX data type code (undefined for non-tensors). */
  elemType?: number;
  /** Declared dims (numbers, or names of symbolic dims). */
  dims?: (number | string)[];
}

/** A session behind a small interface, in the style of Polygraphy's runners. */
export interface Runner {
  readonly source: SessionSource;
  readonly provider: ExecutionProvider;
  /** One-line notices given while opening (e.g. the CUDA fallback). */
  readonly notices: readonly string[];
  inputs(): RunnerValueInfo[];
  outputs(): RunnerValueInfo[];
  /** Run on `feeds`; returns the named outputs (default: all graph outputs). */
  run(feeds: Record<string, RuntimeTensor>, outputNames?: readonly string[]): Promise<Record<string, RuntimeTensor>>;
  /** Stop ONNX Runtime's profiling (sessions opened with `profilePrefix`) and write its file. */
  endProfiling(): void;
  /** Release the session (and any temporary files); safe to call twice. */
  dispose(): Promise<void>;
}

let sessionsCreated = 0;

/** How many ONNX Runtime sessions this process has created (for tests that check sessions are reused). */
export function sessionCount(): number {
  return sessionsCreated;
}

/**
 * ONNX Runtime refused to load or run a model. `detail` is its message's first line;
 * `machinery` is true when the refusal is about the toolkit's way of handing the model over (a
 * size limit), not about the model.
 */
export class RuntimeError extends UserError {
  readonly phase: 'load' | 'run';
  readonly detail: string;
  readonly machinery: boolean;
  constructor(phase: 'load' | 'run', detail: string, machinery: boolean) {
    super(phase === 'load' ? 'ort-load' : 'ort-run', `ONNX Runtime cannot ${phase} the model: ${detail}`);
    this.phase = phase;
    this.detail = detail;
    this.machinery = machinery;
  }
}

/** Protobuf's limit less a margin: buffers at least this large are never handed to ONNX Runtime. */
export const BUFFER_LIMIT_BYTES = 2 * 1024 ** 3 - 64 * 1024 ** 2;

const SIZE_MESSAGE = /exceeds maximum (supported )?size|larger than 2\s?GB|2GB|protobuf.*(size|limit)/i;

/** True for ONNX Runtime's refusals of a model for its size (the way it was handed over), not its contents. */
export function isSizeLimitMessage(message: string): boolean {
  return SIZE_MESSAGE.test(message);
}

/** First lines of an error, joined (ORT's messages may span several). */
export function ortMessage(e: unknown, lines = 1): string {
  return String((e as Error)?.message ?? e)
    .split('\n')
    .filter((l) => l.trim() !== '')
    .slice(0, lines)
    .join(' ');
}

function hasExternalData(proto: ModelProto): boolean {
  let found = false;
  forEachTensor(proto, (t: TensorProto) => {
    if (isExternal(t)) found = true;
  });
  return found;
}

/** Encoded size with external tensors counted inline, without reading them. */
function inlineSize(proto: ModelProto): number {
  let extra = 0;
  const sub: Substitute = (m, typeName) => {
    if (typeName === 'TensorProto' && isExternal(m as TensorProto)) extra += tensorByteLength(m as TensorProto) + 10;
    return m;
  };
  return encodedSize(proto, 'ModelProto', sub) + extra;
}

/** The model's file, when the model in memory encodes to exactly its bytes (untouched since load). */
function unmodifiedFile(model: Model): string | undefined {
  if (!model.path) return undefined;
  let real: string;
  let size: number;
  try {
    real = realpathSync(model.path);
    const st = statSync(real);
    if (!st.isFile()) return undefined;
    size = st.size;
  } catch {
    return undefined;
  }
  const proto = model.syncProto();
  if (encodedSize(proto, 'ModelProto') !== size) return undefined;
  let disk: Buffer;
  try {
    disk = readFileSync(real);
  } catch {
    return undefined;
  }
  return Buffer.from(encode(proto, 'ModelProto')).equals(disk) ? real : undefined;
}

/** How a session on `model` would be opened (exported for tests and messages). */
export function sessionSource(model: Model): SessionSource {
  if (unmodifiedFile(model)) return 'path';
  const proto = model.syncProto();
  return hasExternalData(proto) || inlineSize(proto) >= BUFFER_LIMIT_BYTES ? 'temp-path' : 'buffer';
}

interface Prepared {
  source: SessionSource;
  input: string | Uint8Array;
  /** Initializers handed over beside the bytes (src/runtime/in-memory-weights.ts). */
  externalData?: InMemoryExternal[];
  cleanup?: () => void;
}

function prepare(model: Model | Uint8Array | string): Prepared {
  if (typeof model === 'string') return { source: 'path', input: model };
  if (model instanceof Uint8Array) {
    if (model.byteLength >= BUFFER_LIMIT_BYTES) throw new RuntimeError('load', `the model is ${model.byteLength} bytes in memory, over protobuf's 2 GB limit; save it with external data and open it by path`, true);
    return { source: 'buffer', input: model };
  }
  const file = unmodifiedFile(model);
  if (file) return { source: 'path', input: file };
  const proto = model.syncProto();
  if (!hasExternalData(proto) && inlineSize(proto) < BUFFER_LIMIT_BYTES) {
    const { bytes, externalData } = encodeWithInMemoryWeights(proto);
    return { source: 'buffer', input: bytes, ...(externalData.length ? { externalData } : {}) };
  }
  const dir = mkdtempSync(path.join(os.tmpdir(), 'iqa-session-'));
  const cleanup = (): void => rmSync(dir, { recursive: true, force: true });
  try {
    const out = path.join(dir, 'model.onnx');
    model.save(out, { externalData: true });
    return { source: 'temp-path', input: out, cleanup };
  } catch (e) {
    cleanup();
    throw e;
  }
}

const OPT_LEVELS: Record<OptimizationLevel, 'disabled' | 'basic' | 'extended' | 'all'> = { disabled: 'disabled', basic: 'basic', extended: 'extended', all: 'all' };

/** Open a runner on a model (a Model, an encoded model, or a file path). The caller must dispose() it. */
export async function openRunner(model: Model | Uint8Array | string, opts: RunnerOptions = {}): Promise<Runner> {
  if (opts.memory) {
    checkMemoryEstimate(opts.memory.estimate, opts.memory.what);
    notice({ kind: 'estimate', line: describeEstimate(opts.memory.estimate, opts.memory.what), bytes: opts.memory.estimate.bytes });
  }
  const ort = await loadOrt();
  const prepared = prepare(model);
  const logSeverityLevel = opts.logSeverity ?? 4;
  const base = {
    graphOptimizationLevel: OPT_LEVELS[opts.optimization ?? 'disabled'],
    logSeverityLevel,
    ...(opts.intraOpThreads !== undefined ? { intraOpNumThreads: opts.intraOpThreads } : {}),
    ...(opts.profilePrefix !== undefined ? { enableProfiling: true, profileFilePrefix: opts.profilePrefix } : {}),
    ...(opts.memoryArena === false ? { enableCpuMemArena: false } : {}),
    ...(opts.spinning === false ? { extra: { session: { intra_op: { allow_spinning: '0' } } } } : {}),
  };
  const notices: string[] = [];
  const extra = prepared.externalData ? { externalData: prepared.externalData } : {};
  const create = (providers: string[]): Promise<OrtSession> =>
    typeof prepared.input === 'string'
      ? ort.InferenceSession.create(prepared.input, { ...base, ...extra, executionProviders: providers })
      : ort.InferenceSession.create(prepared.input, { ...base, ...extra, executionProviders: providers });
  let session: OrtSession;
  let provider: ExecutionProvider = 'cpu';
  try {
    if (opts.provider === 'cuda') {
      const listed = ort.listSupportedBackends().some((b) => b.name === 'cuda');
      try {
        if (!listed) throw new Error('this onnxruntime-node build has no CUDA provider');
        session = await create(['cuda', 'cpu']);
        provider = 'cuda';
      } catch (e) {
        const line = `CUDA is not available to ONNX Runtime (${ortMessage(e)}); running on the CPU`;
        notices.push(line);
        notice({ kind: 'fallback', line });
        session = await create(['cpu']);
      }
    } else {
      session = await create(['cpu']);
    }
  } catch (e) {
    prepared.cleanup?.();
    const detail = ortMessage(e, 2);
    throw new RuntimeError('load', detail, isSizeLimitMessage(detail));
  }
  sessionsCreated++;
  let disposed = false;
  const info = (names: readonly string[], meta: readonly unknown[] | undefined): RunnerValueInfo[] =>
    names.map((name, i) => {
      const m = meta?.[i] as { isTensor?: boolean; type?: string; shape?: readonly (number | string)[] } | undefined;
      if (!m?.isTensor) return { name };
      const elemType = m.type !== undefined ? ORT_TYPE_CODES[m.type] : undefined;
      return { name, ...(elemType !== undefined ? { elemType } : {}), dims: [...(m.shape ?? [])] };
    });
  return {
    source: prepared.source,
    provider,
    notices,
    inputs: () => info(session.inputNames, (session as { inputMetadata?: readonly unknown[] }).inputMetadata),
    outputs: () => info(session.outputNames, (session as { outputMetadata?: readonly unknown[] }).outputMetadata),
    async run(feeds, outputNames) {
      if (disposed) throw new Error('run() after dispose()');
      const tensors: Record<string, OrtTensor> = {};
      for (const [name, t] of Object.entries(feeds)) tensors[name] = toOrtTensor(ort, t);
      let res: Record<string, OrtTensor>;
      try {
        res = await session.run(tensors, [...(outputNames ?? session.outputNames)], { logSeverityLevel });
      } catch (e) {
        throw new RuntimeError('run', ortMessage(e), false);
      }
      const out: Record<string, RuntimeTensor> = {};
      for (const [name, t] of Object.entries(res)) out[name] = fromOrtTensor(t);
      return out;
    },
    endProfiling() {
      session.endProfiling();
    },
    async dispose() {
      if (disposed) return;
      disposed = true;
      try {
        await session.release();
      } finally {
        prepared.cleanup?.();
      }
    },
  };
}

/** Open a runner, give it to `fn`, and always release it. */
export async function withRunner<T>(model: Model | Uint8Array | string, opts: RunnerOptions, fn: (runner: Runner) => Promise<T>): Promise<T> {
  const runner = await openRunner(model, opts);
  try {
    return await fn(runner);
  } finally {
    await runner.dispose();
  }
}
