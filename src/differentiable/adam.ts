/**
 * Adam (Kingma & Ba 2015) on host float32 arrays, as torch.optim.Adam computes it (bias-corrected
 * moments, eps added to the square root). Engine-neutral: fine-tuning and attacks step parameters
 * or perturbations they hold as typed arrays, whatever engine produced the gradients.
 */
export interface AdamOptions {
  lr: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
}

export class Adam {
  private readonly m: Float64Array;
  private readonly v: Float64Array;
  private t = 0;
  readonly lr: number;
  private readonly beta1: number;
  private readonly beta2: number;
  private readonly eps: number;

  constructor(size: number, opts: AdamOptions) {
    if (!(opts.lr > 0 && Number.isFinite(opts.lr))) throw new RangeError(`Adam: the learning rate must be a positive finite number (got ${opts.lr})`);
    this.m = new Float64Array(size);
    this.v = new Float64Array(size);
    this.lr = opts.lr;
    this.beta1 = opts.beta1 ?? 0.9;
    this.beta2 = opts.beta2 ?? 0.999;
    this.eps = opts.eps ?? 1e-8;
  }

  get steps(): number {
    return this.t;
  }

  /** The moments and step count (for checkpoints; restoring them continues bit-identically). */
  state(): { t: number; m: Float64Array; v: Float64Array } {
    return { t: this.t, m: Float64Array.from(this.m), v: Float64Array.from(this.v) };
  }

  restore(s: { t: number; m: ArrayLike<number>; v: ArrayLike<number> }): void {
    if (s.m.length !== this.m.length || s.v.length !== this.v.length) throw new RangeError(`Adam: checkpoint state has ${s.m.length} values, the parameter ${this.m.length}`);
    this.t = s.t;
    this.m.set(s.m);
    this.v.set(s.v);
  }

  /** One descent step of `param` along `grad` (in place). */
  step(param: Float32Array, grad: ArrayLike<number>): void {
    if (param.length !== this.m.length || grad.length !== this.m.length) throw new RangeError(`Adam: sizes differ (state ${this.m.length}, param ${param.length}, grad ${grad.length})`);
    this.t++;
    const b1 = this.beta1;
    const b2 = this.beta2;
    const c1 = 1 - b1 ** this.t;
    const c2 = 1 - b2 ** this.t;
    for (let i = 0; i < param.length; i++) {
      const g = grad[i]!;
      this.m[i] = b1 * this.m[i]! + (1 - b1) * g;
      this.v[i] = b2 * this.v[i]! + (1 - b2) * g * g;
      param[i] = param[i]! - (this.lr * (this.m[i]! / c1)) / (Math.sqrt(this.v[i]! / c2) + this.eps);
    }
  }
}
