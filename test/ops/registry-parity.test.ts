/**
 * Parity of the op registry: every op with a kernel has a shape rule, and every op with an
 * explicit gradient rule has a kernel. The check runs over the real registry and, to show it can
 * fail, over synthetic families that break each rule.
 */
import { expect } from 'chai';
import { buildRegistry, mirrorOps, opDefinition, registeredOps, registryProblems, SHAPE_RULES, shapeRule } from '../../src/ops/registry.js';
import type { GradientRule, OpKernel } from '../../src/ops/types.js';
import type { ShapeRule } from '../../src/ops/shape-common/types.js';

const kernel: OpKernel = { types: [1], forward: () => [] };
const rule: ShapeRule = () => undefined;
const gradient: GradientRule = { backward: () => [] };

describe('op registry parity', () => {
  it('every op with a kernel has a shape rule; every gradient rule has a kernel', () => {
    expect(registryProblems(new Map(registeredOps().map((e) => [e.key, e])))).to.deep.equal([]);
    const kernels = mirrorOps();
    expect(kernels.length).to.be.greaterThan(120);
    for (const { key } of kernels) expect(SHAPE_RULES.has(key), key).to.equal(true);
    for (const e of registeredOps()) if (e.definition.gradient) expect(e.definition.kernel, e.key).to.not.equal(undefined);
  });

  it('the ONNX-graph gradient rules sit in the family of their op (beside its kernel and shape rule)', () => {
    const withGrad = registeredOps().filter((e) => e.definition.gradient);
    expect(withGrad.length).to.be.greaterThan(5);
    const family = (key: string): string | undefined => registeredOps().find((e) => e.key === key)?.family;
    expect(family('Conv')).to.equal('conv');
    expect(opDefinition('Conv').gradient?.backward).to.be.a('function');
    expect(opDefinition('Relu').gradient?.backward).to.be.a('function');
    for (const e of withGrad) expect(e.definition.shape, e.key).to.be.a('function');
  });

  it('the ops that once had a kernel and no rule now have one, in the family of their kernel', () => {
    const family = (key: string): string | undefined => registeredOps().find((e) => e.key === key)?.family;
    expect(family('DFT')).to.equal('spectral');
    expect(family('Einsum')).to.equal('matmul');
    expect(family('GridSample')).to.equal('resize');
    expect(family('com.microsoft::Inverse')).to.equal('microsoft');
    for (const op of ['DFT', 'Einsum', 'GridSample']) {
      const d = opDefinition(op);
      expect(d.shape, op).to.be.a('function');
      expect(d.kernel, op).to.not.equal(undefined);
    }
    expect(shapeRule('Inverse', 'com.microsoft')).to.be.a('function');
    expect(opDefinition('Inverse', 'com.microsoft').kernel).to.not.equal(undefined);
  });

  it('every op with a float mirror kernel has a gradient rule, but those whose outputs are integers or booleans', () => {
    const noRule = registeredOps().filter((e) => e.definition.kernel?.types.includes(1) && !e.definition.gradient).map((e) => e.key);
    // outputs that end a differentiated path: indices, comparisons, predicates, shapes
    expect(noRule.sort()).to.deep.equal(['ArgMax', 'ArgMin', 'Equal', 'Greater', 'GreaterOrEqual', 'IsInf', 'IsNaN', 'Less', 'LessOrEqual', 'Shape', 'Size']);
  });

  it('one op, one family: the shape rule and the kernel of an op are registered by the same family', () => {
    // shape rules of ops without a kernel (ConvInteger, RandomNormal, ...) are fine; an op never
    // has its kernel in one family and its rule in another
    expect(() => buildRegistry({ a: { kernels: { Foo: kernel } }, b: { shapes: { Foo: rule } } })).to.throw(/Foo is in two families/);
  });

  it('fails on a kernel without a shape rule and on a gradient rule without a kernel', () => {
    const reg = buildRegistry({
      good: { kernels: { Good: kernel }, shapes: { Good: rule, RuleOnly: rule }, gradients: { Good: gradient } },
      bad: { kernels: { NoRule: kernel }, shapes: { OrphanGrad: rule }, gradients: { OrphanGrad: gradient } },
    });
    expect(registryProblems(reg)).to.deep.equal(['NoRule (bad): a kernel and no shape rule', 'OrphanGrad (bad): a gradient rule and no kernel']);
    expect(reg.get('Good')!.definition).to.include({ opType: 'Good', domain: '', kernel, shape: rule, gradient });
    expect(buildRegistry({ m: { kernels: { 'com.x::Op': kernel } } }).get('com.x::Op')!.definition).to.include({ opType: 'Op', domain: 'com.x' });
  });
});
