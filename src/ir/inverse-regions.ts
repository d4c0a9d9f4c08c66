/**
 * Inverse regions: subgraphs that compute a matrix inverse C = B^-1 (the RobustBlock's
 * per-frequency inverse), recorded in the model metadata under `iqa-surgeon.inverse-regions` so
 * that a differentiating engine can treat each as one op (backward dB = -C^T dC C^T) instead of
 * differentiating (and storing) its internal nodes.
 *
 * Value: JSON [{"input": B, "output": C}] with B, C value names of batched real matrices over the
 * last two axes. A complex inverse on real and imaginary planes adds "inputImag" and "outputImag"
 * (B = input + i inputImag, C = output + i outputImag; backward dB = -C^H dC C^H on the planes).
 * A reader that knows only real regions sees such a region's nodes read `inputImag` from outside
 * its input, and so (by the contract) ignores it and differentiates through: never a wrong gradient.
 *
 * Kept consistent by the passes that rename values (rename) and by materialize (regions whose
 * values are gone are dropped).
 */
import { readMetadataList } from './metadata-list.js';
import type { Model } from './model.js';

export const INVERSE_REGIONS_KEY = 'iqa-surgeon.inverse-regions';

export interface InverseRegion {
  input: string;
  output: string;
  inputImag?: string;
  outputImag?: string;
}

const NAME_FIELDS = ['input', 'output', 'inputImag', 'outputImag'] as const;

/** The recorded regions ([] when none); malformed metadata is a UserError. */
export function readInverseRegions(model: Model): InverseRegion[] {
  const ok = (r: unknown): r is InverseRegion =>
    typeof r === 'object' &&
    r !== null &&
    typeof (r as InverseRegion).input === 'string' &&
    typeof (r as InverseRegion).output === 'string' &&
    ((r as InverseRegion).inputImag === undefined) === ((r as InverseRegion).outputImag === undefined) &&
    NAME_FIELDS.every((f) => (r as Record<string, unknown>)[f] === undefined || typeof (r as Record<string, unknown>)[f] === 'string');
  return readMetadataList(model, INVERSE_REGIONS_KEY, ok, '{"input", "output"[, "inputImag", "outputImag"]} value names');
}

/** Replace the recorded regions (the key is removed when none are left). */
export function writeInverseRegions(model: Model, regions: InverseRegion[]): void {
  if (regions.length === 0) {
    const list = model.proto.metadata_props;
    if (list?.some((e) => e.key === INVERSE_REGIONS_KEY)) model.proto.metadata_props = list.filter((e) => e.key !== INVERSE_REGIONS_KEY);
    return;
  }
  model.setMetadata(INVERSE_REGIONS_KEY, JSON.stringify(regions));
}

export function addInverseRegions(model: Model, regions: InverseRegion[]): void {
  if (regions.length > 0) writeInverseRegions(model, [...readInverseRegions(model), ...regions]);
}

/** Follow renamed values (old name -> new name). */
export function renameInInverseRegions(model: Model, rename: (name: string) => string | undefined): void {
  const regions = readInverseRegions(model);
  if (regions.length === 0) return;
  let changed = false;
  const next = regions.map((r) => {
    const out: InverseRegion = { ...r };
    for (const f of NAME_FIELDS) {
      const v = r[f];
      const to = v === undefined ? undefined : rename(v);
      if (v !== undefined && to !== undefined && to !== v) {
        out[f] = to;
        changed = true;
      }
    }
    return out;
  });
  if (changed) writeInverseRegions(model, next);
}

/** Drop the regions whose values are no longer in the graph (after materialize, extract, remove). */
export function pruneInverseRegions(model: Model): number {
  const regions = readInverseRegions(model);
  const keep = regions.filter((r) => NAME_FIELDS.every((f) => r[f] === undefined || model.graph.hasValue(r[f]!)));
  if (keep.length !== regions.length) writeInverseRegions(model, keep);
  return regions.length - keep.length;
}
