/**
 * The embedded dataset (`iqa-surgeon dataset make-default`): procedural pristine scenes
 * (procedural.ts), each also distorted by blur, noise, JPEG and contrast at 5 graded levels
 * (distort.ts), every image scored by SSIM against its pristine scene (ssim.ts) and mapped to a
 * MOS-like 1..5 scale: mos = 1 + 4 * clamp(SSIM, 0, 1). Deterministic from the seed (PNG and JPEG
 * bytes also depend on the sharp/libvips build, which the manifest records). Written in the
 * generic folder + CSV format: <out>/images/*.png and <out>/scores.csv (path, mos, ...).
 */
import { existsSync, mkdirSync, readdirSync, renameSync, rmdirSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { PathError, UsageError } from '../errors.js';
import { tempNamePattern, tempPathFor, writeFileAtomic } from '../util/atomic-write.js';
import { formatCsv } from './csv.js';
import { GENERIC_CSV } from './dataset.js';
import { DISTORTION_TYPES, distort, LEVEL_PARAMS, LEVELS, type DistortionType } from './distort.js';
import { encodePng, imageLibraryVersions, type RgbImage } from './image.js';
import { renderScene, type SceneStyle } from './procedural.js';
import { ssim } from './ssim.js';

export const GENERATOR_VERSION = 1;
export const DEFAULT_SIZE = 200;
/** Most images `make-default` writes (KonIQ-10k has 10,073; 20,000 take about an hour). */
export const MAX_DEFAULT_SIZE = 20_000;
export const DEFAULT_SEED = 0;
export const DEFAULT_WIDTH = 256;
export const DEFAULT_HEIGHT = 192;
/** Images per scene: the pristine one and every distortion type at every level. */
export const VARIANTS_PER_SCENE = 1 + DISTORTION_TYPES.length * LEVELS;
const STYLE_CYCLE: readonly SceneStyle[] = ['dead-leaves', 'gradient-edges', 'dead-leaves', 'mixed'];

export interface MakeDefaultOptions {
  out: string;
  /** Number of images (default 200). */
  size?: number;
  seed?: number;
  width?: number;
  height?: number;
  /** Called after each image. */
  onProgress?: (done: number, total: number) => void;
}

export interface DefaultRecord {
  path: string;
  mos: number;
  ssim: number;
  scene: number;
  style: SceneStyle;
  distortion: DistortionType | 'none';
  level: number;
  parameter: number | null;
}

export interface MakeDefaultReport {
  schema: 'iqa-surgeon/dataset-make-default@1';
  out: string;
  csv: string;
  images: number;
  scenes: number;
  seed: number;
  width: number;
  height: number;
  mos: { min: number; max: number; mean: number };
}

/** SSIM (clamped to [0,1]) to the MOS-like 1..5 scale. */
export function ssimToMos(s: number): number {
  return 1 + 4 * Math.min(1, Math.max(0, s));
}

/** Seed of scene k for a dataset seed (decorrelated, 32-bit). */
function sceneSeed(seed: number, k: number): number {
  return (Math.imul(seed >>> 0, 0x9e3779b1) ^ Math.imul(k + 1, 0x85ebca6b)) >>> 0;
}

/** The variant `v` (0..VARIANTS_PER_SCENE-1) of a scene: 0 pristine, then type-major, level-minor. */
function variant(v: number): { distortion: DistortionType | 'none'; level: number } {
  if (v === 0) return { distortion: 'none', level: 0 };
  const t = Math.floor((v - 1) / LEVELS);
  return { distortion: DISTORTION_TYPES[t]!, level: ((v - 1) % LEVELS) + 1 };
}

/** Generate the images and records in memory-light order (one scene at a time), calling `emit` per image. */
export async function generateDefault(
  opts: Omit<MakeDefaultOptions, 'out'>,
  emit: (name: string, img: RgbImage, rec: DefaultRecord) => Promise<void>,
): Promise<DefaultRecord[]> {
  const size = opts.size ?? DEFAULT_SIZE;
  const seed = opts.seed ?? DEFAULT_SEED;
  const width = opts.width ?? DEFAULT_WIDTH;
  const height = opts.height ?? DEFAULT_HEIGHT;
  const records: DefaultRecord[] = [];
  let pristine: RgbImage | undefined;
  for (let i = 0; i < size; i++) {
    const k = Math.floor(i / VARIANTS_PER_SCENE);
    const v = i % VARIANTS_PER_SCENE;
    const style = STYLE_CYCLE[k % STYLE_CYCLE.length]!;
    const s = sceneSeed(seed, k);
    if (v === 0) pristine = renderScene(style, width, height, s);
    const { distortion, level } = variant(v);
    const img = distortion === 'none' ? pristine! : await distort(pristine!, distortion, level, (s ^ Math.imul(v, 0x27d4eb2d)) >>> 0);
    const score = distortion === 'none' ? 1 : ssim(pristine!, img);
    const name = `images/s${String(k).padStart(4, '0')}_${distortion === 'none' ? 'ref' : `${distortion}${level}`}.png`;
    const rec: DefaultRecord = {
      path: name,
      mos: Number(ssimToMos(score).toFixed(4)),
      ssim: Number(score.toFixed(6)),
      scene: k,
      style,
      distortion,
      level,
      parameter: distortion === 'none' ? null : LEVEL_PARAMS[distortion][level - 1]!,
    };
    await emit(name, img, rec);
    records.push(rec);
    opts.onProgress?.(i + 1, size);
  }
  return records;
}

/** Remove temporary folders of `out` left by runs that were killed (their process is gone). */
function sweepStaleTempDirs(out: string): void {
  const re = tempNamePattern(out);
  for (const name of readdirSync(path.dirname(out))) {
    const m = re.exec(name);
    if (!m || Number(m[1]) === process.pid) continue;
    try {
      process.kill(Number(m[1]), 0);
      continue; // alive (or someone else's): leave it
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EPERM') continue;
    }
    rmSync(path.join(path.dirname(out), name), { recursive: true, force: true });
  }
}

function concurrentWriter(outText: string): PathError {
  return new PathError('output-exists', `--out '${outText}' was filled by another run while this one worked; give a new or empty folder`);
}

/**
 * Rename the finished temporary folder to `out`. Another run into the same folder may have
 * finished first (both checked that `out` was new or empty): then `out` is not empty any more and
 * this run refuses with exit 1 (its temporary folder is removed by the caller), never an
 * internal error.
 */
function publish(tmp: string, out: string, outText: string): void {
  try {
    if (existsSync(out)) rmdirSync(out); // empty when checked; ENOTEMPTY when another run finished first
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOTEMPTY' || code === 'EEXIST') throw concurrentWriter(outText);
    if (code === 'ENOTDIR') throw new PathError('output-exists', `--out '${outText}' became a file while this run worked; give a new folder`);
    if (code !== 'ENOENT') throw e;
  }
  try {
    renameSync(tmp, out);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOTEMPTY' || code === 'EEXIST') throw concurrentWriter(outText);
    if (code === 'ENOTDIR') throw new PathError('output-exists', `--out '${outText}' became a file while this run worked; give a new folder`);
    throw e;
  }
}

/**
 * Write the dataset into `out`, which must not exist or be empty. Everything is written into a
 * temporary folder beside it, which is renamed into place at the end: an interrupted run leaves
 * no partial dataset.
 */
export async function makeDefaultDataset(opts: MakeDefaultOptions): Promise<MakeDefaultReport> {
  const size = opts.size ?? DEFAULT_SIZE;
  if (!(Number.isInteger(size) && size >= 1 && size <= MAX_DEFAULT_SIZE)) throw new UsageError(`--size must be an integer from 1 to ${MAX_DEFAULT_SIZE}; got ${size}`);
  const seedOpt = opts.seed ?? DEFAULT_SEED;
  if (!(Number.isInteger(seedOpt) && seedOpt >= 0 && seedOpt <= 0xffffffff)) throw new UsageError(`--seed must be an integer from 0 to 4294967295; got ${seedOpt}`);
  const out = path.resolve(opts.out);
  if (existsSync(out)) {
    if (!statSync(out).isDirectory()) throw new PathError('output-exists', `--out '${opts.out}' is a file; give a new folder`);
    if (readdirSync(out).length > 0) throw new PathError('output-exists', `--out '${opts.out}' is not empty; give a new or empty folder`);
  }
  const parent = path.dirname(out);
  if (!existsSync(parent)) throw new PathError('missing-parent', `the folder '${parent}' for --out does not exist`);
  sweepStaleTempDirs(out);
  const tmp = tempPathFor(out);
  mkdirSync(path.join(tmp, 'images'), { recursive: true });
  try {
    const seed = opts.seed ?? DEFAULT_SEED;
    const width = opts.width ?? DEFAULT_WIDTH;
    const height = opts.height ?? DEFAULT_HEIGHT;
    const records = await generateDefault(opts, async (name, img) => {
      const png = await encodePng(img);
      writeFileAtomic(path.join(tmp, name), (w) => w.write(png));
    });
    const header = ['path', 'mos', 'ssim', 'scene', 'style', 'distortion', 'level', 'parameter'];
    const rows = records.map((r) => [r.path, r.mos, r.ssim, r.scene, r.style, r.distortion, r.level, r.parameter ?? '']);
    const csv = new TextEncoder().encode(formatCsv([header, ...rows]));
    writeFileAtomic(path.join(tmp, GENERIC_CSV), (w) => w.write(csv));
    const manifest = {
      schema: 'iqa-surgeon/default-dataset@1',
      generatorVersion: GENERATOR_VERSION,
      seed,
      size: records.length,
      width,
      height,
      mosMapping: 'mos = 1 + 4 * clamp(SSIM, 0, 1); SSIM of Wang et al. 2004 on luma against the pristine scene',
      distortions: LEVEL_PARAMS,
      libraries: imageLibraryVersions(),
      note: 'synthetic: scores are a full-reference metric, not human opinion; see docs/DATA.md',
    };
    const mj = new TextEncoder().encode(`${JSON.stringify(manifest, null, 2)}\n`);
    writeFileAtomic(path.join(tmp, 'manifest.json'), (w) => w.write(mj));
    publish(tmp, out, opts.out);
    const m = records.map((r) => r.mos);
    return {
      schema: 'iqa-surgeon/dataset-make-default@1',
      out,
      csv: path.join(out, GENERIC_CSV),
      images: records.length,
      scenes: Math.ceil(records.length / VARIANTS_PER_SCENE),
      seed,
      width,
      height,
      mos: { min: m.reduce((a, b) => Math.min(a, b), Infinity), max: m.reduce((a, b) => Math.max(a, b), -Infinity), mean: Number((m.reduce((a, b) => a + b, 0) / m.length).toFixed(4)) },
    };
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
}
