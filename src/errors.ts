/**
 * Typed errors. Every error a user can cause is a `UserError` (exit status 1): its message is one
 * line saying what is wrong and, where possible, what to do. Anything else reaching the CLI is a
 * bug (exit status 2). A check that ran and failed is a `CheckFailedError` (exit status 3).
 */
export class UserError extends Error {
  /** Short machine-readable code, stable across versions (used by `--json` and by tests). */
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
    this.name = new.target.name;
  }
}

/** The bytes are not a well-formed ONNX protobuf (truncated, garbage, impossible lengths). */
export class OnnxFormatError extends UserError {
  constructor(message: string) {
    super('onnx-format', message);
  }
}

/** The protobuf decodes but the model is not a valid graph (dangling inputs, cycles, duplicates). */
export class GraphError extends UserError {
  constructor(code: string, message: string) {
    super(code, message);
  }
}

/** An external-data reference that is unsafe or inconsistent (traversal, symlink, out of bounds). */
export class ExternalDataError extends UserError {
  constructor(code: string, message: string) {
    super(code, message);
  }
}

/** A path the user gave that cannot be used (missing input, output overwriting an input...). */
export class PathError extends UserError {
  constructor(code: string, message: string) {
    super(code, message);
  }
}

/** An operator this part of the toolkit does not handle; names the op and the node. */
export class UnsupportedOpError extends UserError {
  readonly opType: string;
  readonly nodeName: string;
  constructor(opType: string, nodeName: string, hint: string) {
    super('unsupported-op', `unsupported op ${opType} at node '${nodeName}': ${hint}`);
    this.opType = opType;
    this.nodeName = nodeName;
  }
}

/** Bad command-line usage or option values. */
export class UsageError extends UserError {
  constructor(message: string) {
    super('usage', message);
  }
}

/** A check ran and failed (exit status 3). */
export class CheckFailedError extends Error {
  readonly report: string;
  constructor(message: string, report = message) {
    super(message);
    this.name = 'CheckFailedError';
    this.report = report;
  }
}
