/**
 * A small IQA-shaped model (image [N,3,16,16] -> Conv -> <op> -> GlobalAveragePool -> Flatten ->
 * Gemm -> score [N,1]) whose <op> has a tfjs mirror kernel but no ONNX gradient rule, for the
 * engine factory's fallback tests. The op is chosen when the test runs, from float ops of one
 * input, or one with an attribute value its rule refuses (first one the gradient rules refuse), so the tests keep working as rules are added; undefined
 * when every candidate has a rule.
 */
import { checkDifferentiable } from '../../src/autodiff/index.js';
import { UserError } from '../../src/errors.js';
import { Model } from '../../src/ir/model.js';
import type { AttributeProto } from '../../src/onnx/proto-types.js';
import { mirrorKernel } from '../../src/ops/registry.js';
import { gaussian } from './finite-diff.js';
import { floatTensor, FLOAT, model as buildModel, node, tensorInfo } from './proto-build.js';

/** Float ops of one input (with the attributes they need), safe on any real input (no NaN), in order of preference. */
const CANDIDATES: { opType: string; attrs?: AttributeProto[] }[] = [
  { opType: 'MeanVarianceNormalization' },
  { opType: 'LRN', attrs: [{ name: 'size', i: 3, type: 2 }] },
  { opType: 'GlobalLpPool' },
  { opType: 'LpPool', attrs: [{ name: 'kernel_shape', ints: [2, 2], type: 7 }] },
  ...['Hardmax', 'Round', 'Floor', 'Ceil', 'Sign', 'Erf', 'Atan', 'Asinh', 'Softsign', 'Shrink', 'ThresholdedRelu', 'HardSigmoid', 'Mish', 'Celu', 'Selu', 'Cos', 'Sin', 'Elu', 'Softplus'].map((opType) => ({ opType })),
  // every float op of the mirror has a rule now: an attribute value the rule refuses (the mirror runs it)
  { opType: 'MaxPool', attrs: [{ name: 'kernel_shape', ints: [2, 2], type: 7 }, { name: 'storage_order', i: 1, type: 2 }] },
];

export function modelWithOp(opType: string, attrs: AttributeProto[] = []): Model {
  const w = (name: string, dims: number[], scale: number, seed: number) => floatTensor(name, dims, Array.from(gaussian(dims.reduce((a, b) => a * b, 1), seed), (v) => v * scale));
  return new Model(
    buildModel({
      inputs: [tensorInfo('image', FLOAT, ['N', 3, 16, 16])],
      outputs: [tensorInfo('score', FLOAT, ['N', 1])],
      initializers: [w('c.w', [4, 3, 3, 3], 0.3, 1), w('c.b', [4], 0.1, 2), w('fc.w', [1, 4], 0.5, 3), w('fc.b', [1], 0.1, 4)],
      nodes: [
        node('Conv', ['image', 'c.w', 'c.b'], ['a'], 'conv'),
        node(opType, ['a'], ['u'], 'the_op', attrs.length ? { attribute: attrs } : {}),
        node('GlobalAveragePool', ['u'], ['g'], 'gap'),
        node('Flatten', ['g'], ['f'], 'flat'),
        node('Gemm', ['f', 'fc.w', 'fc.b'], ['score'], 'fc', { attribute: [{ name: 'transB', i: 1, type: 2 }] }),
      ],
    }),
  );
}

/** The first candidate op the gradient rules cannot differentiate (with a mirror kernel), and the model around it. */
export function modelWithoutGradientRule(): { opType: string; model: Model } | undefined {
  for (const { opType, attrs } of CANDIDATES) {
    if (!mirrorKernel(opType, '')) continue;
    const model = modelWithOp(opType, attrs);
    try {
      checkDifferentiable(model, { loss: { kind: 'mean', output: 'score' }, inputs: ['image'], params: [] });
    } catch (e) {
      if (e instanceof UserError && e.message.includes(opType) && e.message.includes('the_op')) return { opType, model };
    }
  }
  return undefined;
}
