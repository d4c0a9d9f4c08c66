/**
 * Robustness evaluation of one or more ONNX models (../shared/docs/METHOD.md, Attacks and Metrics):
 * attacks crafted through the engine factory (any `DifferentiableModel`), every attacked image
 * checked against its budget, clean and attacked scores from ONNX Runtime on the files, then
 * SROCC/PLCC on the scored images, absolute gain, R-score and AUC over eps with bootstrap CIs,
 * as an `evaluate@1` result (src/report/). Attacks raise the predicted quality (`up`) by default.
 */
import { checkBudget, linfDistance } from '../attacks/budget.js';
import { scoreObjective, type Direction, type ScoreObjective } from '../attacks/objective.js';
import { fgsm, pgd } from '../attacks/pgd.js';
import { pixelMap } from '../attacks/pixels.js';
import type { ScoreSpec } from '../attacks/score.js';
import { stadv } from '../attacks/stadv.js';
import { applyPerturbation, trainUap, type Perturbation } from '../attacks/uap.js';
import type { DatasetItem } from '../data/dataset.js';
import { loadPixelBatch } from '../data/pixels.js';
import type { PreprocessSpec } from '../data/preprocess.js';
import { createEngine, type EngineChoice } from '../engines/factory.js';
import { UserError } from '../errors.js';
import { Model } from '../ir/model.js';
import { bootstrapCi, take } from '../metrics/bootstrap.js';
import { plcc, srocc } from '../metrics/correlation.js';
import { plccLogistic } from '../metrics/logistic.js';
import { aucOverEps, cleanScoreRange, fixedScoreRange, gains, mean, rScores, type RScoreVariant, type ScoreRange } from '../metrics/robustness.js';
import type { AttackResult, EvaluateResult, Interval, ModelResult } from '../report/schema.js';
import type { ExecutionProvider } from '../runtime/index.js';
import { spread } from '../metrics/spread.js';
import { mulberry32 } from '../util/random.js';
import { VERSION } from '../version.js';
import { openScorer } from './scoring.js';
import type { UnitRecord } from './state.js';

/** An attack family with its iteration count: 'pgd-1', 'pgd-8', 'fgsm', 'uap', 'stadv', 'noise'. */
export interface AttackSpec {
  attack: 'pgd' | 'fgsm' | 'uap' | 'stadv' | 'noise';
  iters: number | null;
}

export function parseAttackList(text: string): AttackSpec[] {
  const out: AttackSpec[] = [];
  for (const raw of text.split(',').map((s) => s.trim()).filter(Boolean)) {
    const m = /^(pgd)-(\d{1,4})$/.exec(raw);
    if (m) {
      const k = Number(m[2]);
      if (k < 1 || k > 1000) throw new UserError('usage', `--attacks: ${raw}: PGD iterations must be in [1, 1000]`);
      out.push({ attack: 'pgd', iters: k });
    } else if (raw === 'fgsm' || raw === 'uap' || raw === 'stadv' || raw === 'noise') out.push({ attack: raw, iters: null });
    else throw new UserError('usage', `--attacks: unknown attack '${raw}' (pgd-<k>, fgsm, uap, stadv, noise)`);
  }
  if (out.length === 0) throw new UserError('usage', '--attacks lists no attack');
  return out;
}

export interface EvaluatedModel {
  file: string;
  name: string;
  role: string;
  preprocess: PreprocessSpec;
  score: ScoreSpec;
  /** Craft the attacks on this model instead (transfer: attack the source, score this one). */
  source?: { file: string; preprocess: PreprocessSpec; score: ScoreSpec };
}

/** Where finished units are kept (an `EvaluationState` beside the report makes a run resumable). */
export interface UnitStore {
  get(unit: string): UnitRecord | undefined;
  put(unit: string, record: UnitRecord): void;
  loadPerturbation?(name: string): Perturbation | undefined;
  savePerturbation?(name: string, u: Perturbation): void;
}

export interface EvaluateOptions {
  /** Images to attack. */
  images: readonly DatasetItem[];
  /** Scored images for SROCC/PLCC (null: not computed). */
  mosImages: readonly DatasetItem[] | null;
  dataSpec: string;
  mosSpec: string | null;
  attacks: readonly AttackSpec[];
  /** Budgets in 1/255 units (PGD, FGSM, noise each run at every eps; UAP at the largest). */
  eps: readonly number[];
  /** PGD step in 1/255 units (default 1). */
  step?: number;
  direction?: Direction;
  /** Seed of the bootstrap (and of the randomised attacks when `seeds` is not given). */
  seed?: number;
  /** Randomised attacks (noise, UAP, PGD with random start) run once per seed; the report gives the spread. */
  seeds?: readonly number[];
  /** PGD starts from a seeded uniform point in the eps ball. */
  randomStart?: boolean;
  /** Score the 8-bit images an attacker can ship instead of the float ones. */
  quantize?: boolean;
  engine?: EngineChoice;
  ep?: ExecutionProvider;
  /** ONNX Runtime intra-op threads of the scorers and of the ort engine (default: ONNX Runtime's). */
  threads?: number;
  /** Called with the gradient engine's one-line description (engine, provider or backend) once it is built. */
  onEngine?: (describe: string) => void;
  rScoreVariant?: RScoreVariant;
  /** Fixed normalisation range instead of each model's clean predictions. */
  fixedRange?: { min: number; max: number; source: string };
  /** Images UAP is trained on (default: the attacked images). */
  uapTrain?: readonly DatasetItem[];
  uapEpochs?: number;
  stadvIterations?: number;
  bootstrapResamples?: number;
  /** Finished units (default: kept in memory only). */
  store?: UnitStore;
  /** After each unit (a batch of images under one run and seed), computed or taken from the store. */
  onEvent?: (e: { kind: 'unit'; model: string; run: string; seed: number; done: number; total: number; resumed: boolean }) => void;
  /**
   * Called with each computed batch of attacked pixels (first image index `start`, k images), before
   * its unit is recorded (so files written here exist for every recorded unit).
   */
  keepImages?: (model: string, run: string, seed: number, start: number, k: number, clean: Float32Array, attacked: Float32Array) => void | Promise<void>;
}

/** Images per attack batch: the unit of resumption (batches start at multiples of this). */
export const ATTACK_BATCH = 8;

/** One attack at one budget (or none, for stAdv), as it appears in reports. */
export interface PlannedRun {
  spec: AttackSpec;
  eps: number | null;
  /** 'pgd-8', 'uap', ... */
  key: string;
  /** 'pgd-8-eps4', 'stadv', ... */
  runKey: string;
  /** Depends on a seed (noise, UAP, PGD with random start): repeated per seed. */
  randomised: boolean;
}

/** The runs of an evaluation, in order: each attack at every eps (UAP at the largest, stAdv once). */
export function planRuns(attacks: readonly AttackSpec[], eps: readonly number[], randomStart = false): PlannedRun[] {
  const maxEps = Math.max(...eps);
  return attacks.flatMap((a) => {
    const key = a.iters === null ? a.attack : `${a.attack}-${a.iters}`;
    const randomised = a.attack === 'noise' || a.attack === 'uap' || (a.attack === 'pgd' && randomStart);
    const budgets: (number | null)[] = a.attack === 'stadv' ? [null] : a.attack === 'uap' ? [maxEps] : [...eps];
    return budgets.map((e) => ({ spec: a, eps: e, key, runKey: e === null ? key : `${key}-eps${e}`, randomised }));
  });
}

/** A 32-bit seed mixed from several integers (a seeded stream per image or batch, independent of batching). */
export function seedFor(...parts: number[]): number {
  let h = 0x811c9dc5;
  for (const p of parts) {
    h = Math.imul(h ^ (p >>> 0), 0x01000193) >>> 0;
    h = Math.imul(h ^ (h >>> 15), 0x85ebca6b) >>> 0;
  }
  return h >>> 0;
}

function interval(ci: { low: number; high: number }): Interval | null {
  return Number.isFinite(ci.low) && Number.isFinite(ci.high) ? [ci.low, ci.high] : null;
}

function quantize(px: Float32Array): Float32Array {
  return px.map((v) => Math.round(Math.min(1, Math.max(0, v)) * 255) / 255);
}

function memoryStore(): UnitStore {
  const units = new Map<string, UnitRecord>();
  return { get: (u) => units.get(u), put: (u, r) => void units.set(u, r) };
}

/** Attacked pixels of one batch of k images (first index `start`), plus stAdv's summed flow. */
async function attackBatch(run: PlannedRun, seed: number, objective: ScoreObjective, x: Float32Array, k: number, start: number, o: EvaluateOptions, uap: () => Promise<Perturbation>): Promise<{ attacked: Float32Array; flowSum?: number }> {
  const direction = o.direction ?? 'up';
  const eps = (run.eps ?? 0) / 255;
  const step = (o.step ?? 1) / 255;
  const per = x.length / k;
  const [, h, w] = objective.imageDims;
  const spec = run.spec;
  if (spec.attack === 'uap') return { attacked: applyPerturbation(x, [k, 3, h, w], await uap()) };
  if (spec.attack === 'noise') {
    // one seeded stream per image: the same noise whatever the batching
    const out = new Float32Array(x.length);
    for (let i = 0; i < k; i++) {
      const rnd = mulberry32(seedFor(seed, Math.round((run.eps ?? 0) * 1000), start + i));
      for (let j = i * per; j < (i + 1) * per; j++) out[j] = Math.min(1, Math.max(0, x[j]! + (2 * rnd() - 1) * eps));
    }
    return { attacked: out };
  }
  if (spec.attack === 'pgd') return { attacked: (await pgd(objective, x, k, { eps, step, iters: spec.iters!, direction, randomStart: o.randomStart === true, seed: seedFor(seed, start) })).attacked };
  if (spec.attack === 'fgsm') return { attacked: (await fgsm(objective, x, k, { eps, direction })).attacked };
  const r = await stadv(objective, x, k, { iterations: o.stadvIterations ?? 5, direction });
  return { attacked: r.attacked, flowSum: r.flowMean * k };
}

interface RunScores {
  /** Per seed: attacked scores of every image. */
  bySeed: Map<number, number[]>;
  linf: number;
  flowSum: number;
}

async function evaluateModel(m: EvaluatedModel, mi: number, o: EvaluateOptions, store: UnitStore): Promise<ModelResult> {
  const [h, w] = m.preprocess.size;
  const dims: [number, number, number] = [3, h, w];
  const map = pixelMap(m.preprocess, h * w);
  const scorer = await openScorer(m.file, m.score, map, dims, { ep: o.ep ?? 'cpu', ...(o.threads !== undefined ? { threads: o.threads } : {}) });
  const names = o.images.map((i) => i.name);
  const seeds = o.seeds && o.seeds.length > 0 ? o.seeds : [o.seed ?? 0];
  try {
    const cleanPx = (await loadPixelBatch(o.images, m.preprocess)).data;
    const n = o.images.length;
    const per = 3 * h * w;
    const clean = await scorer.score(cleanPx, n, names);
    const range: ScoreRange = o.fixedRange ? fixedScoreRange(o.fixedRange.min, o.fixedRange.max, o.fixedRange.source) : cleanScoreRange(clean);
    const resamples = o.bootstrapResamples ?? 1000;
    // correlation with MOS
    let corr: Pick<ModelResult, 'srocc' | 'plcc' | 'sroccCi95' | 'plccCi95' | 'plccLogistic'> = { srocc: null, plcc: null, sroccCi95: null, plccCi95: null, plccLogistic: null };
    if (o.mosImages && o.mosImages.length >= 2) {
      const mosPx = await loadPixelBatch(o.mosImages, m.preprocess);
      const pred = await scorer.score(mosPx.data, o.mosImages.length, o.mosImages.map((i) => i.name));
      const mos = Array.from(mosPx.mos);
      let logistic: number | null = null;
      try {
        logistic = o.mosImages.length >= 5 ? plccLogistic(pred, mos).plcc : null;
      } catch {
        logistic = null;
      }
      corr = {
        srocc: srocc(pred, mos),
        plcc: plcc(pred, mos),
        sroccCi95: interval(bootstrapCi(pred.length, (idx) => srocc(take(pred, idx), take(mos, idx)), { resamples, seed: o.seed ?? 0 })),
        plccCi95: interval(bootstrapCi(pred.length, (idx) => plcc(take(pred, idx), take(mos, idx)), { resamples, seed: o.seed ?? 0 })),
        plccLogistic: logistic,
      };
      if (!Number.isFinite(corr.srocc!)) corr.srocc = null;
      if (!Number.isFinite(corr.plcc!)) corr.plcc = null;
    }
    // attacks are crafted on the source model (transfer) or on this one; each unit is one batch
    // of images under one run and seed, taken from the store when an earlier run finished it
    const src = m.source ?? { file: m.file, preprocess: m.preprocess, score: m.score };
    if (src.preprocess.size[0] !== h || src.preprocess.size[1] !== w) throw new UserError('usage', `--source model takes ${src.preprocess.size.join('x')} images, the scored model ${h}x${w}: transfer needs the same input size`);
    const runs = planRuns(o.attacks, o.eps, o.randomStart);
    const units = runs.flatMap((run) => (run.randomised ? seeds : seeds.slice(0, 1)).flatMap((seed) => Array.from({ length: Math.ceil(n / ATTACK_BATCH) }, (_, b) => ({ run, seed, start: b * ATTACK_BATCH }))));
    const unitId = (run: PlannedRun, seed: number, start: number): string => `m${mi}/${run.runKey}/seed${seed}/${start}`;
    let engine: Awaited<ReturnType<typeof createEngine>> | undefined;
    let objective: ScoreObjective | undefined;
    const objectiveNow = async (): Promise<ScoreObjective> => {
      if (!objective) {
        engine = await createEngine({ model: Model.load(src.file), engine: o.engine ?? 'auto', ...(o.engine !== 'tfjs' && o.ep ? { ep: o.ep } : {}), ...(o.engine !== 'tfjs' && o.threads !== undefined ? { threads: o.threads } : {}) });
        o.onEngine?.(engine.describe());
        objective = scoreObjective(engine, src.score, pixelMap(src.preprocess, h * w), dims);
      }
      return objective;
    };
    const byRun = new Map<string, RunScores>();
    const uapCache = new Map<string, Perturbation>();
    let uapTrainPx: Float32Array | undefined;
    try {
      for (const [i, { run, seed, start }] of units.entries()) {
        const id = unitId(run, seed, start);
        const k = Math.min(ATTACK_BATCH, n - start);
        let rec = store.get(id);
        const resumed = rec !== undefined;
        if (rec && (!Array.isArray(rec.scores) || rec.scores.length !== k || !rec.scores.every(Number.isFinite) || !Number.isFinite(rec.linf))) throw new UserError('state', `the saved unit ${id} does not hold ${k} finite scores: the state is damaged (pass --fresh to start over)`);
        if (!rec) {
          const obj = await objectiveNow();
          const uap = async (): Promise<Perturbation> => {
            const name = `m${mi}-uap-eps${run.eps}-seed${seed}`;
            let u = uapCache.get(name) ?? store.loadPerturbation?.(name);
            if (!u) {
              uapTrainPx ??= o.uapTrain ? (await loadPixelBatch(o.uapTrain, src.preprocess)).data : cleanPx;
              const count = o.uapTrain ? o.uapTrain.length : n;
              u = await trainUap(obj, uapTrainPx, count, { eps: run.eps! / 255, epochs: o.uapEpochs ?? 5, seed, direction: o.direction ?? 'up' });
              store.savePerturbation?.(name, u);
            }
            uapCache.set(name, u);
            return u;
          };
          const x = cleanPx.subarray(start * per, (start + k) * per);
          const r = await attackBatch(run, seed, obj, x, k, start, o, uap);
          let adv = r.attacked;
          const what = `${m.name} ${run.runKey} (images ${start + 1}-${start + k})`;
          const linf = run.spec.attack === 'stadv' ? linfDistance(x, adv) : checkBudget(x, adv, run.eps! / 255, what);
          if (o.quantize) adv = quantize(adv);
          await o.keepImages?.(m.name, run.runKey, seed, start, k, x, adv);
          rec = { scores: await scorer.score(adv, k, names.slice(start, start + k)), linf, ...(r.flowSum !== undefined ? { flowSum: r.flowSum } : {}) };
          store.put(id, rec);
        }
        const rs = byRun.get(run.runKey) ?? { bySeed: new Map<number, number[]>(), linf: 0, flowSum: 0 };
        byRun.set(run.runKey, rs);
        const list = rs.bySeed.get(seed) ?? [];
        rs.bySeed.set(seed, list);
        list.push(...rec.scores);
        rs.linf = Math.max(rs.linf, rec.linf);
        rs.flowSum += rec.flowSum ?? 0;
        o.onEvent?.({ kind: 'unit', model: m.name, run: run.runKey, seed, done: i + 1, total: units.length, resumed });
      }
    } finally {
      engine?.dispose();
    }
    const attacks: AttackResult[] = [];
    const attackedScores: Record<string, number[]> = {};
    /** Per attack key, per seed: the (eps, gain, R-score) points for the AUC spread. */
    const seedPoints = new Map<string, Map<number, { eps: number; absGain: number; rScore: number }[]>>();
    for (const run of runs) {
      const rs = byRun.get(run.runKey)!;
      const used = [...rs.bySeed.keys()];
      const g = used.map((s) => gains(clean, rs.bySeed.get(s)!, range));
      const r = used.map((s) => rScores(clean, rs.bySeed.get(s)!, range, o.rScoreVariant ?? 'msu'));
      // per image: the mean over seeds (one seed: the values themselves)
      const gi = clean.map((_, j) => mean(g.map((v) => v[j]!)));
      const ri = clean.map((_, j) => mean(r.map((v) => v[j]!)));
      attackedScores[run.runKey] = rs.bySeed.get(used[0]!)!;
      const result: AttackResult = {
        attack: run.spec.attack,
        iters: run.spec.iters,
        eps: run.eps,
        absGain: mean(gi),
        absGainCi95: interval(bootstrapCi(n, (idx) => mean(take(gi, idx)), { resamples, seed: o.seed ?? 0 })),
        rScore: mean(ri),
        rScoreCi95: interval(bootstrapCi(n, (idx) => mean(take(ri, idx)), { resamples, seed: o.seed ?? 0 })),
        n,
        linf: rs.linf * 255,
      };
      if (run.spec.attack === 'stadv') result.flowMean = rs.flowSum / n;
      if (used.length > 1) {
        const sg = g.map(mean);
        const sr = r.map(mean);
        result.seeds = used;
        result.seedSpread = { absGain: spread(sg), rScore: spread(sr) };
        result.absGainSeedStd = result.seedSpread.absGain.std;
        if (run.eps !== null) {
          const bySeed = seedPoints.get(run.key) ?? new Map();
          seedPoints.set(run.key, bySeed);
          used.forEach((s, j) => bySeed.set(s, [...(bySeed.get(s) ?? []), { eps: run.eps!, absGain: sg[j]!, rScore: sr[j]! }]));
        }
      }
      attacks.push(result);
    }
    const auc: ModelResult['auc'] = {};
    for (const a of o.attacks) {
      if (a.attack === 'uap' || a.attack === 'stadv') continue;
      const key = a.iters === null ? a.attack : `${a.attack}-${a.iters}`;
      const runsOf = attacks.filter((r) => r.attack === a.attack && r.iters === a.iters && r.eps !== null);
      if (runsOf.length < 2) continue;
      auc[key] = { absGain: aucOverEps(runsOf.map((r) => ({ eps: r.eps!, value: r.absGain }))), rScore: aucOverEps(runsOf.map((r) => ({ eps: r.eps!, value: r.rScore }))) };
      const perSeed = seedPoints.get(key);
      if (perSeed && perSeed.size > 1) {
        const pts = [...perSeed.values()];
        auc[key]!.seedSpread = {
          absGain: spread(pts.map((p) => aucOverEps(p.map((q) => ({ eps: q.eps, value: q.absGain }))))),
          rScore: spread(pts.map((p) => aucOverEps(p.map((q) => ({ eps: q.eps, value: q.rScore }))))),
        };
      }
    }
    return { name: m.name, file: m.file, role: m.role, ...corr, range: { min: range.min, max: range.max, source: range.source }, attacks, auc, scores: { images: names, clean, attacked: attackedScores } };
  } finally {
    await scorer.dispose();
  }
}

export async function evaluateModels(models: readonly EvaluatedModel[], o: EvaluateOptions): Promise<EvaluateResult> {
  if (o.images.length < 1) throw new UserError('data', 'no images to attack');
  for (const e of o.eps) if (!(e >= 0 && e <= 255)) throw new UserError('usage', `--eps ${e} is outside [0, 255] (units of 1/255)`);
  if (new Set(o.eps).size !== o.eps.length) throw new UserError('usage', '--eps lists a value twice');
  if (o.seeds) {
    if (o.seeds.length === 0) throw new UserError('usage', '--seeds lists no seed');
    for (const s of o.seeds) if (!(Number.isInteger(s) && s >= 0 && s <= 2 ** 31)) throw new UserError('usage', `--seeds: ${s} is not an integer in [0, 2^31]`);
    if (new Set(o.seeds).size !== o.seeds.length) throw new UserError('usage', '--seeds lists a seed twice');
  }
  const results: ModelResult[] = [];
  const provider = o.ep ?? 'cpu';
  const store = o.store ?? memoryStore();
  for (const [mi, m] of models.entries()) results.push(await evaluateModel(m, mi, o, store));
  const p = models[0]!.preprocess;
  return {
    schema: 'evaluate@1',
    toolkitVersion: VERSION,
    data: { attacked: o.dataSpec, mos: o.mosSpec, images: o.images.length, mosImages: o.mosImages?.length ?? 0 },
    scored: o.quantize ? 'uint8' : 'float',
    rScoreVariant: o.rScoreVariant ?? 'msu',
    provider,
    preprocessing: `${p.size[0]}x${p.size[1]} ${p.kernel}/${p.fit}, range [${p.range.join(', ')}], mean [${p.mean.join(', ')}], std [${p.std.join(', ')}], ${p.colorOrder}`,
    ...(o.seeds && o.seeds.length > 1 ? { seeds: [...o.seeds] } : {}),
    ...(o.randomStart ? { randomStart: true } : {}),
    models: results,
  };
}
