/**
 * The `evaluate@1` result: what an evaluation of one or more models under attack produced, in the
 * versioned JSON shape reports are made from (docs/REPORT.md documents every key). Metrics are
 * plain numbers; their 95% confidence intervals sit in separate `...Ci95` keys as [low, high].
 * `EVALUATE_SCHEMA` is the same contract as a JSON Schema (draft 2020-12), written beside the
 * report so other tools can validate it.
 */

export type Interval = [low: number, high: number];

export interface AttackResult {
  /** Attack family: 'pgd', 'fgsm', 'uap', 'stadv', 'noise', ... */
  attack: string;
  /** Iterations (PGD: k of pgd-k); null where the attack has no iteration count in its name. */
  iters: number | null;
  /** Budget in 1/255 units; null for attacks without an L-infinity budget (stAdv). */
  eps: number | null;
  absGain: number;
  absGainCi95: Interval | null;
  rScore: number;
  rScoreCi95: Interval | null;
  /** Images the numbers are over. */
  n: number;
  /** Spread over `--seeds` repeats of a randomised attack (standard deviation of the mean gain). */
  absGainSeedStd?: number;
  /** The seeds a randomised attack was repeated with (present with two or more). */
  seeds?: number[];
  /** Mean, sample std, min and max over the seeds of the per-seed mean gain and R-score. */
  seedSpread?: SeedSpread;
  /** Largest L-infinity change of any attacked image, in 1/255 units (checked against eps). */
  linf?: number;
  /** stAdv: mean per-pixel flow magnitude in pixels. */
  flowMean?: number;
}

/** A metric's spread over seeds: mean, sample standard deviation (n - 1), minimum, maximum. */
export interface Spread {
  mean: number;
  std: number;
  min: number;
  max: number;
}

export interface SeedSpread {
  absGain: Spread;
  rScore: Spread;
}

export interface ModelResult {
  /** Display name (file stem unless given). */
  name: string;
  file: string;
  /** e.g. 'original', 'patched'. */
  role: string;
  /** Correlation with MOS on the scored images; null without scores. */
  srocc: number | null;
  plcc: number | null;
  sroccCi95: Interval | null;
  plccCi95: Interval | null;
  /** PLCC after the 4-parameter logistic fit; null without scores. */
  plccLogistic: number | null;
  /** Normalisation range of this model's scores and where it came from. */
  range: { min: number; max: number; source: string };
  attacks: AttackResult[];
  /** Per attack key ('pgd-1', 'pgd-8', ...): area under the metric-vs-eps curve. */
  auc: Record<string, { absGain: number; rScore: number; seedSpread?: SeedSpread }>;
  /** Per-image raw scores for plots: clean, and per attack run key (e.g. 'pgd-8-eps4'). */
  scores?: { images: string[]; clean: number[]; attacked: Record<string, number[]> };
}

export interface EvaluateResult {
  schema: 'evaluate@1';
  toolkitVersion: string;
  /** Where the attacked images and the MOS images came from (dataset specs as given). */
  data: { attacked: string; mos: string | null; images: number; mosImages: number };
  /** 'float' (attacked float images) or 'uint8' (8-bit images an attacker can ship). */
  scored: 'float' | 'uint8';
  rScoreVariant: 'msu' | 'paper';
  /** ONNX Runtime execution provider the scores came from. */
  provider: string;
  /** Preprocessing used for each model, as printed. */
  preprocessing: string;
  /** Seeds the randomised attacks were repeated with (`--seeds`, two or more). */
  seeds?: number[];
  /** PGD started from a seeded random point in the eps ball. */
  randomStart?: boolean;
  models: ModelResult[];
  /** A few attacked images beside their originals, paths relative to the report folder. */
  examples?: { model: string; attack: string; clean: string; attacked: string; cleanScore: number; attackedScore: number }[];
}

/** The attack key used in `auc` and tables: `pgd-8`, `uap`, `stadv`. */
export function attackKey(a: Pick<AttackResult, 'attack' | 'iters'>): string {
  return a.iters === null ? a.attack : `${a.attack}-${a.iters}`;
}

const num = { type: 'number' } as const;
const nullableNum = { type: ['number', 'null'] } as const;
const spreadSchema = { type: 'object', required: ['mean', 'std', 'min', 'max'], properties: { mean: num, std: { type: 'number', minimum: 0 }, min: num, max: num } } as const;
const seedSpreadSchema = { type: 'object', required: ['absGain', 'rScore'], properties: { absGain: spreadSchema, rScore: spreadSchema } } as const;
const interval = { oneOf: [{ type: 'array', items: num, minItems: 2, maxItems: 2 }, { type: 'null' }] } as const;

export const EVALUATE_SCHEMA = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  $id: 'https://iqa-surgeon.invalid/schemas/evaluate@1.json',
  title: 'iqa-surgeon evaluate@1',
  type: 'object',
  required: ['schema', 'toolkitVersion', 'data', 'scored', 'rScoreVariant', 'provider', 'preprocessing', 'models'],
  properties: {
    schema: { const: 'evaluate@1' },
    toolkitVersion: { type: 'string' },
    data: {
      type: 'object',
      required: ['attacked', 'mos', 'images', 'mosImages'],
      properties: { attacked: { type: 'string' }, mos: { type: ['string', 'null'] }, images: { type: 'integer', minimum: 0 }, mosImages: { type: 'integer', minimum: 0 } },
    },
    scored: { enum: ['float', 'uint8'] },
    rScoreVariant: { enum: ['msu', 'paper'] },
    provider: { type: 'string' },
    preprocessing: { type: 'string' },
    seeds: { type: 'array', items: { type: 'integer', minimum: 0 }, minItems: 2 },
    randomStart: { type: 'boolean' },
    models: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        required: ['name', 'file', 'role', 'srocc', 'plcc', 'sroccCi95', 'plccCi95', 'plccLogistic', 'range', 'attacks', 'auc'],
        properties: {
          name: { type: 'string' },
          file: { type: 'string' },
          role: { type: 'string' },
          srocc: nullableNum,
          plcc: nullableNum,
          sroccCi95: interval,
          plccCi95: interval,
          plccLogistic: nullableNum,
          range: { type: 'object', required: ['min', 'max', 'source'], properties: { min: num, max: num, source: { type: 'string' } } },
          attacks: {
            type: 'array',
            items: {
              type: 'object',
              required: ['attack', 'iters', 'eps', 'absGain', 'absGainCi95', 'rScore', 'rScoreCi95', 'n'],
              properties: {
                attack: { type: 'string', minLength: 1 },
                iters: { type: ['integer', 'null'], minimum: 1 },
                eps: nullableNum,
                absGain: num,
                absGainCi95: interval,
                rScore: num,
                rScoreCi95: interval,
                n: { type: 'integer', minimum: 1 },
                absGainSeedStd: { type: 'number', minimum: 0 },
                seeds: { type: 'array', items: { type: 'integer', minimum: 0 }, minItems: 2 },
                seedSpread: seedSpreadSchema,
                linf: num,
                flowMean: num,
              },
            },
          },
          auc: { type: 'object', additionalProperties: { type: 'object', required: ['absGain', 'rScore'], properties: { absGain: num, rScore: num, seedSpread: seedSpreadSchema } } },
          scores: {
            type: 'object',
            required: ['images', 'clean', 'attacked'],
            properties: {
              images: { type: 'array', items: { type: 'string' } },
              clean: { type: 'array', items: num },
              attacked: { type: 'object', additionalProperties: { type: 'array', items: num } },
            },
          },
        },
      },
    },
    examples: {
      type: 'array',
      items: {
        type: 'object',
        required: ['model', 'attack', 'clean', 'attacked', 'cleanScore', 'attackedScore'],
        properties: { model: { type: 'string' }, attack: { type: 'string' }, clean: { type: 'string' }, attacked: { type: 'string' }, cleanScore: num, attackedScore: num },
      },
    },
  },
} as const;
