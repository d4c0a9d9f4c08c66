/**
 * Reading a metadata entry that holds a JSON list of records (inverse regions, checkpoint
 * segments): [] when absent or empty; invalid JSON or a record of the wrong shape is a UserError
 * naming the key and the shape expected.
 */
import { UserError } from '../errors.js';
import type { Model } from './model.js';

export function readMetadataList<T>(model: Model, key: string, ok: (record: unknown) => record is T, shape: string): T[] {
  const raw = model.metadata().get(key);
  if (raw === undefined || raw === '') return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new UserError('bad-metadata', `metadata '${key}' is not valid JSON`);
  }
  if (!Array.isArray(parsed) || !parsed.every(ok)) throw new UserError('bad-metadata', `metadata '${key}' must be a JSON list of ${shape}`);
  return parsed;
}
