/**
 * The report as one HTML page that opens from disk without a server: plots inlined as SVG, tables,
 * the settings the numbers depend on, and a few attacked images beside their originals (relative
 * paths inside the report folder). No scripts.
 */
import { VERSION } from '../version.js';
import type { Plot } from './plots.js';
import { attackKey, type EvaluateResult, type Interval } from './schema.js';
import { formatCell, seedSpreadRows, table4Rows } from './table.js';

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

function ci(v: Interval | null): string {
  return v === null ? '—' : `[${v[0].toFixed(3)}, ${v[1].toFixed(3)}]`;
}

function htmlTable(rows: string[][], cls = ''): string {
  const [head, ...body] = rows;
  const tr = (cells: string[], tag: string): string => `<tr>${cells.map((c) => `<${tag}>${escapeHtml(c)}</${tag}>`).join('')}</tr>`;
  return `<table class="${cls}"><thead>${tr(head!, 'th')}</thead><tbody>${body.map((r) => tr(r, 'td')).join('')}</tbody></table>`;
}

const STYLE = `body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222}
table{border-collapse:collapse;margin:1em 0;font-size:14px}th,td{border:1px solid #ccc;padding:4px 8px;text-align:right}
th:first-child,td:first-child{text-align:left}figure{display:inline-block;margin:1em}figcaption{font-size:13px;color:#555}
.examples img{width:220px;image-rendering:pixelated;border:1px solid #ccc}dl{display:grid;grid-template-columns:max-content auto;gap:2px 12px}dt{font-weight:600}`;

function spreadSection(result: EvaluateResult): string {
  const rows = seedSpreadRows(result);
  if (rows.length === 1) return '';
  return `<h2>Spread over seeds</h2>\n<p>Randomised attacks repeated for seeds ${escapeHtml(result.seeds?.join(', ') ?? '')}: mean, sample standard deviation, minimum and maximum of the per-seed values.</p>\n${htmlTable(rows, 'spread')}`;
}

export function reportHtml(result: EvaluateResult, plots: readonly Plot[]): string {
  const settings: [string, string][] = [
    ['attacked images', `${result.data.attacked} (${result.data.images})`],
    ['MOS images', result.data.mos === null ? 'none (SROCC/PLCC not computed)' : `${result.data.mos} (${result.data.mosImages})`],
    ['scored images', result.scored === 'uint8' ? '8-bit (quantized) attacked images' : 'float attacked images'],
    ['R-score variant', result.rScoreVariant],
    ...(result.seeds ? [['seeds (randomised attacks)', result.seeds.join(', ')] as [string, string]] : []),
    ...(result.randomStart ? [['PGD start', 'seeded uniform point in the eps ball'] as [string, string]] : []),
    ['ONNX Runtime provider', result.provider],
    ['preprocessing', result.preprocessing],
    ...result.models.map((m): [string, string] => [`score range: ${m.name}`, `[${m.range.min.toPrecision(5)}, ${m.range.max.toPrecision(5)}] (${m.range.source})`]),
  ];
  const details = result.models.map((m) => {
    const rows = [['attack', 'eps (1/255)', 'n', 'abs gain', 'abs gain 95% CI', 'R-score', 'R-score 95% CI', 'L-inf (1/255)']];
    for (const a of m.attacks) rows.push([attackKey(a), a.eps === null ? '—' : String(a.eps), String(a.n), formatCell(a.absGain, 4), ci(a.absGainCi95), formatCell(a.rScore, 4), ci(a.rScoreCi95), a.linf === undefined ? '—' : a.linf.toFixed(3)]);
    const corr = `SROCC ${formatCell(m.srocc, 4)} ${ci(m.sroccCi95)} · PLCC ${formatCell(m.plcc, 4)} ${ci(m.plccCi95)} · PLCC after logistic fit ${formatCell(m.plccLogistic, 4)}`;
    return `<h3>${escapeHtml(m.name)} <small>(${escapeHtml(m.role)}, ${escapeHtml(m.file)})</small></h3><p>${escapeHtml(corr)}</p>${htmlTable(rows, 'details')}`;
  });
  const examples = (result.examples ?? []).map(
    (e) =>
      `<figure class="examples"><img src="${escapeHtml(e.clean)}" alt="clean"><img src="${escapeHtml(e.attacked)}" alt="attacked"><figcaption>${escapeHtml(e.model)} · ${escapeHtml(e.attack)}: ${e.cleanScore.toFixed(3)} → ${e.attackedScore.toFixed(3)}</figcaption></figure>`,
  );
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>iqa-surgeon evaluation</title><style>${STYLE}</style></head>
<body>
<h1>Robustness evaluation</h1>
<p>iqa-surgeon ${escapeHtml(VERSION)} · schema ${escapeHtml(result.schema)} · numbers in <a href="report.json">report.json</a>, table in <a href="report.md">report.md</a></p>
<h2>Summary (shaped like the paper's Table 4)</h2>
${htmlTable(table4Rows(result), 'summary')}
${spreadSection(result)}
<h2>Settings</h2>
<dl>${settings.map(([k, v]) => `<dt>${escapeHtml(k)}</dt><dd>${escapeHtml(v)}</dd>`).join('')}</dl>
<h2>Plots</h2>
${plots.map((p) => `<figure id="${escapeHtml(p.file.replace(/\.svg$/, ''))}">${p.svg}<figcaption>${escapeHtml(p.title)} (<a href="plots/${escapeHtml(p.file)}">${escapeHtml(p.file)}</a>)</figcaption></figure>`).join('\n')}
<h2>Per model</h2>
${details.join('\n')}
${examples.length > 0 ? `<h2>Examples</h2>\n${examples.join('\n')}` : ''}
</body></html>
`;
}
