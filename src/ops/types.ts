/**
 * The op registry's contract. Each ONNX op the toolkit understands has one entry holding its
 * static shape rule (`src/ops/<family>.shape.ts`, used by shape inference in `src/analysis/`), its
 * TensorFlow.js forward kernel (`src/ops/<family>.ts`, used by the mirror, `src/mirror/`, whose
 * gradients tfjs derives), and its ONNX-graph gradient rule (`src/ops/<family>.grad.ts`, used by
 * `src/autodiff/` to build gradient graphs that ONNX Runtime runs).
 *
 * Nothing under `src/ops/` loads TensorFlow.js at run time: kernels get tfjs from their context
 * (`ctx.tf`) and only import its types.
 *
 * Mirror semantics: tensors are NCHW exactly as in ONNX. ONNX float32 maps to tfjs float32, every
 * integer type to int32 (values must fit), bool to bool. Kernels receive `null` for omitted
 * optional inputs.
 */
import type * as tfc from '@tensorflow/tfjs-core';
import type { ShapeRule } from './shape-common/types.js';
import type { Node } from '../ir/node.js';
import type { AttrValue } from '../ir/attributes.js';

export type TF = typeof tfc;
export type Tensor = tfc.Tensor;

export interface KernelContext {
  readonly tf: TF;
  readonly node: Node;
  /** Opset version of the node's domain in the model. */
  readonly opset: number;
  /** Values of an integer (or float) input read to the host: shapes, axes, pads, sizes. */
  ints(t: Tensor | null | undefined): number[] | undefined;
  floats(t: Tensor | null | undefined): number[] | undefined;
  /** A user error naming this node (bad attribute values, shapes the op refuses). */
  fail(message: string): never;
}

export type Forward = (ctx: KernelContext, inputs: readonly (Tensor | null)[]) => (Tensor | null)[];

export interface OpKernel {
  /** ONNX element types (TensorProto.DataType codes) this kernel accepts for its data inputs. */
  readonly types: readonly number[];
  /** How many outputs the kernel computes (later optional outputs, e.g. MaxPool's Indices, are unsupported). */
  readonly outputs?: number;
  /** Opset range the kernel implements (inclusive; default: every opset). */
  readonly sinceVersion?: number;
  readonly untilVersion?: number;
  /**
   * A reason the kernel cannot run this node (an attribute value it does not implement), checked
   * before any computation; undefined when it can.
   */
  readonly unsupported?: (node: Node, opset: number) => string | undefined;
  readonly forward: Forward;
}

export interface OpDefinition {
  readonly opType: string;
  /** '' for the default ONNX domain. */
  readonly domain: string;
  readonly shape: ShapeRule | undefined;
  readonly kernel: OpKernel | undefined;
  /** The op's ONNX-graph gradient rule (src/autodiff/ emits it for ONNX Runtime); undefined: none. The mirror lets tfjs differentiate its kernels. */
  readonly gradient: GradientRule | undefined;
}

/**
 * What an ONNX-graph gradient rule may do: emit ONNX nodes into the gradient graph that
 * `src/autodiff/` builds and ONNX Runtime runs (no tfjs, no ORT here: rules only name ops).
 */
export interface GradientEmitter {
  /** The node being differentiated (its inputs/outputs are forward values, readable by name). */
  readonly node: Node;
  /** Opset of the default domain the gradient graph imports (max(model's, 16) unless a forward node changes meaning). */
  readonly opset: number;
  /**
   * Emit one node; returns its output value names (fresh). outputs: how many (default 1).
   * Integer numbers become INT attributes except for the float attributes of ONNX ops (alpha, beta,
   * epsilon, min, max, ...); `floats` names more attributes to write as FLOAT(S).
   */
  emit(opType: string, inputs: readonly (string | null)[], attributes?: Record<string, AttrValue>, options?: { domain?: string; outputs?: number; floats?: readonly string[] }): string[];
  /** Constants (initializers of the gradient graph): float32 and int64; dims default [values.length], [] = scalar. */
  constFloat(values: readonly number[], dims?: readonly number[]): string;
  constInt64(values: readonly number[], dims?: readonly number[]): string;
  /** Static dims of a forward value where shape inference knows them (string = symbolic dim), else undefined. */
  dims(value: string): readonly (number | string)[] | undefined;
  /** ONNX element type of a forward value, if known. */
  elemType(value: string): number | undefined;
  /** Value of a constant forward input (an initializer or Constant output: axes, shapes, pads), if constant. */
  constantInts(value: string): number[] | undefined;
  /**
   * Sum `grad` over the axes along which `like` was broadcast (multidirectional) and reshape to like's shape.
   * `gradDims`: grad's dims when they are not the node's first output's (compatible extension).
   */
  unbroadcast(grad: string, like: string, gradDims?: readonly (number | string)[]): string;
  /** A user error naming this node. */
  fail(message: string): never;
  /**
   * Whether a forward value is a constant of the gradient graph (an initializer that is not
   * differentiated, or a Constant's output), so work on it is folded by ONNX Runtime (compatible extension).
   */
  isConstant(value: string): boolean;
  // ---- opset-aware helpers (compatible extensions of the contract: rules never look at the opset for these)
  /** ReduceSum over `axes` (axis attribute before opset 13, input from 13); empty axes: reduce nothing (identity). */
  reduceSum(x: string, axes: readonly number[], keepdims: boolean): string;
  /** Unsqueeze / Squeeze with constant axes (attribute before opset 13, input from 13). */
  unsqueeze(x: string, axes: readonly number[]): string;
  squeeze(x: string, axes: readonly number[]): string;
  /** Shape(x) as an int64 value (Shape's start/end need opset 15: slices via Slice otherwise). */
  shape(x: string, start?: number, end?: number): string;
  /** Reshape `x` to the run-time shape of `like`. */
  reshapeLike(x: string, like: string): string;
  /** Zeros (float32) with the run-time shape of `like`. */
  zerosLike(like: string): string;
}

export interface GradientRule {
  /** Input slots that carry no gradient ever (shapes, indices, axes, scales); default: none. */
  readonly nonDifferentiable?: readonly number[];
  /** Why this rule cannot differentiate this node (an attribute value it does not handle); checked before anything runs. */
  readonly unsupported?: (node: Node, opset: number) => string | undefined;
  /**
   * The vector-Jacobian product: dy[i] is the name of dL/d(output i) (null: no gradient reaches
   * that output); wanted[j] says whether input j's gradient is needed. Returns one name (or null)
   * per input.
   */
  backward(g: GradientEmitter, dy: readonly (string | null)[], wanted: readonly boolean[]): (string | null)[];
  /**
   * Forward outputs the backward reads that the forward node does not compute unless asked
   * (MaxPool's Indices): output slot -> true. The builder adds them to the cloned forward node
   * before `backward` runs (compatible extension of the contract).
   */
  readonly extraOutputs?: (node: Node, opset: number) => readonly number[];
}

/** A family file's table: op type -> kernel (default ONNX domain unless keyed `domain::Op`). */
export type KernelTable = Readonly<Record<string, OpKernel>>;
/** A family file's shape rules (`<family>.shape.ts`): op type -> rule, keyed like KernelTable. */
export type ShapeRuleTable = Readonly<Record<string, ShapeRule>>;
/** A family's ONNX-graph gradient rules (`<family>.grad.ts`), keyed like KernelTable. */
export type GradientTable = Readonly<Record<string, GradientRule>>;
