/**
 * Bounds of every numeric RobustBlock / splice option, and of the block a model's geometry asks
 * for. One function checks the options whether they come from the command line or from a patch
 * file (`apply` with a splice step), so a hostile patch cannot ask for 10^8 Newton-Schulz
 * iterations, an alpha of 1e308 (whose derived iteration count is infinite), a 100000 x 100000
 * square or a 99999 x 99999 kernel. Each refusal is one line naming the option, its bound and the
 * value. docs/CLI.md lists the same table.
 */
import { UsageError, UserError } from '../../errors.js';
import { currentLimits, LIMIT_FLAGS } from '../../onnx/model-io.js';
import { rfftBins } from './dft.js';

export interface NumericBound {
  /** Option key (library and patch files) and command-line flag. */
  key: string;
  flag: string;
  integer: boolean;
  min: number;
  max: number;
  /** true: min itself is excluded. */
  minExclusive?: boolean;
  /** Extra condition, with the words that describe it. */
  extra?: { test: (v: number) => boolean; words: string };
  /** A string value also accepted (alpha: 'norm'). */
  word?: string;
}

/** Most Newton-Schulz iterations (explicit or derived from alpha); 30 reach float64 accuracy from any start the bound below allows. */
export const MAX_NS_ITERATIONS = 100;
/** Largest |alpha| (alpha scales the normalised kernel spectrum; the paper uses 1 and ||Wf||_F). */
export const MAX_ALPHA = 1e6;
/** Largest side of the pooled square (explicit --square, or min(H, W) at the edge). */
export const MAX_SQUARE = 4096;
/** Largest orthogonal-conv kernel. */
export const MAX_ORTH_KERNEL = 63;
/** Largest H or W at the splice edge. */
export const MAX_EDGE_SIDE = 16384;
/** Most multiply-adds the Cayley kernel spectrum may take (n * m * C * Cmid * k^2): about 20 s of JavaScript, 6 times the paper's position (285 M spectrum entries, k = 3). */
export const MAX_SPECTRUM_WORK = 2 ** 34;

export const SPLICE_NUMERIC_BOUNDS: readonly NumericBound[] = [
  { key: 'nsIterations', flag: '--ns-iterations', integer: true, min: 1, max: MAX_NS_ITERATIONS },
  { key: 'reduce', flag: '--reduce', integer: false, min: 0, minExclusive: true, max: 1 },
  { key: 'reduceKernel', flag: '--kernel', integer: true, min: 1, max: 3, extra: { test: (v) => v === 1 || v === 3, words: '1 or 3' } },
  { key: 'orthKernel', flag: '--orth-kernel', integer: true, min: 1, max: MAX_ORTH_KERNEL, extra: { test: (v) => v % 2 === 1, words: 'odd' } },
  { key: 'square', flag: '--square', integer: true, min: 1, max: MAX_SQUARE },
  { key: 'alpha', flag: '--alpha', integer: false, min: -MAX_ALPHA, max: MAX_ALPHA, word: 'norm' },
  { key: 'seed', flag: '--seed', integer: true, min: 0, max: 2 ** 32 - 1 },
];

/** How option names are written in messages: command-line flags or patch-file keys. */
export type OptionNaming = 'cli' | 'patch';

function describe(b: NumericBound): string {
  const range = `${b.integer ? 'an integer' : 'a number'} ${b.minExclusive ? `> ${b.min} and <=` : `from ${b.min} to`} ${b.max}`;
  return `${range}${b.extra ? ` (${b.extra.words})` : ''}${b.word ? ` or '${b.word}'` : ''}`;
}

function show(v: unknown): string {
  if (typeof v === 'string') return `'${v.length > 40 ? `${v.slice(0, 40)}…` : v}'`;
  return String(v);
}

/** Check one value against its bound; throws a one-line UsageError naming the option, the bound and the value. */
export function checkNumericOption(b: NumericBound, value: unknown, naming: OptionNaming = 'cli', where = ''): void {
  if (b.word !== undefined && value === b.word) return;
  const name = naming === 'cli' ? b.flag : `'${b.key}'`;
  const ok =
    typeof value === 'number' &&
    Number.isFinite(value) &&
    (!b.integer || Number.isInteger(value)) &&
    (b.minExclusive ? value > b.min : value >= b.min) &&
    value <= b.max &&
    (!b.extra || b.extra.test(value));
  if (!ok) throw new UsageError(`${where}${name} must be ${describe(b)}; got ${show(value)}`);
}

/**
 * The one validation of splice options (CLI and patch files): every numeric option present in
 * `opts` is checked against SPLICE_NUMERIC_BOUNDS.
 */
export function checkSpliceOptionBounds(opts: Record<string, unknown>, naming: OptionNaming = 'cli', where = ''): void {
  for (const b of SPLICE_NUMERIC_BOUNDS) {
    const v = opts[b.key];
    if (v !== undefined) checkNumericOption(b, v, naming, where);
  }
}

/** Refuse a derived Newton-Schulz iteration count over the bound (alpha too large for the kernel). */
export function checkNsIterations(iterations: number, alpha: number): void {
  if (!(Number.isInteger(iterations) && iterations >= 1 && iterations <= MAX_NS_ITERATIONS)) {
    throw new UsageError(`alpha ${alpha} needs ${iterations} Newton-Schulz iterations, over the bound of ${MAX_NS_ITERATIONS}; use a smaller --alpha or --inverse com.microsoft`);
  }
}

export interface BlockGeometryCheck {
  c: number;
  h: number;
  w: number;
  /** Side of the pooled square and of the orthogonal conv's grid. */
  s: number;
  n: number;
  cmid: number;
  k: number;
  reduceKernel: number;
  orth: 'cayley' | 'aol';
  restoreSize: boolean;
}

/**
 * Refuse a block whose arrays or work are beyond the bounds before anything is allocated: the
 * edge's H and W, the pooled square, every constant the block builds (pool and restore matrices,
 * weights, the Cayley spectrum n x m x C x Cmid) against --max-tensor-elements, and the kernel
 * spectrum's multiply-adds.
 */
export function checkBlockGeometry(g: BlockGeometryCheck): void {
  for (const [side, v] of [['H', g.h], ['W', g.w]] as const) {
    if (v > MAX_EDGE_SIDE) {
      throw new UserError('splice-too-large', `the edge's ${side} is ${v}, over the bound of ${MAX_EDGE_SIDE} for a RobustBlock; splice where the map is smaller`);
    }
  }
  if (g.s > MAX_SQUARE) {
    throw new UserError('splice-too-large', `the pooled square would be ${g.s}x${g.s} (min(H, W)), over the bound of ${MAX_SQUARE}; give --square`);
  }
  const max = currentLimits().maxTensorElements;
  const m = rfftBins(g.n);
  const arrays: [string, number][] = [
    ['the pool matrix H x s', g.h * g.s],
    ['the pool matrix W x s', g.w * g.s],
    ['the reduce-conv weight', g.cmid * g.c * g.reduceKernel * g.reduceKernel],
    ['the orthogonal-conv weight', g.c * g.cmid * g.k * g.k],
  ];
  if (g.restoreSize) arrays.push(['the restore matrix', Math.max(g.h, g.w) * g.n]);
  if (g.orth === 'cayley') arrays.push(['the Cayley spectrum n x m x C x Cmid', g.n * m * g.c * g.cmid]);
  for (const [what, count] of arrays) {
    if (!(count <= max)) {
      throw new UserError('limit-tensor-elements', `${what} of this RobustBlock would have ${count} elements, over the limit of ${max} (raise it with ${LIMIT_FLAGS.maxTensorElements})`);
    }
  }
  if (g.orth === 'cayley') {
    const work = g.n * m * g.c * g.cmid * g.k * g.k;
    if (work > MAX_SPECTRUM_WORK) {
      throw new UserError(
        'splice-too-large',
        `the Cayley kernel spectrum of a ${g.k}x${g.k} kernel on [${g.c},${g.n},${g.n}] needs ${work.toExponential(2)} multiply-adds, over the bound of ${MAX_SPECTRUM_WORK.toExponential(2)}; use a smaller --orth-kernel or --square`,
      );
    }
  }
}
