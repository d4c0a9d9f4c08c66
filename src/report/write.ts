/**
 * Writes a report folder from an `evaluate@1` result: report.json (the result), schema.json (its
 * JSON Schema), report.md (the Table-4-shaped summary), plots/*.svg and index.html. Each file is
 * written atomically; the folder is created if needed.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../util/atomic-write.js';
import { reportHtml } from './html.js';
import { renderPlots } from './plots.js';
import { EVALUATE_SCHEMA, type EvaluateResult } from './schema.js';
import { seedSpreadMarkdown, table4Markdown } from './table.js';

export interface WrittenReport {
  readonly dir: string;
  readonly files: string[];
}

function writeText(file: string, text: string): void {
  const bytes = Buffer.from(text, 'utf8');
  writeFileAtomic(file, (w) => w.write(bytes));
}

function seedSpreadMd(result: EvaluateResult): string {
  const t = seedSpreadMarkdown(result);
  return t === '' ? '' : `\n## Spread over seeds ${result.seeds?.join(', ') ?? ''}\n\nRandomised attacks repeated per seed; the values of the seeds' runs (sample std).\n\n${t}`;
}

export async function writeReport(result: EvaluateResult, dir: string): Promise<WrittenReport> {
  const plots = await renderPlots(result);
  mkdirSync(path.join(dir, 'plots'), { recursive: true });
  const files: [string, string][] = [
    ['report.json', JSON.stringify(result, null, 1) + '\n'],
    ['schema.json', JSON.stringify(EVALUATE_SCHEMA, null, 1) + '\n'],
    ['report.md', `# Robustness evaluation\n\n${table4Markdown(result)}${seedSpreadMd(result)}\nScore ranges: ${result.models.map((m) => `${m.name} [${m.range.min}, ${m.range.max}] (${m.range.source})`).join('; ')}. Scored: ${result.scored} images. R-score: ${result.rScoreVariant}.\n`],
    ...plots.map((p): [string, string] => [path.join('plots', p.file), p.svg]),
    ['index.html', reportHtml(result, plots)],
  ];
  for (const [rel, text] of files) writeText(path.join(dir, rel), text);
  return { dir, files: files.map(([rel]) => rel) };
}
