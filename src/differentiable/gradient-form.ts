/**
 * The form of a model a gradient engine differentiates: the model itself, or, where it holds a
 * parametric Cayley RobustBlock too large to differentiate whole within memory (Q and the
 * inverse's intermediates of every frequency kept for the backward pass: 15-17 GB at the paper's
 * position), a copy with that block's Cayley split into frequency-row chunks recomputed in the
 * backward pass (src/surgery/robust-block/gradient-chunks.ts). The same function, the same
 * parameter names: the user's model is never changed, and write-back is unaffected.
 */
import type { Model } from '../ir/model.js';
import { cayleyBlocks, chunkCayleyForGradients, cayleyWholeBytes, type ChunkReport } from '../surgery/robust-block/gradient-chunks.js';

export type { ChunkReport };

/** A block's Cayley is chunked when computing it whole would take more than this (bytes, roughly). */
export const CHUNK_ABOVE_BYTES = 2 * 2 ** 30;

export function gradientForm(model: Model, opts: { chunkAboveBytes?: number; chunkBytes?: number } = {}): { model: Model; chunked: ChunkReport[] } {
  const above = opts.chunkAboveBytes ?? CHUNK_ABOVE_BYTES;
  const big = cayleyBlocks(model).filter((b) => cayleyWholeBytes(b) > above);
  if (big.length === 0) return { model, chunked: [] };
  const copy = model.clone();
  const chunked = chunkCayleyForGradients(copy, big, opts.chunkBytes !== undefined ? { chunkBytes: opts.chunkBytes } : {});
  return { model: chunked.some((r) => r.chunks > 0) ? copy : model, chunked };
}
