/**
 * The fuzzing harness's two tables, and the shapes of their rows:
 *
 * - an `InputKind` is a kind of file the toolkit reads (ONNX models today; images, dataset CSVs
 *   and patch files are one row each when their commands exist): where its seed files come from
 *   and the mutators that damage them;
 * - a `FuzzTarget` is a command that reads one kind of input: how to call it on a case's file,
 *   and what must hold after it succeeds.
 *
 * Adding a command is one `FuzzTarget` row in targets.ts; adding an input is one `InputKind` row in
 * inputs.ts (seeds plus mutators, most of which can be the generic byte mutators).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Rng } from './random.js';

export interface SeedInput {
  /** Short name for reports (file name). */
  id: string;
  /** Absolute path of the seed file. */
  file: string;
}

/** The files of `dir` ending in `ext`, sorted, as seeds (none if the folder is absent). */
export function filesIn(dir: string, ext: string): SeedInput[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith(ext))
    .sort()
    .map((f) => ({ id: f, file: path.join(dir, f) }));
}

export interface MutationContext {
  rng: Rng;
  /** A fresh empty folder for the case's files. */
  dir: string;
  seed: SeedInput;
  /** The seed's bytes (cached; never modify them in place). */
  seedBytes(): Uint8Array;
  /** The other seeds of the same kind (for splicing). */
  seeds: readonly SeedInput[];
}

export interface Mutation {
  /** The file to give the command. */
  file: string;
  /** One line saying what was done (for the failure report). */
  note: string;
}

export interface Mutator {
  id: string;
  /** Relative frequency (default 1). */
  weight?: number;
  apply(ctx: MutationContext): Mutation;
}

export interface InputKind {
  id: string;
  description: string;
  /** File extension cases are written with. */
  ext: string;
  seeds(): SeedInput[];
  mutators: Mutator[];
}

export interface FuzzTarget {
  /** Unique id, usually the command name plus a variant. */
  id: string;
  /** The InputKind it reads. */
  input: string;
  weight?: number;
  /**
   * Exit statuses a damaged input may end with (default 0 and 1). Commands that validate what
   * they produce add 3 ("a check ran and failed", e.g. a rewritten graph that does not validate).
   */
  exits?: number[];
  /** Time bound of one case (default: the campaign's); commands that run whole models take longer. */
  timeLimitMs?: number;
  /** CLI arguments (after the program name) for the case's input file; `dir` is the case folder. */
  argv(file: string, dir: string, rng: Rng): string[];
  /**
   * Commands that must succeed (exit 0) after the target did, e.g. loading what it wrote. A
   * command that succeeds must leave something usable behind.
   */
  after?(file: string, dir: string): string[][];
}

/** Seed bytes, read once per process. */
const cache = new Map<string, Uint8Array>();
export function readSeed(file: string): Uint8Array {
  let b = cache.get(file);
  if (!b) {
    b = new Uint8Array(readFileSync(file));
    cache.set(file, b);
  }
  return b;
}
