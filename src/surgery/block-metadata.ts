/**
 * The spliced RobustBlocks' record in a model's metadata (`iqa-surgeon.robust_block`, written by
 * `splice`, updated by `materialize`, read by the mirror's `robust-block` selector).
 */
import { UserError } from '../errors.js';
import type { Model } from '../ir/model.js';
import { SPLICE_METADATA_KEY } from './splice.js';

export interface BlockEntry {
  cayley?: { cout: number; cin: number; k: number; n: number; weight: string; alpha: string };
  form?: string;
  fold?: string[];
  /** The block's trainable parameters (initializer names). */
  parameters?: string[];
  options?: { prefix?: string };
  materializedParams?: Record<string, { shape: number[]; float32Base64: string }>;
  [k: string]: unknown;
}

/** The recorded blocks, or undefined when the model has none; malformed JSON is a UserError. */
export function readBlockEntries(model: Model): BlockEntry[] | undefined {
  const raw = model.metadata().get(SPLICE_METADATA_KEY);
  if (raw === undefined || raw === '') return undefined;
  let entries: unknown;
  try {
    entries = JSON.parse(raw);
  } catch {
    throw new UserError('bad-metadata', `metadata '${SPLICE_METADATA_KEY}' is not valid JSON`);
  }
  return Array.isArray(entries) ? (entries as BlockEntry[]) : [];
}
