/**
 * PLS-VIP pruning (Jordao et al.; ../shared/docs/METHOD.md): each prunable conv's output is
 * global-max-pooled over a set of scored training images (about 200) by ONNX Runtime, PLS
 * regression (2 components, scikit-learn's scale=True) of those features on the MOS scores every
 * filter by VIP, and one global threshold removes the ratio of all filters in scope (never a whole
 * conv). The chosen filters are masked exactly as the l1/l2 criteria do (surgery/prune/).
 */
import type { DatasetItem } from '../data/dataset.js';
import { loadBatches } from '../data/loader.js';
import type { PreprocessSpec } from '../data/preprocess.js';
import { UserError } from '../errors.js';
import type { Model } from '../ir/model.js';
import { withRunner, type ExecutionProvider } from '../runtime/index.js';
import { globalThresholdPrune, plsVip } from '../surgery/prune/pls.js';
import { applyPrune, planPrune, type PruneReport, type PruneScope } from '../surgery/prune/prune.js';

export interface PlsPruneOptions {
  ratio: number;
  scope?: PruneScope;
  /** Scored images the features come from (the first `maxImages` are used; default 200). */
  items: readonly DatasetItem[];
  maxImages?: number;
  preprocess: PreprocessSpec;
  ep?: ExecutionProvider;
  batch?: number;
}

/** Global max pooling of every candidate conv's output, one row per image (n x p, filters side by side). */
async function pooledFeatures(model: Model, convOutputs: { node: string; value: string; filters: number }[], items: readonly DatasetItem[], o: PlsPruneOptions): Promise<{ X: Float64Array; y: Float64Array; n: number; p: number }> {
  const copy = model.clone();
  const g = copy.graph;
  const pooled: string[] = [];
  for (const c of convOutputs) {
    const node = g.addNode({ opType: 'GlobalMaxPool', inputs: [g.value(c.value)], name: `${c.node}/pls_gmp`, outputs: [`${c.value}.pls_gmp`] });
    g.outputs.push(node.output(0)!);
    pooled.push(node.output(0)!.name);
  }
  const p = convOutputs.reduce((s, c) => s + c.filters, 0);
  const n = items.length;
  const X = new Float64Array(n * p);
  const y = Float64Array.from(items, (it) => it.mos!);
  const input = copy.graph.inputs.find((v) => !v.isInitializer)!.name;
  await withRunner(copy, { provider: o.ep ?? 'cpu' }, async (runner) => {
    let row = 0;
    for await (const b of loadBatches(items, o.preprocess, { batchSize: o.batch ?? 16 })) {
      const out = await runner.run({ [input]: { elemType: 1, dims: [...b.dims], data: b.data } }, pooled);
      for (let i = 0; i < b.dims[0]; i++) {
        let col = 0;
        for (const [k, c] of convOutputs.entries()) {
          const t = out[pooled[k]!]!.data as Float32Array;
          for (let f = 0; f < c.filters; f++) X[(row + i) * p + col + f] = t[i * c.filters + f]!;
          col += c.filters;
        }
      }
      row += b.dims[0];
    }
  });
  return { X, y, n, p };
}

export async function prunePls(model: Model, o: PlsPruneOptions): Promise<PruneReport> {
  if (!(o.ratio >= 0 && o.ratio <= 0.9)) throw new UserError('usage', `--ratio must be a number in [0, 0.9] (got ${o.ratio})`);
  const items = o.items.filter((it) => it.mos !== undefined && Number.isFinite(it.mos)).slice(0, o.maxImages ?? 200);
  if (items.length < 3) throw new UserError('data', `PLS-VIP pruning needs at least 3 scored images (got ${items.length}): give --data a scored dataset`);
  const plan = planPrune(model, o.scope ?? 'all');
  if (plan.candidates.length === 0) throw new UserError('prune', 'no conv in scope can be pruned by masking (see the left-out reasons with --criterion l2)');
  const convs = plan.candidates.map((c) => ({ node: c.node.name, value: c.node.output(0)!.name, filters: c.weight.dims[0]! }));
  const { X, y, n, p } = await pooledFeatures(model, convs, items, o);
  let vip: Float64Array;
  try {
    vip = plsVip(X, n, p, y, { components: 2, scale: true }).vip;
  } catch (e) {
    if (e instanceof RangeError) throw new UserError('pls', `PLS regression failed: ${e.message}`);
    throw e;
  }
  let off = 0;
  const perConv = convs.map((c) => {
    const v = vip.subarray(off, off + c.filters);
    off += c.filters;
    return { node: c.node, vip: v };
  });
  // the ratio applies to the candidates' filters (convs left out keep all theirs)
  const result = globalThresholdPrune(perConv, o.ratio);
  const chosen = new Map(result.convs.map((c) => [c.node, c.pruned]));
  return applyPrune(model, plan, chosen, { criterion: 'pls', ratio: o.ratio, extra: { pls: { components: 2, scale: true, images: n, features: 'global max pool of each conv output', threshold: result.threshold } } });
}
