/**
 * The headline table, shaped like the paper's Table 4: one row per model; SROCC, PLCC, the
 * absolute-gain and R-score AUC over eps for PGD-1 and PGD-8, and absolute gain and R-score for
 * UAP and stAdv. A missing value (attack not run, no MOS) prints as an em dash.
 */
import { attackKey, type EvaluateResult, type ModelResult, type SeedSpread } from './schema.js';

export interface TableColumn {
  readonly header: string;
  readonly value: (m: ModelResult) => number | null | undefined;
  /** Digits after the point. */
  readonly digits: number;
}

function single(m: ModelResult, key: string, metric: 'absGain' | 'rScore'): number | undefined {
  // UAP/stAdv are reported at one budget: the largest eps run (stAdv has none)
  const runs = m.attacks.filter((a) => attackKey(a) === key).sort((a, b) => (b.eps ?? 0) - (a.eps ?? 0));
  return runs[0]?.[metric];
}

export const TABLE4_COLUMNS: readonly TableColumn[] = [
  { header: 'SROCC', value: (m) => m.srocc, digits: 3 },
  { header: 'PLCC', value: (m) => m.plcc, digits: 3 },
  { header: 'AbsGain AUC PGD-1', value: (m) => m.auc['pgd-1']?.absGain, digits: 3 },
  { header: 'AbsGain AUC PGD-8', value: (m) => m.auc['pgd-8']?.absGain, digits: 3 },
  { header: 'R-score AUC PGD-1', value: (m) => m.auc['pgd-1']?.rScore, digits: 3 },
  { header: 'R-score AUC PGD-8', value: (m) => m.auc['pgd-8']?.rScore, digits: 3 },
  { header: 'AbsGain UAP', value: (m) => single(m, 'uap', 'absGain'), digits: 3 },
  { header: 'AbsGain stAdv', value: (m) => single(m, 'stadv', 'absGain'), digits: 3 },
  { header: 'R-score UAP', value: (m) => single(m, 'uap', 'rScore'), digits: 3 },
  { header: 'R-score stAdv', value: (m) => single(m, 'stadv', 'rScore'), digits: 3 },
];

export function formatCell(v: number | null | undefined, digits: number): string {
  return v === null || v === undefined ? '—' : v.toFixed(digits);
}

/** Table cells as strings: header row, then one row per model (first column: model name). */
export function table4Rows(result: EvaluateResult): string[][] {
  const header = ['model', ...TABLE4_COLUMNS.map((c) => c.header)];
  return [header, ...result.models.map((m) => [m.name, ...TABLE4_COLUMNS.map((c) => formatCell(c.value(m), c.digits))])];
}

function escapeCell(s: string): string {
  return s.replace(/\|/g, '\\|').replace(/[\r\n]+/g, ' ');
}

/** GitHub-flavoured Markdown table. */
export function table4Markdown(result: EvaluateResult): string {
  const [header, ...rows] = table4Rows(result);
  const line = (cells: string[]): string => `| ${cells.map(escapeCell).join(' | ')} |`;
  return [line(header!), line(header!.map((_, i) => (i === 0 ? '---' : '---:'))), ...rows.map(line)].join('\n') + '\n';
}

/** Plain-text table for a terminal (columns padded). */
export function table4Text(result: EvaluateResult): string {
  const rows = table4Rows(result);
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows.map((r) => r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  ')).join('\n') + '\n';
}

/**
 * The spread over `--seeds` of every randomised run and AUC (mean, sample std, min, max of the
 * per-seed values): header row, then one row per model and run; only the header when none.
 */
export function seedSpreadRows(result: EvaluateResult): string[][] {
  const header = ['model', 'attack', 'seeds', 'AbsGain mean', 'AbsGain std', 'AbsGain min', 'AbsGain max', 'R-score mean', 'R-score std', 'R-score min', 'R-score max'];
  const rows = [header];
  const cells = (s: SeedSpread): string[] => [s.absGain.mean, s.absGain.std, s.absGain.min, s.absGain.max, s.rScore.mean, s.rScore.std, s.rScore.min, s.rScore.max].map((v) => v.toFixed(4));
  for (const m of result.models) {
    for (const a of m.attacks) if (a.seedSpread) rows.push([m.name, `${attackKey(a)}${a.eps === null ? '' : ` eps ${a.eps}`}`, String(a.seeds?.length ?? ''), ...cells(a.seedSpread)]);
    for (const [key, v] of Object.entries(m.auc)) if (v.seedSpread) rows.push([m.name, `${key} AUC`, String(result.seeds?.length ?? ''), ...cells(v.seedSpread)]);
  }
  return rows;
}

/** The spread table as Markdown, or '' when no run was repeated over seeds. */
export function seedSpreadMarkdown(result: EvaluateResult): string {
  const [header, ...rows] = seedSpreadRows(result);
  if (rows.length === 0) return '';
  const line = (c: string[]): string => `| ${c.map(escapeCell).join(' | ')} |`;
  return [line(header!), line(header!.map((_, i) => (i < 2 ? '---' : '---:'))), ...rows.map(line)].join('\n') + '\n';
}

/** The spread table as plain text, or '' when no run was repeated over seeds. */
export function seedSpreadText(result: EvaluateResult): string {
  const rows = seedSpreadRows(result);
  if (rows.length === 1) return '';
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows.map((r) => r.map((cell, c) => (c < 2 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  ')).join('\n') + '\n';
}
