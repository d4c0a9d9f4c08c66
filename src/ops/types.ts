/**
 * The op registry's contract. Each ONNX op the toolkit understands has one entry holding its
 * static shape rule (`src/ops/<family>.shape.ts`, used by shape inference in `src/analysis/`), its
 * TensorFlow.js forward kernel (`src/ops/<family>.ts`, used by the mirror, `src/mirror/`), and room
 * for a gradient rule of its own (today every kernel is built from differentiable tfjs ops, so tfjs
 * derives gradients; no family defines `gradient` yet).
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
  /** An explicit gradient rule; undefined: tfjs differentiates the kernel. */
  readonly gradient: GradientRule | undefined;
}

/**
 * An explicit gradient (vector-Jacobian product) of a kernel: given the forward inputs, outputs
 * and the gradients arriving at the outputs, the gradients of the inputs (null: none).
 */
export type GradientRule = (
  ctx: KernelContext,
  inputs: readonly (Tensor | null)[],
  outputs: readonly (Tensor | null)[],
  dy: readonly (Tensor | null)[],
) => (Tensor | null)[];

/** A family file's table: op type -> kernel (default ONNX domain unless keyed `domain::Op`). */
export type KernelTable = Readonly<Record<string, OpKernel>>;
/** A family file's shape rules (`<family>.shape.ts`): op type -> rule, keyed like KernelTable. */
export type ShapeRuleTable = Readonly<Record<string, ShapeRule>>;
/** A family's explicit gradient rules, keyed like KernelTable. */
export type GradientTable = Readonly<Record<string, GradientRule>>;
