/**
 * Parsers for option values shared by several commands; each throws a UsageError naming the
 * option and the expected form.
 */
import { UsageError } from '../errors.js';
import type { Dim } from '../analysis/shapes/types.js';

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

export function parsePositiveInt(option: string) {
  return (text: string): number => {
    if (!/^\d+$/.test(text) || Number(text) <= 0 || !Number.isSafeInteger(Number(text))) throw new UsageError(`${option} '${text}' must be a positive integer (at most ${Number.MAX_SAFE_INTEGER})`);
    return Number(text);
  };
}
