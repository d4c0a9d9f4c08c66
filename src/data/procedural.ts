/**
 * Procedural "natural-like" images, made from a seed alone (no downloads, no third-party pictures):
 *
 * - dead leaves: opaque disks with radii distributed as r^-3 between r_min and r_max, dropped one
 *   over another (the texture model that camera image-quality standards use for texture
 *   sharpness, e.g. ISO 19567-2 / IEEE P1858 CPIQ); it is scale-invariant, with occlusion edges and
 *   a 1/f-like spectrum, like natural scenes;
 * - gradient + edges: smooth two-colour gradients with a few hard-edged shapes filled with their
 *   own gradients (sky, walls, objects);
 * - mixed: a gradient "sky" above a slanted horizon and dead-leaves texture below it.
 *
 * Scenes are rendered at twice the size and averaged 2x2, so edges are anti-aliased.
 */
import type { RgbImage } from './image.js';
import { mulberry32 } from '../util/random.js';

export type SceneStyle = 'dead-leaves' | 'gradient-edges' | 'mixed';
export const SCENE_STYLES: readonly SceneStyle[] = ['dead-leaves', 'gradient-edges', 'mixed'];

type Rgb = [number, number, number];
type Rnd = () => number;

/** A plausible surface colour: a luminance with modest saturation. */
function randomColour(rnd: Rnd): Rgb {
  const l = 25 + 205 * rnd();
  const sat = 0.5 * rnd() * rnd();
  const hue = [rnd(), rnd(), rnd()];
  const m = (hue[0]! + hue[1]! + hue[2]!) / 3;
  return hue.map((h) => Math.min(255, Math.max(0, l * (1 + sat * 2 * (h - m) * 3)))) as Rgb;
}

class Canvas {
  readonly data: Float32Array;
  readonly covered: Uint8Array;
  uncovered: number;
  constructor(
    readonly width: number,
    readonly height: number,
  ) {
    this.data = new Float32Array(width * height * 3);
    this.covered = new Uint8Array(width * height);
    this.uncovered = width * height;
  }

  /** Paint pixel i unless already painted (front-to-back drawing). */
  paint(i: number, c: Rgb): void {
    if (this.covered[i]) return;
    this.covered[i] = 1;
    this.uncovered--;
    this.data[i * 3] = c[0];
    this.data[i * 3 + 1] = c[1];
    this.data[i * 3 + 2] = c[2];
  }

  /** Fill what is still unpainted with a linear gradient from c0 to c1 along direction angle. */
  gradientBehind(c0: Rgb, c1: Rgb, angle: number, mask?: (x: number, y: number) => boolean): void {
    const dx = Math.cos(angle);
    const dy = Math.sin(angle);
    const span = Math.abs(dx) * this.width + Math.abs(dy) * this.height;
    const off = Math.min(0, dx * this.width) + Math.min(0, dy * this.height);
    for (let y = 0; y < this.height; y++) {
      for (let x = 0; x < this.width; x++) {
        if (mask && !mask(x, y)) continue;
        const t = (x * dx + y * dy - off) / span;
        this.paint(y * this.width + x, [c0[0] + t * (c1[0] - c0[0]), c0[1] + t * (c1[1] - c0[1]), c0[2] + t * (c1[2] - c0[2])]);
      }
    }
  }

  /** Disk in front of what is not yet painted. */
  disk(cx: number, cy: number, r: number, c: Rgb, mask?: (x: number, y: number) => boolean): void {
    const x0 = Math.max(0, Math.floor(cx - r));
    const x1 = Math.min(this.width - 1, Math.ceil(cx + r));
    const y0 = Math.max(0, Math.floor(cy - r));
    const y1 = Math.min(this.height - 1, Math.ceil(cy + r));
    const r2 = r * r;
    for (let y = y0; y <= y1; y++) {
      for (let x = x0; x <= x1; x++) {
        if ((x + 0.5 - cx) ** 2 + (y + 0.5 - cy) ** 2 > r2) continue;
        if (mask && !mask(x, y)) continue;
        this.paint(y * this.width + x, c);
      }
    }
  }

  /** Average 2x2 blocks into 8-bit RGB. */
  downsample2(): RgbImage {
    const w = this.width >> 1;
    const h = this.height >> 1;
    const out = new Uint8Array(w * h * 3);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        for (let c = 0; c < 3; c++) {
          const at = (yy: number, xx: number) => this.data[(yy * this.width + xx) * 3 + c]!;
          const v = (at(2 * y, 2 * x) + at(2 * y, 2 * x + 1) + at(2 * y + 1, 2 * x) + at(2 * y + 1, 2 * x + 1)) / 4;
          out[(y * w + x) * 3 + c] = Math.min(255, Math.max(0, Math.round(v)));
        }
      }
    }
    return { width: w, height: h, data: out };
  }
}

/** Radius with density proportional to r^-3 on [rMin, rMax] (inverse CDF). */
function powerLawRadius(rnd: Rnd, rMin: number, rMax: number): number {
  const a = rMin ** -2;
  const b = rMax ** -2;
  return (a - rnd() * (a - b)) ** -0.5;
}

function deadLeaves(cv: Canvas, rnd: Rnd, rMin: number, rMax: number, maxDisks: number, mask?: (x: number, y: number) => boolean): void {
  // disks that start outside the canvas still cover it, so centres range over a margin
  for (let i = 0; i < maxDisks && cv.uncovered > 0; i++) {
    const r = powerLawRadius(rnd, rMin, rMax);
    const cx = -r + rnd() * (cv.width + 2 * r);
    const cy = -r + rnd() * (cv.height + 2 * r);
    cv.disk(cx, cy, r, randomColour(rnd), mask);
  }
}

/** A scene of `width` x `height` pixels (even sizes render exactly; odd sizes lose nothing but a pixel of supersampling). */
export function renderScene(style: SceneStyle, width: number, height: number, seed: number): RgbImage {
  const rnd = mulberry32(seed);
  const cv = new Canvas(width * 2, height * 2);
  const W = cv.width;
  const H = cv.height;
  const minDim = Math.min(W, H);
  switch (style) {
    case 'dead-leaves':
      deadLeaves(cv, rnd, 3, minDim * (0.15 + 0.2 * rnd()), 60_000);
      cv.gradientBehind(randomColour(rnd), randomColour(rnd), rnd() * 2 * Math.PI);
      break;
    case 'gradient-edges': {
      const shapes = 2 + Math.floor(rnd() * 5);
      for (let s = 0; s < shapes; s++) {
        // a convex quadrilateral-like region: a rotated rectangle, filled with its own gradient
        const cx = rnd() * W;
        const cy = rnd() * H;
        const hw = (0.08 + 0.25 * rnd()) * W;
        const hh = (0.08 + 0.25 * rnd()) * H;
        const a = rnd() * Math.PI;
        const ca = Math.cos(a);
        const sa = Math.sin(a);
        const inside = (x: number, y: number) => {
          const u = (x + 0.5 - cx) * ca + (y + 0.5 - cy) * sa;
          const v = -(x + 0.5 - cx) * sa + (y + 0.5 - cy) * ca;
          return Math.abs(u) <= hw && Math.abs(v) <= hh;
        };
        if (rnd() < 0.5) deadLeaves(cv, rnd, 2, Math.min(hw, hh) * 0.4, 3_000, inside);
        cv.gradientBehind(randomColour(rnd), randomColour(rnd), rnd() * 2 * Math.PI, inside);
      }
      for (let d = 0; d < 4; d++) cv.disk(rnd() * W, rnd() * H, (0.03 + 0.1 * rnd()) * minDim, randomColour(rnd));
      cv.gradientBehind(randomColour(rnd), randomColour(rnd), rnd() * 2 * Math.PI);
      break;
    }
    case 'mixed': {
      const y0 = H * (0.3 + 0.3 * rnd());
      const slope = (rnd() - 0.5) * 0.4;
      const below = (x: number, y: number) => y >= y0 + slope * (x - W / 2);
      deadLeaves(cv, rnd, 2, minDim * 0.12, 40_000, below);
      const sky0: Rgb = [90 + 60 * rnd(), 130 + 60 * rnd(), 190 + 60 * rnd()];
      const sky1: Rgb = [200 + 50 * rnd(), 210 + 40 * rnd(), 230 + 25 * rnd()];
      cv.gradientBehind(sky0, sky1, Math.PI / 2 + (rnd() - 0.5) * 0.3);
      break;
    }
  }
  return cv.downsample2();
}
