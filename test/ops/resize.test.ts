/**
 * Mirror kernels of Resize and Upsample against ONNX Runtime on what the Debian node tests do not
 * cover (opset 18 axes / keep_aspect_ratio_policy / antialias, half_pixel_symmetric, every
 * nearest_mode with several transforms, Resize-10 and Upsample rounding), unsupported() reasons,
 * and input gradients vs finite differences.
 */
import { expect } from 'chai';
import type { HostTensor } from '../../src/differentiable/model.js';
import { loadBackend } from '../../src/mirror/backend.js';
import type { AttributeProto } from '../../src/onnx/proto-types.js';
import { checkInputGradient, flt, int, ints, str } from '../helpers/op-harness.js';
import { caseBytes, caseProblems as problems, matchesOrt, type OrtCase as Case } from '../helpers/ort-op-compare.js';
import { floatTensor, int64Tensor } from '../helpers/proto-build.js';
import { randomFloats } from '../helpers/seeded-random.js';

const scalesT = (v: number[]) => floatTensor('scales', [v.length], v);
const sizesT = (v: number[]) => int64Tensor('sizes', [v.length], v);

/** A Resize (opset >= 11: X, roi, scales, sizes; 10: X, scales) or Upsample node with constant scales / sizes. */
function resize(opset: number, attrs: AttributeProto[], x: number[], by: { scales?: number[]; sizes?: number[] }, op = 'Resize'): Case {
  const inits = [...(by.scales ? [scalesT(by.scales)] : []), ...(by.sizes ? [sizesT(by.sizes)] : [])];
  const legacy = op === 'Upsample' || opset < 11;
  const inputs: Case['inputs'] = legacy
    ? [['x', x], ...(by.scales && !(op === 'Upsample' && opset < 9) ? [['scales', [0]] as [string, number[]]] : [])]
    : [['x', x], '', by.scales ? ['scales', [0]] : '', ...(by.sizes ? [['sizes', [0]] as [string, number[]]] : [])];
  return { op, attrs, inputs, inits, opset };
}

describe('ops/resize: Resize and Upsample', function () {
  before(async () => {
    await loadBackend('cpu');
  });
  const mode = (m: string) => str('mode', m);
  const ctm = (m: string) => str('coordinate_transformation_mode', m);

  it('linear and cubic with every coordinate transform, up and down', async () => {
    const x = [1, 2, 5, 7];
    await matchesOrt(resize(13, [mode('linear')], x, { scales: [1, 1, 0.6, 0.8] }));
    await matchesOrt(resize(13, [mode('linear'), ctm('align_corners')], x, { sizes: [1, 2, 8, 3] }));
    await matchesOrt(resize(13, [mode('linear'), ctm('asymmetric')], x, { scales: [1, 1, 1.5, 2.5] }));
    await matchesOrt(resize(13, [mode('linear'), ctm('pytorch_half_pixel')], x, { sizes: [1, 2, 1, 4] }));
    await matchesOrt(resize(13, [mode('cubic'), ctm('asymmetric'), flt('cubic_coeff_a', -0.5), int('exclude_outside', 1)], x, { scales: [1, 1, 0.5, 0.7] }));
    await matchesOrt(resize(13, [mode('cubic'), ctm('half_pixel')], x, { scales: [1, 1, 2, 1.5] }));
    await matchesOrt(resize(19, [mode('linear'), ctm('half_pixel_symmetric')], x, { scales: [1, 1, 1.7, 0.55] }));
  });

  it('nearest with each nearest_mode and transform', async () => {
    const x = [1, 2, 4, 5];
    for (const nm of ['round_prefer_floor', 'round_prefer_ceil', 'floor', 'ceil']) {
      await matchesOrt(resize(13, [mode('nearest'), str('nearest_mode', nm)], x, { scales: [1, 1, 1.5, 2.4] }));
      await matchesOrt(resize(13, [mode('nearest'), str('nearest_mode', nm), ctm('align_corners')], x, { sizes: [1, 2, 7, 3] }));
    }
    await matchesOrt(resize(13, [mode('nearest'), ctm('tf_half_pixel_for_nn')], x, { sizes: [1, 2, 3, 8] }));
  });

  it('opset 18: axes, keep_aspect_ratio_policy and antialias', async () => {
    const x = [1, 2, 6, 8];
    await matchesOrt(resize(18, [mode('linear'), ints('axes', [2, 3])], x, { sizes: [4, 5] }));
    await matchesOrt(resize(18, [mode('linear'), ints('axes', [3])], x, { scales: [0.5] }));
    await matchesOrt(resize(18, [mode('nearest'), str('keep_aspect_ratio_policy', 'not_larger'), ints('axes', [2, 3])], x, { sizes: [3, 3] }));
    await matchesOrt(resize(18, [mode('linear'), str('keep_aspect_ratio_policy', 'not_smaller')], x, { sizes: [1, 2, 3, 3] }));
    await matchesOrt(resize(18, [mode('linear'), int('antialias', 1)], x, { scales: [1, 1, 0.5, 0.4] }));
    await matchesOrt(resize(18, [mode('cubic'), int('antialias', 1)], x, { scales: [1, 1, 0.6, 0.3] }));
  });

  it('Resize-10 and Upsample (opsets 7 and 9): asymmetric, nearest rounds as ONNX Runtime does', async () => {
    const x = [1, 2, 4, 5];
    await matchesOrt(resize(10, [mode('nearest')], x, { scales: [1, 1, 2, 3] }));
    await matchesOrt(resize(10, [mode('nearest')], x, { scales: [1, 1, 0.5, 0.6] }));
    await matchesOrt(resize(10, [mode('linear')], x, { scales: [1, 1, 1.5, 2.5] }));
    await matchesOrt(resize(9, [mode('linear')], x, { scales: [1, 1, 2, 1.5] }, 'Upsample'));
    await matchesOrt(resize(7, [mode('nearest'), { name: 'scales', floats: [1, 1, 2, 3], type: 6 }], x, {}, 'Upsample'));
  });

  it('refuses what it does not implement before running', () => {
    expect(problems(resize(13, [mode('linear'), ctm('tf_crop_and_resize')], [1, 1, 4, 4], { scales: [1, 1, 2, 2] })).join()).to.match(/tf_crop_and_resize with scales/);
    expect(problems(resize(13, [mode('area')], [1, 1, 4, 4], { scales: [1, 1, 2, 2] })).join()).to.match(/mode 'area'/);
    expect(problems(resize(18, [mode('nearest'), int('antialias', 1)], [1, 1, 4, 4], { scales: [1, 1, 2, 2] })).join()).to.match(/antialias with mode nearest/);
    expect(problems(resize(13, [mode('linear'), ctm('corners')], [1, 1, 4, 4], { scales: [1, 1, 2, 2] })).join()).to.match(/coordinate_transformation_mode 'corners'/);
  });

  it('input gradients match finite differences (linear, cubic antialias, nearest)', async () => {
    const x: HostTensor = { dims: [1, 1, 4, 5], data: randomFloats(31, 20) };
    const mk = (c: Case) => caseBytes(c);
    await checkInputGradient(mk(resize(13, [mode('linear')], x.dims, { scales: [1, 1, 1.5, 0.8] })), { x }, 'x', [0, 7, 19]);
    await checkInputGradient(mk(resize(18, [mode('cubic'), int('antialias', 1)], x.dims, { scales: [1, 1, 0.5, 0.6] })), { x }, 'x', [1, 8, 18]);
    await checkInputGradient(mk(resize(13, [mode('nearest')], x.dims, { scales: [1, 1, 2, 1.5] })), { x }, 'x', [0, 12]);
  });
});

describe('ops/resize: GridSample', function () {
  before(async () => {
    await loadBackend('cpu');
  });
  const gs = (attrs: AttributeProto[], x: number[], grid: number[], opset = 16, inits: Case['inits'] = []): Case => ({ op: 'GridSample', attrs, inputs: [['x', x], ['grid', grid]], opset, inits });

  it('every mode, padding_mode and align_corners against ONNX Runtime (grid in [-2, 2]: inside and outside)', async () => {
    for (const m of ['bilinear', 'nearest', 'bicubic']) {
      for (const p of ['zeros', 'border', 'reflection']) {
        if (m === 'bicubic' && p === 'border') continue;
        for (const ac of [0, 1]) await matchesOrt(gs([str('mode', m), str('padding_mode', p), int('align_corners', ac)], [2, 3, 4, 5], [2, 3, 6, 2]), 11);
      }
    }
  });

  it('reflection far outside the image (several bounces), and opset 20 mode names', async () => {
    const far = floatTensor('grid', [1, 2, 4, 2], [-7.3, 5.1, 3.9, -2.6, 6.4, 4.2, -4.8, -9.7, 0.3, 8.9, -3.1, 2.2, 11.5, -0.4, -5.5, 7.7]);
    for (const ac of [0, 1]) {
      await matchesOrt({ ...gs([str('mode', 'bilinear'), str('padding_mode', 'reflection'), int('align_corners', ac)], [1, 2, 3, 4], [1, 2, 4, 2], 16, [far]) });
      await matchesOrt({ ...gs([str('mode', 'nearest'), str('padding_mode', 'reflection'), int('align_corners', ac)], [1, 2, 3, 4], [1, 2, 4, 2], 16, [far]) });
    }
    await matchesOrt(gs([str('mode', 'linear'), str('padding_mode', 'border')], [1, 2, 4, 3], [1, 5, 2, 2], 20));
    await matchesOrt(gs([str('mode', 'cubic')], [1, 2, 4, 3], [1, 5, 2, 2], 20));
  });

  it('refuses what it does not implement before running', () => {
    expect(problems(gs([str('mode', 'bilinear')], [1, 1, 3, 3], [1, 2, 2, 2], 20)).join()).to.match(/mode 'bilinear' \(opset 20/);
    expect(problems(gs([str('mode', 'linear')], [1, 1, 3, 3], [1, 2, 2, 2], 16)).join()).to.match(/mode 'linear' \(opset 16/);
    expect(problems(gs([str('mode', 'bicubic'), str('padding_mode', 'border')], [1, 1, 3, 3], [1, 2, 2, 2])).join()).to.match(/cubic with padding_mode 'border'/);
    expect(problems(gs([str('padding_mode', 'wrap')], [1, 1, 3, 3], [1, 2, 2, 2])).join()).to.match(/padding_mode 'wrap'/);
    expect(problems(gs([], [1, 1, 2, 3, 3], [1, 2, 2, 2, 3], 20)).join()).to.match(/rank-5/);
    expect(problems(gs([], [1, 1, 3, 3], [1, 2, 2, 2], 13)).join()).to.match(/starts at opset 16/);
  });

  it('bilinear (and bicubic) gradients in the input and in the grid match finite differences', async () => {
    const x: HostTensor = { dims: [1, 2, 4, 5], data: randomFloats(41, 40) };
    const grid: HostTensor = { dims: [1, 3, 2, 2], data: Float32Array.from([-0.63, 0.21, 0.37, -0.88, 0.94, 0.55, -0.17, -0.41, 0.71, 0.13, -0.52, 0.77]) };
    for (const [m, p, ac] of [['bilinear', 'zeros', 0], ['bilinear', 'reflection', 1], ['bilinear', 'border', 0], ['bicubic', 'zeros', 0]] as const) {
      const bytes = caseBytes(gs([str('mode', m), str('padding_mode', p), int('align_corners', ac)], x.dims, grid.dims));
      await checkInputGradient(bytes, { x, grid }, 'x', [0, 7, 13, 26, 39]);
      await checkInputGradient(bytes, { x, grid }, 'grid', [0, 1, 4, 7, 10, 11], 1e-3);
    }
    // outside the image with reflection: the coordinate is mirrored, so is its gradient
    const out: HostTensor = { dims: [1, 1, 2, 2], data: Float32Array.from([-1.37, 0.21, 1.42, -1.29]) };
    const bytes = caseBytes(gs([str('mode', 'bilinear'), str('padding_mode', 'reflection')], x.dims, out.dims));
    await checkInputGradient(bytes, { x, grid: out }, 'grid', [0, 1, 2, 3], 1e-3);
  });
});
