/**
 * Report plots as standalone SVG, drawn with Vega-Lite (compiled to Vega and rendered headless,
 * no browser or canvas needed): absolute gain and R-score against eps per model and attack, and
 * clean-vs-attacked score scatter per model.
 */
import type * as vl from 'vega-lite';
import { attackKey, type EvaluateResult } from './schema.js';

export interface Plot {
  /** File name inside the report's plots/ folder. */
  readonly file: string;
  readonly title: string;
  readonly svg: string;
}

type VlSpec = vl.TopLevelSpec;

async function render(spec: VlSpec): Promise<string> {
  // loaded here, not at start-up: Vega costs about 300 ms to import and only reports draw plots
  const [vega, vl] = await Promise.all([import('vega'), import('vega-lite')]);
  const view = new vega.View(vega.parse(vl.compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

function metricVsEps(result: EvaluateResult, metric: 'absGain' | 'rScore', title: string): VlSpec | undefined {
  const values = result.models.flatMap((m) =>
    m.attacks.filter((a) => a.eps !== null).map((a) => ({ model: m.name, attack: attackKey(a), eps: a.eps, value: a[metric], series: `${m.name} · ${attackKey(a)}` })),
  );
  if (values.length === 0) return undefined;
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title,
    width: 420,
    height: 260,
    data: { values },
    mark: { type: 'line', point: true },
    encoding: {
      x: { field: 'eps', type: 'quantitative', title: 'eps (1/255)' },
      y: { field: 'value', type: 'quantitative', title: metric === 'absGain' ? 'absolute gain' : 'R-score' },
      color: { field: 'model', type: 'nominal' },
      strokeDash: { field: 'attack', type: 'nominal' },
      detail: { field: 'series', type: 'nominal' },
    },
  };
}

function scatter(result: EvaluateResult): VlSpec | undefined {
  const values = result.models.flatMap((m) =>
    m.scores ? Object.entries(m.scores.attacked).flatMap(([run, att]) => att.map((a, i) => ({ model: m.name, run, clean: m.scores!.clean[i], attacked: a }))) : [],
  );
  if (values.length === 0) return undefined;
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: 'Clean vs attacked scores',
    data: { values },
    facet: { field: 'model', type: 'nominal', title: null },
    columns: 2,
    spec: {
      width: 260,
      height: 260,
      layer: [
        { mark: { type: 'point', filled: true, opacity: 0.6 }, encoding: { x: { field: 'clean', type: 'quantitative', scale: { zero: false } }, y: { field: 'attacked', type: 'quantitative', scale: { zero: false } }, color: { field: 'run', type: 'nominal' } } },
        // the identity line: points above it were raised by the attack
        { mark: { type: 'rule', color: '#888', strokeDash: [4, 4] }, encoding: { x: { aggregate: 'min', field: 'clean', type: 'quantitative' }, y: { aggregate: 'min', field: 'clean', type: 'quantitative' }, x2: { aggregate: 'max', field: 'clean' }, y2: { aggregate: 'max', field: 'clean' } } },
      ],
    },
  } as VlSpec;
}

/** Every plot the result has data for (an evaluation without eps runs has no eps curves). */
export async function renderPlots(result: EvaluateResult): Promise<Plot[]> {
  const specs: [string, string, VlSpec | undefined][] = [
    ['abs-gain-vs-eps.svg', 'Absolute gain vs eps', metricVsEps(result, 'absGain', 'Absolute gain vs eps')],
    ['r-score-vs-eps.svg', 'R-score vs eps', metricVsEps(result, 'rScore', 'R-score vs eps')],
    ['clean-vs-attacked.svg', 'Clean vs attacked scores', scatter(result)],
  ];
  const plots: Plot[] = [];
  for (const [file, title, spec] of specs) if (spec) plots.push({ file, title, svg: await render(spec) });
  return plots;
}
