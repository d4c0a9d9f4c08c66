/**
 * Seeded pseudo-random numbers for the fuzzer (mulberry32, as test/helpers/seeded-random.ts): a
 * case is fully determined by (campaign seed, case index), so any case can be replayed alone.
 */
export class Rng {
  private a: number;
  constructor(seed: number) {
    this.a = seed >>> 0;
  }

  /** The generator for case `index` of a campaign seeded with `seed`. */
  static forCase(seed: number, index: number): Rng {
    return new Rng((Math.imul(seed >>> 0, 0x9e3779b1) ^ Math.imul(index + 1, 0x85ebca6b)) >>> 0);
  }

  /** Uniform in [0, 1). */
  next(): number {
    this.a = (this.a + 0x6d2b79f5) >>> 0;
    let t = this.a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** Integer in [lo, hi]. */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('internal: pick from an empty list');
    return items[this.int(items.length)]!;
  }

  /** Pick by weight (entries without a weight count 1). */
  weighted<T extends { weight?: number }>(items: readonly T[]): T {
    const total = items.reduce((s, x) => s + (x.weight ?? 1), 0);
    let r = this.next() * total;
    for (const x of items) {
      r -= x.weight ?? 1;
      if (r < 0) return x;
    }
    return items[items.length - 1]!;
  }

  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = this.int(256);
    return out;
  }
}
