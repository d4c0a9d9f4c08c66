/**
 * Dataset specs (`--data <spec>`) and the lists of images they name.
 *
 *   koniq:<dir>[,images=<sub>]   KonIQ-10k layout: <dir>/koniq10k_scores_and_distributions.csv
 *                                (columns image_name, MOS, ...) and an image folder (<sub>, or the
 *                                first of 1024x768, 512x384, images that exists)
 *   csv:<file>[,root=<dir>]      generic CSV with a header naming columns `path` and `mos`
 *                                (extra columns ignored); relative paths resolve against root
 *                                (default: the CSV's folder)
 *   folder:<dir>                 every image file directly in <dir>, sorted by name, no scores
 *                                (NIPS 2017 style)
 *   <path>                       auto-detect: a folder holding the KonIQ CSV is koniq, a folder
 *                                holding scores.csv is csv, a .csv file is csv, another folder is folder
 *
 * Rows that cannot be used (missing name, a MOS that is not a finite number) raise a
 * `DatasetError` naming the file and line, or are counted and left out with `skipBad`.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { UserError } from '../errors.js';
import { parseCsv } from './csv.js';
import { mulberry32 } from '../util/random.js';
import { readRegularTextFile } from '../util/safe-read.js';

export class DatasetError extends UserError {
  constructor(message: string) {
    super('dataset', message);
  }
}

export type DatasetKind = 'koniq' | 'csv' | 'folder';

export interface DatasetSpec {
  kind: DatasetKind;
  /** The folder (koniq, folder) or CSV file (csv). */
  location: string;
  /** csv: folder relative paths resolve against; koniq: the image folder. */
  root?: string;
}

export interface DatasetItem {
  /** Absolute path of the image file. */
  path: string;
  /** The name as the dataset lists it (relative path or file name). */
  name: string;
  /** Mean opinion score (or a stand-in); absent for folders without scores. */
  mos?: number;
  /** Line in the CSV the item came from (1-based). */
  line?: number;
}

export interface SkippedRow {
  source: string;
  line: number;
  reason: string;
}

export interface Dataset {
  spec: DatasetSpec;
  items: DatasetItem[];
  /** Rows left out because of `skipBad`. */
  skipped: SkippedRow[];
}

export const KONIQ_CSV = 'koniq10k_scores_and_distributions.csv';
export const KONIQ_IMAGE_DIRS = ['1024x768', '512x384', 'images'];
export const GENERIC_CSV = 'scores.csv';
export const IMAGE_EXTENSIONS = ['.png', '.jpg', '.jpeg', '.bmp', '.webp', '.tif', '.tiff', '.gif'];

/** Parse a `--data` spec. Paths are resolved against `cwd`. */
export function parseDatasetSpec(text: string, cwd = process.cwd()): DatasetSpec {
  const m = /^(koniq|csv|folder):(.*)$/.exec(text);
  if (!m) return autoDetect(path.resolve(cwd, text), text);
  const kind = m[1] as DatasetKind;
  const [loc, ...params] = splitParams(m[2]!);
  if (!loc) throw new DatasetError(`dataset spec '${text}' names no path; write it like ${kind}:<path>`);
  const spec: DatasetSpec = { kind, location: path.resolve(cwd, loc) };
  for (const p of params) {
    const eq = p.indexOf('=');
    const key = eq > 0 ? p.slice(0, eq) : p;
    const value = eq > 0 ? p.slice(eq + 1) : '';
    const allowed = kind === 'csv' ? 'root' : kind === 'koniq' ? 'images' : undefined;
    if (key !== allowed || value === '') {
      throw new DatasetError(`dataset spec '${text}': unknown parameter '${p}'${allowed ? ` (${kind} takes ${allowed}=<dir>)` : ` (${kind} takes no parameters)`}`);
    }
    spec.root = kind === 'koniq' ? path.resolve(spec.location, value) : path.resolve(cwd, value);
  }
  return spec;
}

function splitParams(s: string): string[] {
  // a comma followed by key= starts a parameter; other commas belong to the path
  const parts = s.split(/,(?=[a-z]+=)/);
  return parts;
}

function autoDetect(p: string, text: string): DatasetSpec {
  if (!existsSync(p)) throw new DatasetError(`dataset '${text}' does not exist; give a folder or a CSV file (koniq:<dir>, csv:<file>, folder:<dir>)`);
  if (statSync(p).isDirectory()) {
    if (existsSync(path.join(p, KONIQ_CSV))) return { kind: 'koniq', location: p };
    if (existsSync(path.join(p, GENERIC_CSV))) return { kind: 'csv', location: path.join(p, GENERIC_CSV) };
    return { kind: 'folder', location: p };
  }
  if (p.toLowerCase().endsWith('.csv')) return { kind: 'csv', location: p };
  throw new DatasetError(`cannot tell what kind of dataset '${text}' is; write koniq:<dir>, csv:<file> or folder:<dir>`);
}

export function describeSpec(spec: DatasetSpec): string {
  return `${spec.kind}:${spec.location}${spec.root ? ` (${spec.kind === 'csv' ? 'root' : 'images'} ${spec.root})` : ''}`;
}

export interface ListOptions {
  /** Count and leave out unusable rows instead of failing on the first. */
  skipBad?: boolean;
}

/** List the images (and scores) a spec names. Images are not opened here (see loader.ts). */
export function listDataset(spec: DatasetSpec, opts: ListOptions = {}): Dataset {
  switch (spec.kind) {
    case 'koniq':
      return listKoniq(spec, opts);
    case 'csv':
      return listCsv(spec, opts);
    case 'folder':
      return listFolder(spec);
  }
}

function readText(file: string, what: string): string {
  try {
    return readRegularTextFile(file, what);
  } catch (e) {
    if (e instanceof UserError) throw new DatasetError(e.message);
    throw e;
  }
}

interface ScoredColumns {
  name: string[];
  mos: string[];
}

function listScored(spec: DatasetSpec, csvFile: string, root: string, columns: ScoredColumns, opts: ListOptions): Dataset {
  const rows = parseCsv(readText(csvFile, 'score file'), csvFile);
  if (rows.length === 0) throw new DatasetError(`score file '${csvFile}' is empty; it needs a header row`);
  const header = rows[0]!.fields.map((h) => h.trim().toLowerCase());
  const find = (names: string[]) => header.findIndex((h) => names.includes(h));
  const nameCol = find(columns.name);
  const mosCol = find(columns.mos);
  if (nameCol < 0 || mosCol < 0) {
    throw new DatasetError(`score file '${csvFile}' needs columns ${columns.name[0]} and ${columns.mos[0]} in its header row (found: ${header.join(', ') || 'nothing'})`);
  }
  const items: DatasetItem[] = [];
  const skipped: SkippedRow[] = [];
  const seen = new Set<string>();
  for (const row of rows.slice(1)) {
    const name = (row.fields[nameCol] ?? '').trim();
    const mosText = (row.fields[mosCol] ?? '').trim();
    const mos = mosText === '' ? NaN : Number(mosText);
    let reason: string | undefined;
    if (row.fields.length !== header.length) reason = `has ${row.fields.length} fields, the header has ${header.length}`;
    else if (name === '') reason = `has no ${columns.name[0]}`;
    else if (!Number.isFinite(mos)) reason = `${columns.mos[0]} '${mosText}' is not a number`;
    else if (seen.has(name)) reason = `lists '${name}' a second time`;
    if (reason) {
      if (!opts.skipBad) throw new DatasetError(`score file '${csvFile}' line ${row.line} ${reason} (--skip-bad leaves such rows out)`);
      skipped.push({ source: csvFile, line: row.line, reason });
      continue;
    }
    seen.add(name);
    items.push({ path: path.resolve(root, name), name, mos, line: row.line });
  }
  return { spec, items, skipped };
}

function listKoniq(spec: DatasetSpec, opts: ListOptions): Dataset {
  const dir = spec.location;
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new DatasetError(`KonIQ folder '${dir}' does not exist`);
  const csvFile = path.join(dir, KONIQ_CSV);
  if (!existsSync(csvFile)) throw new DatasetError(`'${dir}' has no ${KONIQ_CSV}; is it the KonIQ-10k folder?`);
  let images = spec.root;
  if (!images) {
    const found = KONIQ_IMAGE_DIRS.map((d) => path.join(dir, d)).find((d) => existsSync(d) && statSync(d).isDirectory());
    if (!found) throw new DatasetError(`KonIQ folder '${dir}' has no image folder (looked for ${KONIQ_IMAGE_DIRS.join(', ')}); name it with koniq:<dir>,images=<sub>`);
    images = found;
  } else if (!existsSync(images) || !statSync(images).isDirectory()) {
    throw new DatasetError(`KonIQ image folder '${images}' does not exist`);
  }
  return listScored({ ...spec, root: images }, csvFile, images, { name: ['image_name'], mos: ['mos'] }, opts);
}

function listCsv(spec: DatasetSpec, opts: ListOptions): Dataset {
  const root = spec.root ?? path.dirname(spec.location);
  return listScored(spec, spec.location, root, { name: ['path', 'image_name', 'image'], mos: ['mos', 'score'] }, opts);
}

function listFolder(spec: DatasetSpec): Dataset {
  const dir = spec.location;
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new DatasetError(`image folder '${dir}' does not exist`);
  const names = readdirSync(dir)
    .filter((f) => IMAGE_EXTENSIONS.includes(path.extname(f).toLowerCase()) && !f.startsWith('.'))
    .sort();
  if (names.length === 0) throw new DatasetError(`image folder '${dir}' holds no images (${IMAGE_EXTENSIONS.join(' ')})`);
  return { spec, items: names.map((n) => ({ path: path.join(dir, n), name: n })), skipped: [] };
}

export type SplitName = 'train' | 'val' | 'test';
export const SPLITS: readonly SplitName[] = ['train', 'val', 'test'];
/** KonIQ-10k's usual 70/10/20 proportions. */
export const DEFAULT_SPLIT_FRACTIONS: Record<SplitName, number> = { train: 0.7, val: 0.1, test: 0.2 };

export interface SplitOptions {
  seed?: number;
  /** A CSV with columns image_name (or path) and split (train, val or test). */
  splitFile?: string;
}

/**
 * The items of one split. Without a split file: the items sorted by name, shuffled by the seed
 * (mulberry32, Fisher-Yates), then the first round(70%) train, the next round(10%) val, the rest
 * test; the same seed and the same list give the same split on every machine.
 */
export function selectSplit(items: readonly DatasetItem[], split: SplitName, opts: SplitOptions = {}): DatasetItem[] {
  if (opts.splitFile) {
    const rows = parseCsv(readText(opts.splitFile, 'split file'), opts.splitFile);
    const header = (rows[0]?.fields ?? []).map((h) => h.trim().toLowerCase());
    const nameCol = header.findIndex((h) => h === 'image_name' || h === 'path');
    const splitCol = header.indexOf('split');
    if (nameCol < 0 || splitCol < 0) throw new DatasetError(`split file '${opts.splitFile}' needs columns image_name (or path) and split in its header row`);
    const wanted = new Set<string>();
    for (const row of rows.slice(1)) {
      const s = (row.fields[splitCol] ?? '').trim().toLowerCase();
      if (!SPLITS.includes(s as SplitName)) throw new DatasetError(`split file '${opts.splitFile}' line ${row.line}: split '${s}' is not train, val or test`);
      if (s === split) wanted.add((row.fields[nameCol] ?? '').trim());
    }
    return items.filter((it) => wanted.has(it.name));
  }
  const sorted = [...items].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const rnd = mulberry32(opts.seed ?? 0);
  for (let i = sorted.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [sorted[i], sorted[j]] = [sorted[j]!, sorted[i]!];
  }
  const nTrain = Math.round(sorted.length * DEFAULT_SPLIT_FRACTIONS.train);
  const nVal = Math.round(sorted.length * DEFAULT_SPLIT_FRACTIONS.val);
  const ranges: Record<SplitName, [number, number]> = { train: [0, nTrain], val: [nTrain, nTrain + nVal], test: [nTrain + nVal, sorted.length] };
  const [a, b] = ranges[split];
  return sorted.slice(a, b);
}
