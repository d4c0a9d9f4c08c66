/**
 * Which TensorFlow.js runs the mirror. In order: `@tensorflow/tfjs-node-gpu` (CUDA), then
 * `@tensorflow/tfjs-node` (native CPU), each only when it imports and initialises here; otherwise
 * `@tensorflow/tfjs` with its pure-JS `cpu` backend, where the toolkit registers its own conv
 * kernels (im2col + blocked GEMM for Conv2D, Conv2DBackpropInput and Conv2DBackpropFilter; the
 * stock filter gradient is hundreds of times slower) and MaxPoolGrad.
 * `--backend` forces one; forcing one that cannot load is an error naming why.
 */
import { createRequire } from 'node:module';
import { UsageError, UserError } from '../errors.js';
import type { TF } from '../ops/types.js';

export type BackendChoice = 'auto' | 'tfjs-node-gpu' | 'tfjs-node' | 'cpu';
export const BACKEND_CHOICES: readonly BackendChoice[] = ['auto', 'tfjs-node-gpu', 'tfjs-node', 'cpu'];

export interface LoadedBackend {
  tf: TF;
  /** The package that provides it. */
  choice: Exclude<BackendChoice, 'auto'>;
  /** tfjs' own backend name ('tensorflow' for the native packages, 'cpu'). */
  tfBackend: string;
  /** One line for users: what runs, and why the faster ones did not. */
  description: string;
}

let loaded: LoadedBackend | undefined;
const require = createRequire(import.meta.url);

async function tryNative(pkg: '@tensorflow/tfjs-node-gpu' | '@tensorflow/tfjs-node'): Promise<{ tf?: TF; why?: string }> {
  try {
    require.resolve(pkg);
  } catch {
    return { why: `${pkg} is not installed` };
  }
  try {
    const mod = (await import(pkg)) as unknown as TF & { default?: TF };
    const tf = (mod.default ?? mod) as TF;
    await tf.setBackend('tensorflow');
    await tf.ready();
    // a tiny op proves the native binding works
    tf.tidy(() => tf.add(tf.scalar(1), tf.scalar(1)).dataSync());
    return { tf };
  } catch (e) {
    return { why: `${pkg} does not load (${String((e as Error)?.message ?? e).split('\n')[0]!.slice(0, 160)})` };
  }
}

async function loadCpu(): Promise<TF> {
  // the @tensorflow/tfjs package: core, the cpu backend, and (only there) the gradient registry
  const mod = (await import('@tensorflow/tfjs')) as unknown as TF & { default?: TF };
  const tf = (mod.default ?? mod) as TF;
  const ok = await tf.setBackend('cpu');
  if (!ok) throw new UserError('backend', 'the tfjs cpu backend did not initialise');
  await tf.ready();
  // the cpu backend greets Node users with a banner on first use; the toolkit prints its own line
  (tf.backend() as unknown as { firstUse?: boolean }).firstUse = false;
  // the stock conv kernels are naive loops; the toolkit's are im2col + blocked GEMMs (NHWC and NCHW)
  const { registerFastConvGradKernels } = await import('./kernels/conv2d-backprop-filter.js');
  registerFastConvGradKernels();
  const { registerFastConvKernels } = await import('./kernels/conv2d.js');
  registerFastConvKernels();
  const { registerFastMaxPoolGradKernel } = await import('./kernels/max-pool-grad.js');
  registerFastMaxPoolGradKernel();
  const { registerFastBinaryKernels } = await import('./kernels/broadcast-binary.js');
  registerFastBinaryKernels();
  return tf;
}

/** Gradients every backend needs and tfjs lacks (zero gradients of comparisons and logical ops). */
async function completeGradients(tf: TF): Promise<void> {
  const { ensureZeroGradients } = await import('../ops/elementwise.js');
  ensureZeroGradients(tf);
}

/**
 * Load (once per process) the backend asked for. A second call asking for a different backend is
 * an error: tfjs holds one global engine.
 */
export async function loadBackend(choice: BackendChoice = 'auto'): Promise<LoadedBackend> {
  if (!BACKEND_CHOICES.includes(choice)) throw new UsageError(`unknown backend '${choice}' (choose one of ${BACKEND_CHOICES.join(', ')})`);
  if (loaded) {
    if (choice !== 'auto' && choice !== loaded.choice) {
      throw new UsageError(`the ${loaded.choice} backend is already loaded in this process; cannot switch to ${choice}`);
    }
    return loaded;
  }
  const skipped: string[] = [];
  for (const pkg of ['tfjs-node-gpu', 'tfjs-node'] as const) {
    if (choice !== 'auto' && choice !== pkg) continue;
    const r = await tryNative(`@tensorflow/${pkg}`);
    if (r.tf) {
      await completeGradients(r.tf);
      loaded = { tf: r.tf, choice: pkg, tfBackend: r.tf.getBackend(), description: `@tensorflow/${pkg} (native TensorFlow${pkg === 'tfjs-node-gpu' ? ', CUDA' : ''})` };
      return loaded;
    }
    if (choice === pkg) throw new UserError('backend', `--backend ${pkg}: ${r.why}`);
    skipped.push(r.why!);
  }
  const tf = await loadCpu();
  await completeGradients(tf);
  const why = skipped.length ? `; ${skipped.join('; ')}` : '';
  loaded = { tf, choice: 'cpu', tfBackend: 'cpu', description: `@tensorflow/tfjs cpu backend (pure JS; the toolkit's fast conv, max-pool-gradient and broadcasting arithmetic kernels registered)${why}` };
  return loaded;
}

/** The backend loaded so far in this process, if any. */
export function currentBackend(): LoadedBackend | undefined {
  return loaded;
}
