/**
 * Parsers for option values shared by several commands; each throws a UsageError naming the
 * option and the expected form.
 */
import { UsageError } from '../errors.js';
import type { Dim } from '../analysis/shapes/types.js';
import { FLOAT32_MAX, isFiniteFloat32 } from '../util/numbers.js';

/** `N,C,H,W` (numbers, or names for symbolic dims). */
export function parseShape(text: string, option = '--input-shape'): Dim[] {
  const parts = text.split(/[,x]/).map((s) => s.trim());
  if (parts.length === 0 || parts.some((p) => p === '')) {
    throw new UsageError(`${option} '${text}' is not a shape; write it like 1,3,224,224`);
  }
  return parts.map((p) => {
    if (/^\d+$/.test(p)) {
      const n = Number(p);
      if (n <= 0 || !Number.isSafeInteger(n)) throw new UsageError(`${option} '${text}': dimension ${p} must be a positive integer`);
      return n;
    }
    if (/^[A-Za-z_][\w.]*$/.test(p)) return p;
    throw new UsageError(`${option} '${text}': '${p}' is neither a number nor a symbolic name`);
  });
}

/**
 * `--input-shape` values: either `N,C,H,W` (for the single graph input) or `name=N,C,H,W`
 * (repeatable, one per input).
 */
export function parseInputShapes(values: string[] | undefined, inputNames: string[]): Record<string, Dim[]> | undefined {
  if (!values || values.length === 0) return undefined;
  const out: Record<string, Dim[]> = {};
  for (const v of values) {
    const eq = v.indexOf('=');
    if (eq >= 0) {
      const name = v.slice(0, eq);
      if (!inputNames.includes(name)) {
        throw new UsageError(`--input-shape names '${name}', which is not a graph input (inputs: ${inputNames.join(', ') || 'none'})`);
      }
      out[name] = parseShape(v.slice(eq + 1));
    } else {
      if (inputNames.length !== 1) {
        throw new UsageError(`the model has ${inputNames.length} inputs; give --input-shape as name=N,C,H,W (inputs: ${inputNames.join(', ')})`);
      }
      out[inputNames[0]!] = parseShape(v);
    }
  }
  return out;
}

export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/**
 * The one integer parser of every command: decimal digits only (no sign, exponent, hex, spaces or
 * fraction: `abc`, `1e3`, `0x10`, `2.5` are refused), a safe integer, within [min, max].
 */
export function parseInteger(option: string, min: number, max = Number.MAX_SAFE_INTEGER) {
  return (text: string): number => {
    const n = /^\d+$/.test(text) ? Number(text) : NaN;
    if (!Number.isSafeInteger(n) || n < min || n > max) {
      const range = max === Number.MAX_SAFE_INTEGER ? (min === 1 ? 'a positive integer' : `an integer >= ${min}`) : `an integer from ${min} to ${max}`;
      throw new UsageError(`${option} '${text}' must be ${range}`);
    }
    return n;
  };
}

/** `--threads`: ONNX Runtime's intra-op threads, 1 to 1024. */
export const parseThreads = parseInteger('--threads', 1, 1024);

export function parsePositiveInt(option: string) {
  return parseInteger(option, 1);
}

/** Seeds: 32-bit unsigned integers (the generators are mulberry32). */
export function parseSeed(option = '--seed') {
  return parseInteger(option, 0, 0xffffffff);
}

/** A finite decimal number (`abc`, `Infinity`, `NaN`, `0x10` and the empty string are refused). */
export function parseFiniteNumber(option: string, opts: { float32?: boolean } = {}) {
  return (text: string): number => {
    const n = /^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$/.test(text) ? Number(text) : NaN;
    if (!Number.isFinite(n)) throw new UsageError(`${option} '${text}' is not a finite number`);
    if (opts.float32 && !isFiniteFloat32(n)) throw new UsageError(`${option} '${text}' is outside float32's range (|x| <= ${FLOAT32_MAX})`);
    return n;
  };
}

/** A finite number within [min, max] (the bound is named in the message). */
export function parseNumberIn(option: string, min: number, max: number) {
  const finite = parseFiniteNumber(option);
  return (text: string): number => {
    const n = finite(text);
    if (n < min || n > max) throw new UsageError(`${option} ${text} is outside [${min}, ${max}]`);
    return n;
  };
}

/** One of a fixed set of words. */
export function parseChoice<T extends string>(option: string, values: readonly T[]) {
  return (text: string): T => {
    if (!values.includes(text as T)) throw new UsageError(`${option} must be ${values.join(', ')} (got '${text}')`);
    return text as T;
  };
}
