/** RobustBlock options, their defaults, and the reference code's choices (`compat: 'paper-code'`). */
import { UsageError } from '../../errors.js';
import { checkSpliceOptionBounds, type OptionNaming } from './bounds.js';

export interface RobustBlockOptions {
  /** Orthogonal conv: Fourier-domain Cayley (default) or AOL (a rescaled plain Conv). */
  orth: 'cayley' | 'aol';
  /** Channels of the reduce conv as a fraction of the input channels (default 0.5). */
  reduce: number;
  /** Kernel of the reduce conv: 1 (default) or 3 (unpadded: shrinks the map by 2). */
  reduceKernel: 1 | 3;
  /** Kernel of the orthogonal conv (default 3). */
  orthKernel: number;
  /** Pool to square: adaptive average (default) or the reference code's max pool. */
  pool: 'avg' | 'max';
  /** Pool to this fixed size instead of min(H, W). */
  square?: number;
  /** Initial alpha of the Cayley conv relative to ||Wf||_F: 'norm' (alpha = ||Wf||_F, default) or a number. */
  alpha: 'norm' | number;
  /** Cayley: compute Q in the graph from W and alpha (default, trainable) or store Q precomputed. */
  form: 'parametric' | 'materialized';
  /** Cayley, parametric: how the graph inverts I + A: an exact block inverse in standard ops (default), Newton-Schulz iterations, or com.microsoft Inverse. */
  inverse: 'schur' | 'newton-schulz' | 'com.microsoft';
  /** Cayley, parametric, Newton-Schulz: iterations (default: enough for any kernel at the initial alpha). */
  nsIterations?: number;
  /** Resize the block's square output back to the edge's H x W (bilinear), for models whose later ops need the original size. */
  restoreSize: boolean;
  /** Seed of the new weights. */
  seed: number;
  /** Name prefix of the block's nodes and initializers. */
  prefix: string;
}

export const DEFAULT_BLOCK_OPTIONS: RobustBlockOptions = {
  orth: 'cayley',
  reduce: 0.5,
  reduceKernel: 1,
  orthKernel: 3,
  pool: 'avg',
  alpha: 'norm',
  form: 'parametric',
  inverse: 'schur',
  restoreSize: false,
  seed: 0,
  prefix: 'robust_block',
};

/** The reference code's choices: max pool, 3x3 unpadded reduce conv, alpha = 1. */
export const PAPER_CODE: Partial<RobustBlockOptions> = { pool: 'max', reduceKernel: 3, alpha: 1 };

/** Options with defaults filled in, every numeric option checked against its bound (see bounds.ts). */
export function resolveBlockOptions(opts: Partial<RobustBlockOptions> & { compat?: 'paper-code' } = {}, naming: OptionNaming = 'cli'): RobustBlockOptions {
  const { compat, ...rest } = opts;
  const defined = Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined)) as Partial<RobustBlockOptions>;
  // an iteration count asks for Newton-Schulz (files and scripts from before the exact inverse)
  if (defined.nsIterations !== undefined && defined.inverse === undefined) defined.inverse = 'newton-schulz';
  const o: RobustBlockOptions = { ...DEFAULT_BLOCK_OPTIONS, ...(compat === 'paper-code' ? PAPER_CODE : {}), ...defined };
  checkSpliceOptionBounds(o as unknown as Record<string, unknown>, naming);
  if (o.nsIterations !== undefined && o.inverse !== 'newton-schulz') {
    throw new UsageError(`${naming === 'cli' ? '--ns-iterations' : "'nsIterations'"} applies to the Newton-Schulz inverse only, not to ${naming === 'cli' ? '--inverse' : "'inverse'"} ${o.inverse}`);
  }
  return o;
}
