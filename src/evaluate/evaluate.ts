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
import { mulberry32 } from '../util/random.js';
import { VERSION } from '../version.js';
import { openScorer } from './scoring.js';

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
  seed?: number;
  /** Score the 8-bit images an attacker can ship instead of the float ones. */
  quantize?: boolean;
  engine?: EngineChoice;
  ep?: ExecutionProvider;
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
  onEvent?: (e: { kind: 'run'; model: string; run: string; done: number; total: number }) => void;
  /** Keep the attacked pixels of these runs (for example images in the report). */
  keepImages?: (model: string, run: string, clean: Float32Array, attacked: Float32Array) => void;
}

function interval(ci: { low: number; high: number }): Interval | null {
  return Number.isFinite(ci.low) && Number.isFinite(ci.high) ? [ci.low, ci.high] : null;
}

function quantize(px: Float32Array): Float32Array {
  return px.map((v) => Math.round(Math.min(1, Math.max(0, v)) * 255) / 255);
}

/** Attacked pixels of every image for one run (batched), plus extras (stAdv's flow). */
async function runAttack(spec: AttackSpec, eps255: number, objective: ScoreObjective, clean: Float32Array, n: number, o: EvaluateOptions, uap: () => Promise<Perturbation>): Promise<{ attacked: Float32Array; flowMean?: number }> {
  const direction = o.direction ?? 'up';
  const eps = eps255 / 255;
  const step = (o.step ?? 1) / 255;
  const per = clean.length / n;
  const [, h, w] = objective.imageDims;
  if (spec.attack === 'uap') return { attacked: applyPerturbation(clean, [n, 3, h, w], await uap()) };
  if (spec.attack === 'noise') {
    const rnd = mulberry32((o.seed ?? 0) + Math.round(eps255 * 1000));
    return { attacked: clean.map((v) => Math.min(1, Math.max(0, v + (2 * rnd() - 1) * eps))) };
  }
  const out = new Float32Array(clean.length);
  let flow = 0;
  const batch = 8;
  for (let s = 0; s < n; s += batch) {
    const k = Math.min(batch, n - s);
    const x = clean.subarray(s * per, (s + k) * per);
    if (spec.attack === 'pgd') out.set((await pgd(objective, x, k, { eps, step, iters: spec.iters!, direction, seed: o.seed ?? 0 })).attacked, s * per);
    else if (spec.attack === 'fgsm') out.set((await fgsm(objective, x, k, { eps, direction })).attacked, s * per);
    else {
      const r = await stadv(objective, x, k, { iterations: o.stadvIterations ?? 5, direction });
      out.set(r.attacked, s * per);
      flow += r.flowMean * k;
    }
  }
  return spec.attack === 'stadv' ? { attacked: out, flowMean: flow / n } : { attacked: out };
}

async function evaluateModel(m: EvaluatedModel, o: EvaluateOptions): Promise<ModelResult> {
  const [h, w] = m.preprocess.size;
  const dims: [number, number, number] = [3, h, w];
  const map = pixelMap(m.preprocess, h * w);
  const scorer = await openScorer(m.file, m.score, map, dims, { ep: o.ep ?? 'cpu' });
  const names = o.images.map((i) => i.name);
  try {
    const cleanPx = (await loadPixelBatch(o.images, m.preprocess)).data;
    const n = o.images.length;
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
    // attacks are crafted on the source model (transfer) or on this one
    const src = m.source ?? { file: m.file, preprocess: m.preprocess, score: m.score };
    const srcModel = Model.load(src.file);
    const engine = await createEngine({ model: srcModel, engine: o.engine ?? 'auto', ...(o.engine !== 'tfjs' && o.ep ? { ep: o.ep } : {}) });
    o.onEngine?.(engine.describe());
    const attacks: AttackResult[] = [];
    const attackedScores: Record<string, number[]> = {};
    try {
      const srcMap = pixelMap(src.preprocess, src.preprocess.size[0] * src.preprocess.size[1]);
      if (src.preprocess.size[0] !== h || src.preprocess.size[1] !== w) throw new UserError('usage', `--source model takes ${src.preprocess.size.join('x')} images, the scored model ${h}x${w}: transfer needs the same input size`);
      const objective = scoreObjective(engine, src.score, srcMap, dims);
      let uapCache: Map<number, Perturbation> | undefined;
      const maxEps = Math.max(...o.eps);
      const uapTrainPx = o.uapTrain ? (await loadPixelBatch(o.uapTrain, src.preprocess)).data : cleanPx;
      const uapTrainN = o.uapTrain ? o.uapTrain.length : n;
      const runs = o.attacks.flatMap((a) => (a.attack === 'stadv' ? [{ a, eps: null as number | null }] : a.attack === 'uap' ? [{ a, eps: maxEps as number | null }] : o.eps.map((e) => ({ a, eps: e as number | null }))));
      for (const [i, { a, eps }] of runs.entries()) {
        const key = a.iters === null ? a.attack : `${a.attack}-${a.iters}`;
        const runKey = eps === null ? key : `${key}-eps${eps}`;
        o.onEvent?.({ kind: 'run', model: m.name, run: runKey, done: i, total: runs.length });
        const uap = async (): Promise<Perturbation> => {
          uapCache ??= new Map();
          if (!uapCache.has(eps!)) uapCache.set(eps!, await trainUap(objective, uapTrainPx, uapTrainN, { eps: eps! / 255, epochs: o.uapEpochs ?? 5, seed: o.seed ?? 0, direction: o.direction ?? 'up' }));
          return uapCache.get(eps!)!;
        };
        const r = await runAttack(a, eps ?? 0, objective, cleanPx, n, o, uap);
        let attackedPx = r.attacked;
        const linf = a.attack === 'stadv' ? linfDistance(cleanPx, attackedPx) : checkBudget(cleanPx, attackedPx, eps! / 255, `${m.name} ${runKey}`);
        if (o.quantize) attackedPx = quantize(attackedPx);
        o.keepImages?.(m.name, runKey, cleanPx, attackedPx);
        const adv = await scorer.score(attackedPx, n, names);
        attackedScores[runKey] = adv;
        const g = gains(clean, adv, range);
        const rs = rScores(clean, adv, range, o.rScoreVariant ?? 'msu');
        const result: AttackResult = {
          attack: a.attack,
          iters: a.iters,
          eps,
          absGain: mean(g),
          absGainCi95: interval(bootstrapCi(n, (idx) => mean(take(g, idx)), { resamples, seed: o.seed ?? 0 })),
          rScore: mean(rs),
          rScoreCi95: interval(bootstrapCi(n, (idx) => mean(take(rs, idx)), { resamples, seed: o.seed ?? 0 })),
          n,
          linf: linf * 255,
        };
        if (r.flowMean !== undefined) result.flowMean = r.flowMean;
        attacks.push(result);
      }
    } finally {
      engine.dispose();
    }
    const auc: ModelResult['auc'] = {};
    for (const a of o.attacks) {
      if (a.attack === 'uap' || a.attack === 'stadv') continue;
      const key = a.iters === null ? a.attack : `${a.attack}-${a.iters}`;
      const runs = attacks.filter((r) => r.attack === a.attack && r.iters === a.iters && r.eps !== null);
      if (runs.length >= 2) auc[key] = { absGain: aucOverEps(runs.map((r) => ({ eps: r.eps!, value: r.absGain }))), rScore: aucOverEps(runs.map((r) => ({ eps: r.eps!, value: r.rScore }))) };
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
  const results: ModelResult[] = [];
  const provider = o.ep ?? 'cpu';
  for (const m of models) results.push(await evaluateModel(m, o));
  const p = models[0]!.preprocess;
  return {
    schema: 'evaluate@1',
    toolkitVersion: VERSION,
    data: { attacked: o.dataSpec, mos: o.mosSpec, images: o.images.length, mosImages: o.mosImages?.length ?? 0 },
    scored: o.quantize ? 'uint8' : 'float',
    rScoreVariant: o.rScoreVariant ?? 'msu',
    provider,
    preprocessing: `${p.size[0]}x${p.size[1]} ${p.kernel}/${p.fit}, range [${p.range.join(', ')}], mean [${p.mean.join(', ')}], std [${p.std.join(', ')}], ${p.colorOrder}`,
    models: results,
  };
}
