/**
 * Fine-tuning checkpoints: after each epoch, the trained parameters, the optimiser's moments, the
 * best epoch so far and the history, in `<dir>/checkpoint.json` (written last, atomically) and a
 * binary state file it names. A run killed at any moment leaves the previous checkpoint intact;
 * `--resume` continues from the last one and ends bit-identical to an uninterrupted run.
 */
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { UserError } from '../errors.js';
import { writeFileAtomic } from '../util/atomic-write.js';
import { readRegularFile } from '../util/safe-read.js';
import type { EpochSummary } from './finetune.js';

export interface Checkpoint {
  epoch: number;
  seed: number;
  history: EpochSummary[];
  best: { epoch: number; srocc: number; params: Map<string, Float32Array> };
  params: Map<string, Float32Array>;
  adam: Record<string, { t: number; m: Float64Array; v: Float64Array }>;
}

interface Manifest {
  format: 'iqa-surgeon/checkpoint@1';
  epoch: number;
  seed: number;
  history: EpochSummary[];
  best: { epoch: number; srocc: number };
  state: string;
  entries: { name: string; length: number; t: number }[];
}

const MANIFEST = 'checkpoint.json';

export function writeCheckpoint(dir: string, c: Checkpoint): void {
  mkdirSync(dir, { recursive: true });
  const names = [...c.params.keys()];
  const entries = names.map((name) => ({ name, length: c.params.get(name)!.length, t: c.adam[name]!.t }));
  const bytes = entries.reduce((s, e) => s + e.length * (4 + 8 + 8 + 4), 0);
  const buf = Buffer.alloc(bytes);
  let off = 0;
  const put = (a: Float32Array | Float64Array): void => {
    const b = Buffer.from(a.buffer, a.byteOffset, a.byteLength);
    b.copy(buf, off);
    off += b.length;
  };
  for (const n of names) {
    put(c.params.get(n)!);
    put(c.adam[n]!.m);
    put(c.adam[n]!.v);
    put(c.best.params.get(n) ?? c.params.get(n)!);
  }
  const state = `state-${c.epoch}.bin`;
  writeFileAtomic(path.join(dir, state), (w) => w.write(buf));
  const manifest: Manifest = { format: 'iqa-surgeon/checkpoint@1', epoch: c.epoch, seed: c.seed, history: c.history, best: { epoch: c.best.epoch, srocc: c.best.srocc }, state, entries };
  const text = Buffer.from(JSON.stringify(manifest, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v), 1) + '\n');
  writeFileAtomic(path.join(dir, MANIFEST), (w) => w.write(text));
  for (const f of readdirSync(dir)) if (/^state-\d+\.bin$/.test(f) && f !== state) rmSync(path.join(dir, f), { force: true });
}

/** The last checkpoint in `dir`, or undefined when there is none. */
export function readCheckpoint(dir: string): Checkpoint | undefined {
  if (!existsSync(path.join(dir, MANIFEST))) return undefined;
  let manifest: Manifest;
  try {
    manifest = JSON.parse(readRegularFile(path.join(dir, MANIFEST), { what: 'checkpoint', maxBytes: 64 << 20 }).toString('utf8')) as Manifest;
  } catch (e) {
    if (e instanceof UserError) throw e;
    throw new UserError('checkpoint', `checkpoint '${path.join(dir, MANIFEST)}' is not valid JSON`);
  }
  if (manifest.format !== 'iqa-surgeon/checkpoint@1' || !/^state-\d+\.bin$/.test(manifest.state)) throw new UserError('checkpoint', `'${path.join(dir, MANIFEST)}' is not an iqa-surgeon checkpoint`);
  const buf = readRegularFile(path.join(dir, manifest.state), { what: 'checkpoint state', maxBytes: 2 ** 34 });
  const expected = manifest.entries.reduce((s, e) => s + e.length * 24, 0);
  if (buf.length !== expected) throw new UserError('checkpoint', `checkpoint state '${manifest.state}' has ${buf.length} bytes, the manifest says ${expected}`);
  let off = 0;
  const take32 = (n: number): Float32Array => {
    const a = new Float32Array(n);
    Buffer.from(a.buffer).set(buf.subarray(off, off + n * 4));
    off += n * 4;
    return a;
  };
  const take64 = (n: number): Float64Array => {
    const a = new Float64Array(n);
    Buffer.from(a.buffer).set(buf.subarray(off, off + n * 8));
    off += n * 8;
    return a;
  };
  const params = new Map<string, Float32Array>();
  const bestParams = new Map<string, Float32Array>();
  const adam: Checkpoint['adam'] = {};
  for (const e of manifest.entries) {
    params.set(e.name, take32(e.length));
    adam[e.name] = { t: e.t, m: take64(e.length), v: take64(e.length) };
    bestParams.set(e.name, take32(e.length));
  }
  const srocc = typeof manifest.best.srocc === 'number' ? manifest.best.srocc : Number(manifest.best.srocc);
  return { epoch: manifest.epoch, seed: manifest.seed, history: manifest.history, best: { epoch: manifest.best.epoch, srocc, params: bestParams }, params, adam };
}
