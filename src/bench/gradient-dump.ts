/**
 * Gradient graphs written to files for the CUDA check (scripts/dump-gradient-graphs.ts, then
 * scripts/check-cuda.py on a machine with a GPU; docs/AUTODIFF.md). The toolkit never saves a
 * gradient graph otherwise.
 *
 * Per model two graphs, as the ort engine builds them (src/autodiff buildGradientGraph, loss =
 * sum(cotangent * output) over every graph output, the cotangents graph inputs):
 * - `<name>.input-grad.onnx`: the gradient to every float graph input, every weight constant
 *   (what attacks run);
 * - `<name>.weight-grad.onnx`: the gradient to every trainable float initializer (selector `all`,
 *   what finetune runs). The trained parameters are graph inputs, as in the engine, WITH their
 *   values also as initializers of the same name (ONNX's input defaults, IR >= 4): a runner that
 *   feeds only the image and the cotangents runs the model's own weights.
 * Metadata `iqa-surgeon.gradient-outputs` (JSON) says which outputs are the loss, the forward
 * outputs and the gradients (of which input or parameter), and which inputs are cotangents.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { buildGradientGraph, type GradientGraph, type GradientGraphRequest } from '../autodiff/index.js';
import { selectTrainable } from '../differentiable/parameters.js';
import { fullRequest } from '../engines/ort-engine.js';
import { Model } from '../ir/model.js';
import type { TensorProto } from '../onnx/proto-types.js';
import { spliceRobustBlock } from '../surgery/splice.js';

export const GRADIENT_OUTPUTS_KEY = 'iqa-surgeon.gradient-outputs';

export interface DumpedGraph {
  file: string;
  model: string;
  kind: 'input-grad' | 'weight-grad';
  /** Graph inputs to feed (forward inputs and cotangents); the parameters have initializer defaults. */
  feed: string[];
  fetch: GradientGraph['fetch'];
  cotangents: Record<string, string>;
  params: string[];
}

/** The forward models dumped by default: the project's default graphs and a spliced RobustBlock (trainable form, Schur inverse). */
export async function defaultDumpModels(repoRoot: string): Promise<{ name: string; model: Model }[]> {
  const out: { name: string; model: Model }[] = [];
  for (const f of ['linearity_r18w16', 'dbcnn_vgg_bilinear']) out.push({ name: f, model: Model.load(path.join(repoRoot, 'graphs', `${f}.onnx`)) });
  const block = Model.load(path.join(repoRoot, 'graphs/linearity_r18w16.onnx'));
  await spliceRobustBlock(block, { stage: 'layer3', inverse: 'schur' });
  out.push({ name: 'linearity_r18w16.robust-block-schur', model: block });
  return out;
}

/** The gradient graph of `req` on `model`, with the trained parameters' values as initializer defaults of their inputs. */
export function gradientGraphWithDefaults(model: Model, req: GradientGraphRequest): { model: Model; graph: GradientGraph } {
  const graph = buildGradientGraph(model, req);
  const proto = graph.model.proto;
  const g = proto.graph!;
  const values = new Map<string, TensorProto>((model.proto.graph!.initializer ?? []).map((t) => [t.name ?? '', t]));
  const inputNames = new Set((g.input ?? []).map((i) => i.name));
  for (const p of req.params ?? []) {
    const fedAs = graph.feeds.params[p]!;
    if (!inputNames.has(fedAs)) throw new Error(`internal: parameter '${p}' is not an input of the gradient graph`);
    const t = values.get(p);
    if (!t) throw new Error(`internal: no initializer '${p}'`);
    g.initializer = [...(g.initializer ?? []), { ...t, name: fedAs }];
  }
  if (Number(proto.ir_version ?? 0) < 4) throw new Error(`internal: the gradient graph has IR ${String(proto.ir_version)}; input defaults need IR >= 4`);
  const m = new Model(proto);
  m.setMetadata(GRADIENT_OUTPUTS_KEY, JSON.stringify({ ...graph.fetch, cotangents: graph.feeds.cotangents, params: graph.feeds.params, ...(graph.feeds.target ? { target: graph.feeds.target } : {}) }));
  return { model: m, graph };
}

/** Write the input- and all-weight gradient graphs of each model to `dir`. */
export async function dumpGradientGraphs(dir: string, models: readonly { name: string; model: Model }[], log: (s: string) => void = () => {}): Promise<DumpedGraph[]> {
  mkdirSync(dir, { recursive: true });
  const out: DumpedGraph[] = [];
  for (const { name, model } of models) {
    const outputs = model.graph.outputs.map((v) => v.name);
    const base = fullRequest(model, []);
    const params = await selectTrainable(model, ['all']);
    const requests: [DumpedGraph['kind'], GradientGraphRequest][] = [
      ['input-grad', { loss: { kind: 'cotangents', outputs }, inputs: base.inputs ?? [], params: [] }],
      ['weight-grad', { loss: { kind: 'cotangents', outputs }, inputs: [], params }],
    ];
    for (const [kind, req] of requests) {
      const { model: gm, graph } = gradientGraphWithDefaults(model, req);
      const file = path.join(dir, `${name}.${kind}.onnx`);
      gm.save(file);
      const withDefault = new Set(Object.values(graph.feeds.params));
      const feed = (gm.proto.graph!.input ?? []).map((i) => i.name!).filter((n) => !withDefault.has(n));
      out.push({ file, model: name, kind, feed, fetch: graph.fetch, cotangents: graph.feeds.cotangents, params: req.params ? [...req.params] : [] });
      log(`${file}: feeds ${feed.join(', ')}; ${Object.keys(graph.fetch.inputGrads).length + Object.keys(graph.fetch.paramGrads).length} gradient output(s)${withDefault.size ? `, ${withDefault.size} parameter input(s) with initializer defaults` : ''}`);
    }
  }
  return out;
}
