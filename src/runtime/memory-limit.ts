/**
 * The memory a session on an untrusted graph may be expected to need: callers pass a static
 * estimate (src/analysis/memory-estimate.ts computes one) and sessions over the limit are refused
 * before ONNX Runtime allocates anything. The limit is process-wide (the CLI's --max-memory).
 */
import os from 'node:os';
import { UserError } from '../errors.js';

/** A static estimate of what a session will allocate, in bytes. */
export interface MemoryEstimate {
  /** Peak bytes: initializers plus the most activation bytes alive at once. */
  bytes: number;
  initializerBytes: number;
  peakActivationBytes: number;
  /** Every intermediate tensor's bytes added up (what a session that frees nothing would hold). */
  sumActivationBytes: number;
  /** Values whose size the static inference could not decide (not counted). */
  unknownValues: number;
}

export const MAX_MEMORY_FLAG = '--max-memory';

/** Default: half the machine's memory. */
export function defaultMaxMemoryBytes(): number {
  return Math.floor(os.totalmem() / 2);
}

let limit: number | undefined;

/** The limit sessions are checked against (bytes). */
export function maxMemoryBytes(): number {
  return limit ?? defaultMaxMemoryBytes();
}

/** Set the limit (undefined: back to the default). */
export function setMaxMemoryBytes(bytes: number | undefined): void {
  limit = bytes;
}

export function formatBytes(n: number): string {
  if (!Number.isFinite(n)) return 'an unbounded amount';
  if (n >= 1024 ** 3) return `${(n / 1024 ** 3).toFixed(n >= 10 * 1024 ** 3 ? 0 : 1)} GiB`;
  if (n >= 1024 ** 2) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  if (n >= 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${n} B`;
}

/** One line: the estimate, how it splits, and the limit. */
export function describeEstimate(e: MemoryEstimate, what: string): string {
  const unknown = e.unknownValues > 0 ? `, ${e.unknownValues} value${e.unknownValues === 1 ? '' : 's'} of unknown size not counted` : '';
  return `estimated ONNX Runtime memory for ${what}: ${formatBytes(e.bytes)} (initializers ${formatBytes(e.initializerBytes)} + peak activations ${formatBytes(e.peakActivationBytes)}${unknown}; limit ${formatBytes(maxMemoryBytes())})`;
}

/** Throws a UserError (exit 1) naming the estimate and the flag when `e` is over the limit. */
export function checkMemoryEstimate(e: MemoryEstimate, what: string): void {
  const max = maxMemoryBytes();
  if (e.bytes > max) {
    throw new UserError(
      'limit-memory',
      `refusing to run ONNX Runtime on ${what}: its static memory estimate is ${formatBytes(e.bytes)} (initializers ${formatBytes(e.initializerBytes)} + peak activations ${formatBytes(e.peakActivationBytes)}), over the limit of ${formatBytes(max)} (raise it with ${MAX_MEMORY_FLAG} <GiB>)`,
    );
  }
}
