/**
 * Types shared by shape inference: dimensions, where a shape came from, and the rule signature.
 */
import type { Node } from '../../ir/node.js';

/**
 * A dimension: a number, or a string for a symbolic one. Symbolic dims are names from the model
 * (`'batch'`), expressions over them written in a canonical form (`'64*batch'`, `'H//2+1'`), or
 * unknown dims, which contain a `?` (`'?3'`): a rule could not say more than that the dim exists.
 */
export type Dim = number | string;

/** How a shape was obtained. */
export type ShapeSource = 'graph-input' | 'initializer' | 'rule' | 'probe' | 'value-info';

export interface ShapeInfo {
  /** TensorProto.DataType code, when known. */
  elemType: number | undefined;
  /** The shape; undefined when not even the rank is known. */
  shape: Dim[] | undefined;
  source: ShapeSource;
  /** The op type whose rule gave the shape (source 'rule'). */
  rule?: string;
  /**
   * Known contents of a small tensor (flattened, row-major) when every entry is a number: shapes
   * from Shape, constants, axes, pads. Resolves Reshape targets and the like.
   */
  value?: number[];
  /**
   * Known contents when some entries are symbolic (e.g. Shape of a tensor with a symbolic batch:
   * `['batch', 64, 1, 1]`). Set instead of `value`, never together with it.
   */
  symbolicValue?: Dim[];
  /** A remark on how the shape was obtained (e.g. which concrete sizes a probe used). */
  note?: string;
}

export interface RuleContext {
  /** Opset version of the node's domain. */
  readonly opset: number;
  /** A fresh unknown dim (a string containing '?'), unique within one inference run. */
  fresh(): string;
}

/**
 * A shape rule: output infos aligned with `node.outputs`, or undefined when the shapes cannot be
 * decided statically (an entry may also be undefined for an output it cannot shape).
 * Rules throw a GraphError when the inputs are inconsistent (e.g. Conv channels that do not match).
 */
export type ShapeRule = (node: Node, inputs: readonly (ShapeInfo | undefined)[], ctx: RuleContext) => (ShapeInfo | undefined)[] | undefined;
