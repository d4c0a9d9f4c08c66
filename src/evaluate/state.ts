/**
 * Resumable evaluation: the scores of every finished unit (one batch of images under one attack
 * run and seed, for one model) are kept in a state file beside the report, rewritten atomically
 * after each unit, so an interrupted `evaluate` continues from the images already scored.
 *
 * The state is keyed by everything the scores depend on (model files by content, preprocessing,
 * score choice, images by content, attacks, eps, step, seeds, direction, random start, quantize,
 * engine, UAP training set and epochs, stAdv iterations): a changed command never reuses old scores;
 * it is refused naming the parameters that changed, unless the caller asks for a fresh start.
 * Metrics (ranges, R-score variant, bootstrap) are computed from the saved scores and are not part
 * of the key. UAP perturbations are saved as float32 `.npy` files in the state folder.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { decodeNpy, encodeNpy } from '../attacks/npy.js';
import type { Perturbation } from '../attacks/uap.js';
import { UserError } from '../errors.js';
import { writeFileAtomic } from '../util/atomic-write.js';

export const STATE_SCHEMA = 'evaluate-state@1';
/** The state file and folder inside a report folder. */
export const STATE_FILE = 'evaluate-state.json';
export const STATE_DIR = 'evaluate-state';

/** What one finished unit produced. */
export interface UnitRecord {
  /** ONNX Runtime scores of the batch's attacked images, in image order. */
  scores: number[];
  /** Largest L-infinity change in the batch, on [0,1] pixels. */
  linf: number;
  /** stAdv: sum over the batch's images of the mean flow magnitude. */
  flowSum?: number;
}

interface StateFile {
  schema: typeof STATE_SCHEMA;
  key: string;
  params: Record<string, unknown>;
  units: Record<string, UnitRecord>;
}

/** sha256 of a file's bytes (models, images: a file changed in place changes the key). */
export function fileDigest(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

function digest(value: unknown): string {
  return createHash('sha256').update(JSON.stringify(value)).digest('hex');
}

export class EvaluationState {
  private readonly units: Record<string, UnitRecord>;
  private readonly file: string;
  private readonly dir: string;
  /** Units found in the state file when it was opened. */
  readonly resumed: number;

  private constructor(
    folder: string,
    private readonly key: string,
    private readonly params: Record<string, unknown>,
    units: Record<string, UnitRecord>,
  ) {
    this.units = units;
    this.file = path.join(folder, STATE_FILE);
    this.dir = path.join(folder, STATE_DIR);
    this.resumed = Object.keys(units).length;
  }

  /**
   * Open (or start) the state of a run in `folder`. `params` must be plain JSON and hold everything
   * the scores depend on. A state of different parameters is refused naming what changed, unless
   * `fresh` (which also discards a matching state).
   */
  static open(folder: string, params: Record<string, unknown>, opts: { fresh?: boolean } = {}): EvaluationState {
    const key = digest(params);
    const file = path.join(folder, STATE_FILE);
    mkdirSync(folder, { recursive: true });
    if (opts.fresh) {
      rmSync(file, { force: true });
      rmSync(path.join(folder, STATE_DIR), { recursive: true, force: true });
    }
    if (!existsSync(file)) return new EvaluationState(folder, key, params, {});
    let saved: StateFile;
    try {
      saved = JSON.parse(readFileSync(file, 'utf8')) as StateFile;
    } catch {
      throw new UserError('state', `${file} is not a readable evaluation state: remove it or pass --fresh to start over`);
    }
    if (saved.schema !== STATE_SCHEMA || typeof saved.units !== 'object' || saved.units === null) throw new UserError('state', `${file} is not an ${STATE_SCHEMA} file: remove it or pass --fresh to start over`);
    if (saved.key !== key) {
      const old = saved.params ?? {};
      const changed = [...new Set([...Object.keys(old), ...Object.keys(params)])].filter((k) => JSON.stringify(old[k]) !== JSON.stringify(params[k]));
      throw new UserError('state', `${folder} holds the saved scores of a different evaluation (changed: ${changed.join(', ') || 'parameters'}): use another --report folder, or pass --fresh to discard them`);
    }
    return new EvaluationState(folder, key, params, saved.units);
  }

  get(unit: string): UnitRecord | undefined {
    return this.units[unit];
  }

  /** Record a finished unit and rewrite the state file atomically. */
  put(unit: string, record: UnitRecord): void {
    this.units[unit] = record;
    const body: StateFile = { schema: STATE_SCHEMA, key: this.key, params: this.params, units: this.units };
    const bytes = Buffer.from(JSON.stringify(body), 'utf8');
    writeFileAtomic(this.file, (w) => w.write(bytes));
  }

  private uapFile(name: string): string {
    return path.join(this.dir, `${name.replace(/[^A-Za-z0-9._-]+/g, '_')}.npy`);
  }

  /** A saved UAP, or undefined. */
  loadPerturbation(name: string): Perturbation | undefined {
    const f = this.uapFile(name);
    if (!existsSync(f)) return undefined;
    const { dims, data } = decodeNpy(readFileSync(f), f);
    if (dims.length !== 3 || dims[0] !== 3) throw new UserError('state', `${f}: a saved perturbation must be [3,h,w] (got [${dims.join(',')}]): pass --fresh to start over`);
    return { dims: [3, dims[1]!, dims[2]!], data };
  }

  savePerturbation(name: string, u: Perturbation): void {
    mkdirSync(this.dir, { recursive: true });
    const bytes = encodeNpy(u.dims, u.data);
    writeFileAtomic(this.uapFile(name), (w) => w.write(bytes));
  }
}
