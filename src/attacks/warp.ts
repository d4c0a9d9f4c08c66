/**
 * Bilinear warping of images by a per-pixel flow field (stAdv's spatial transform) and its
 * vector-Jacobian product with respect to the flow. Images [n,3,H,W]; flow [n,2,H,W] with channel 0
 * the horizontal and channel 1 the vertical displacement in pixels: out(y,x) samples the input at
 * (y + flow1, x + flow0). Sample positions are clamped to the image (border padding); where a
 * coordinate is clamped, the output does not depend on that flow component.
 */

interface Sample {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
  wx: number;
  wy: number;
  /** 0 where the coordinate was clamped. */
  dxOk: number;
  dyOk: number;
}

function sample(sx: number, sy: number, W: number, H: number): Sample {
  const cx = Math.min(W - 1, Math.max(0, sx));
  const cy = Math.min(H - 1, Math.max(0, sy));
  const x0 = Math.min(W - 1, Math.floor(cx));
  const y0 = Math.min(H - 1, Math.floor(cy));
  return { x0, y0, x1: Math.min(W - 1, x0 + 1), y1: Math.min(H - 1, y0 + 1), wx: cx - x0, wy: cy - y0, dxOk: cx === sx ? 1 : 0, dyOk: cy === sy ? 1 : 0 };
}

/** The four neighbours of a sample in one channel plane (written into `v`, which is returned). */
function corners(x: Float32Array, base: number, s: Sample, W: number, v: Float64Array): Float64Array {
  v[0] = x[base + s.y0 * W + s.x0]!;
  v[1] = x[base + s.y0 * W + s.x1]!;
  v[2] = x[base + s.y1 * W + s.x0]!;
  v[3] = x[base + s.y1 * W + s.x1]!;
  return v;
}

export function warp(x: Float32Array, flow: Float32Array, n: number, H: number, W: number): Float32Array {
  const out = new Float32Array(x.length);
  const v = new Float64Array(4);
  const hw = H * W;
  for (let b = 0; b < n; b++) {
    for (let y = 0; y < H; y++) {
      for (let xx = 0; xx < W; xx++) {
        const p = y * W + xx;
        const s = sample(xx + flow[(b * 2) * hw + p]!, y + flow[(b * 2 + 1) * hw + p]!, W, H);
        for (let c = 0; c < 3; c++) {
          const base = (b * 3 + c) * hw;
          const [v00, v01, v10, v11] = corners(x, base, s, W, v);
          out[base + p] = (1 - s.wy) * ((1 - s.wx) * v00 + s.wx * v01) + s.wy * ((1 - s.wx) * v10 + s.wx * v11);
        }
      }
    }
  }
  return out;
}

/** dL/d(flow) given dL/d(warped image). */
export function warpFlowGrad(x: Float32Array, flow: Float32Array, gOut: Float32Array, n: number, H: number, W: number): Float32Array {
  const g = new Float32Array(flow.length);
  const v = new Float64Array(4);
  const hw = H * W;
  for (let b = 0; b < n; b++) {
    for (let y = 0; y < H; y++) {
      for (let xx = 0; xx < W; xx++) {
        const p = y * W + xx;
        const s = sample(xx + flow[(b * 2) * hw + p]!, y + flow[(b * 2 + 1) * hw + p]!, W, H);
        let gx = 0;
        let gy = 0;
        for (let c = 0; c < 3; c++) {
          const base = (b * 3 + c) * hw;
          const [v00, v01, v10, v11] = corners(x, base, s, W, v);
          const go = gOut[base + p]!;
          gx += go * ((1 - s.wy) * (v01 - v00) + s.wy * (v11 - v10));
          gy += go * ((1 - s.wx) * (v10 - v00) + s.wx * (v11 - v01));
        }
        g[(b * 2) * hw + p] = gx * s.dxOk;
        g[(b * 2 + 1) * hw + p] = gy * s.dyOk;
      }
    }
  }
  return g;
}

/**
 * Flow smoothness: sum over pixels and their 4 diagonal neighbours of the squared difference of
 * the flow vectors (../shared/docs/METHOD.md), with its gradient.
 */
export function flowSmoothness(flow: Float32Array, n: number, H: number, W: number): { loss: number; grad: Float32Array } {
  const grad = new Float32Array(flow.length);
  const hw = H * W;
  let loss = 0;
  const offsets = [
    [-1, -1],
    [-1, 1],
    [1, -1],
    [1, 1],
  ] as const;
  for (let b = 0; b < n; b++) {
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        for (const [dy, dx] of offsets) {
          const qy = y + dy;
          const qx = x + dx;
          if (qy < 0 || qy >= H || qx < 0 || qx >= W) continue;
          for (let c = 0; c < 2; c++) {
            const i = (b * 2 + c) * hw + y * W + x;
            const j = (b * 2 + c) * hw + qy * W + qx;
            const d = flow[i]! - flow[j]!;
            loss += d * d;
            grad[i]! += 2 * d;
            grad[j]! -= 2 * d;
          }
        }
      }
    }
  }
  return { loss, grad };
}
