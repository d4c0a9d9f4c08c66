/**
 * Child process of the Cayley-gradient memory benchmark (cayley-grad-memory.ts): builds the
 * parametric Cayley RobustBlock at the given position with seeded weights, its gradient graph
 * (loss mean(y); gradients for the block input and W, alpha, bias, reduce conv), runs it once in
 * ONNX Runtime (CPU) and prints, as JSON, the peak resident memory (VmHWM), the times, and the
 * static estimate of the gradient graph's peak.
 */
import { fileURLToPath } from 'node:url';
import { estimateMemory } from '../analysis/memory-estimate.js';
import { buildGradientGraph } from '../autodiff/index.js';
import { INVERSE_REGIONS_KEY } from '../autodiff/inverse-regions.js';
import { Model } from '../ir/model.js';
import { openRunner, setMaxMemoryBytes, type RuntimeTensor } from '../runtime/index.js';
import { buildRobustBlock } from '../surgery/robust-block/build.js';
import { DEFAULT_BLOCK_OPTIONS, type RobustBlockOptions } from '../surgery/robust-block/options.js';
import { tensorTypedData } from '../onnx/tensor-data.js';
import { chunkCayleyForGradients, type CayleyBlockSpec } from '../surgery/robust-block/gradient-chunks.js';
import { peakRss } from './measure.js';


/** Seeded uniform values in [-0.5, 0.5). */
function seeded(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 4294967296 - 0.5;
  }
  return out;
}

export interface ChildArgs {
  c: number;
  h: number;
  w: number;
  /** The block's inverse method (whatever `buildRobustBlock` accepts: newton-schulz, com.microsoft, ...). */
  inverse: string;
  nsIterations?: number;
  /** ONNX Runtime's CPU memory arena (default off: its growth overshoots by gigabytes at this size). */
  arena?: boolean;
  /** Build and estimate only (no ONNX Runtime run). */
  dryRun?: boolean;
  /** Chunk the Cayley by frequency rows with recomputation (src/surgery/robust-block/gradient-chunks.ts), this many bytes per chunk; absent: whole. */
  chunkBytes?: number;
}

/** x [1, c, h, w] -> Relu -> RobustBlock (parametric Cayley) -> y. */
export function cayleyBlockModel(a: ChildArgs): { model: Model; params: string[]; block: CayleyBlockSpec } {
  const model = new Model({
    ir_version: 8,
    opset_import: [
      { domain: '', version: 13 },
      { domain: 'com.microsoft', version: 1 },
    ],
    graph: {
      name: 'cayley-block',
      node: [{ op_type: 'Relu', input: ['x'], output: ['r'], name: 'relu' }],
      input: [{ name: 'x', type: { tensor_type: { elem_type: 1, shape: { dim: [1, a.c, a.h, a.w].map((d) => ({ dim_value: d })) } } } }],
      output: [{ name: 'r', type: { tensor_type: { elem_type: 1 } } }],
    },
  });
  const g = model.graph;
  const o: RobustBlockOptions = { ...DEFAULT_BLOCK_OPTIONS, inverse: a.inverse as RobustBlockOptions['inverse'], ...(a.nsIterations !== undefined ? { nsIterations: a.nsIterations } : {}) };
  let built: ReturnType<typeof buildRobustBlock> | undefined;
  g.insertOnEdge(g.value('r'), (x) => {
    built = buildRobustBlock(g, x, { c: a.c, h: a.h, w: a.w }, o, 13);
    return built.output;
  });
  g.toposort();
  const p = o.prefix;
  // the inverse's region: as the block records it (when it does), else found by name for Newton-Schulz
  const recorded = (built as { inverseRegion?: unknown } | undefined)?.inverseRegion;
  if (recorded) model.setMetadata(INVERSE_REGIONS_KEY, JSON.stringify([recorded]));
  else if (a.inverse === 'newton-schulz') {
    const b = g.nodes.find((n) => n.name === `${p}/orth/cayley/Concat_block`)!;
    const last = g.nodes.filter((n) => n.name.startsWith(`${p}/orth/cayley/ns/MatMul_x_`)).pop()!;
    model.setMetadata(INVERSE_REGIONS_KEY, JSON.stringify([{ input: b.outputs[0]!.name, output: last.outputs[0]!.name }]));
  }
  const b = built!;
  const block: CayleyBlockSpec = { prefix: p, weight: `${p}.orth.weight`, alpha: `${p}.orth.alpha`, qr: b.q!.re.name, qi: b.q!.im.name, cout: a.c, cin: b.cmid, k: o.orthKernel, n: b.n, inverse: o.inverse as CayleyBlockSpec['inverse'], iterations: b.parametric?.iterations ?? 0 };
  if (a.chunkBytes !== undefined) chunkCayleyForGradients(model, [block], { chunkBytes: a.chunkBytes });
  return { model, params: [`${p}.orth.weight`, `${p}.orth.alpha`, `${p}.orth.bias`, `${p}.reduce.weight`], block };
}

async function main(): Promise<void> {
  const a = JSON.parse(process.argv[2] ?? '{}') as ChildArgs;
  const base = peakRss();
  const t0 = performance.now();
  const { model, params } = cayleyBlockModel(a);
  const output = model.graph.outputs[0]!.name;
  const grad = buildGradientGraph(model, { loss: { kind: 'mean', output }, inputs: ['x'], params });
  const tBuild = performance.now() - t0;
  const estimate = estimateMemory(grad.model);
  const result: Record<string, unknown> = {
    args: a,
    gradientNodes: grad.model.graph.nodes.length,
    inverseRegions: grad.inverseRegions,
    staticEstimateBytes: estimate.bytes,
    staticSumActivationBytes: estimate.sumActivationBytes,
    buildMs: Math.round(tBuild),
    memoryPolicy: grad.memory,
  };
  if (!a.dryRun) {
    setMaxMemoryBytes(Number.MAX_SAFE_INTEGER);
    const t1 = performance.now();
    const runner = await openRunner(grad.model, { optimization: 'basic', memoryArena: a.arena ?? false });
    const tSession = performance.now() - t1;
    const feeds: Record<string, RuntimeTensor> = { x: { elemType: 1, dims: [1, a.c, a.h, a.w], data: seeded(a.c * a.h * a.w, 1) } };
    for (const p of params) {
      const t = model.graph.lookup(p)!.initializer!;
      feeds[p] = { elemType: 1, dims: (t.dims ?? []).map(Number), data: tensorTypedData(t) as Float32Array };
    }
    const t2 = performance.now();
    const out = await runner.run(feeds, [grad.fetch.loss, ...Object.values(grad.fetch.paramGrads)]);
    const tRun = performance.now() - t2;
    await runner.dispose();
    const loss = (out[grad.fetch.loss]!.data as Float32Array)[0]!;
    const finite = Object.values(grad.fetch.paramGrads).every((n) => (out[n]!.data as Float32Array).every((v) => Number.isFinite(v)));
    Object.assign(result, { sessionMs: Math.round(tSession), runMs: Math.round(tRun), loss, gradientsFinite: finite });
  }
  result.peakRssBytes = peakRss();
  result.baseRssBytes = base;
  process.stdout.write(JSON.stringify(result) + '\n');
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) await main();
