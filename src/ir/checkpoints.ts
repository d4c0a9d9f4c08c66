/**
 * Checkpoint segments: subgraphs whose internal values a differentiating engine should not keep
 * for the backward pass but recompute from the segment's inputs when the backward reaches it
 * (gradient checkpointing). Recorded under `iqa-surgeon.checkpoints` by the passes that know a
 * subgraph is large and cheap to recompute relative to its memory (the RobustBlock's per-frequency
 * Cayley chunks), and read by src/autodiff/.
 *
 * Value: JSON [{"inputs": [names], "outputs": [names]}]. The segment's nodes are those that the
 * outputs depend on, walking back no further than the inputs, initializers and graph inputs.
 */
import { readMetadataList } from './metadata-list.js';
import type { Model } from './model.js';

export const CHECKPOINTS_KEY = 'iqa-surgeon.checkpoints';

export interface CheckpointSegment {
  inputs: string[];
  outputs: string[];
}

const names = (x: unknown): x is string[] => Array.isArray(x) && x.every((v) => typeof v === 'string');

/** The recorded segments ([] when none); malformed metadata is a UserError. */
export function readCheckpoints(model: Model): CheckpointSegment[] {
  const ok = (s: unknown): s is CheckpointSegment => typeof s === 'object' && s !== null && names((s as CheckpointSegment).inputs) && names((s as CheckpointSegment).outputs) && (s as CheckpointSegment).outputs.length > 0;
  return readMetadataList(model, CHECKPOINTS_KEY, ok, '{"inputs": [...], "outputs": [...]} value names');
}

/** Replace the recorded segments (the key is removed when none are left). */
export function writeCheckpoints(model: Model, segments: readonly CheckpointSegment[]): void {
  const list = model.proto.metadata_props;
  if (list?.some((e) => e.key === CHECKPOINTS_KEY)) model.proto.metadata_props = list.filter((e) => e.key !== CHECKPOINTS_KEY);
  if (segments.length) model.setMetadata(CHECKPOINTS_KEY, JSON.stringify(segments));
}

/** Record `segments` (appended to those already recorded). */
export function addCheckpoints(model: Model, segments: readonly CheckpointSegment[]): void {
  if (segments.length === 0) return;
  model.setMetadata(CHECKPOINTS_KEY, JSON.stringify([...readCheckpoints(model), ...segments]));
}
