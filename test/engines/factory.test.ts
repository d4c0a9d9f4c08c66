/** The engine factory: engine choice (auto: ort where differentiable, else tfjs with the reason), options, and that importing it loads no tfjs. */
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { createEngine } from '../../src/engines/factory.js';
import { UserError } from '../../src/errors.js';
import { Model } from '../../src/ir/model.js';
import { setNoticeSink, type Notice } from '../../src/runtime/index.js';
import { smoothCnn } from '../helpers/finite-diff.js';
import { modelWithoutGradientRule } from '../helpers/no-rule-model.js';
import { requireOrSkip } from '../helpers/test-data.js';

async function rejection(p: Promise<unknown>): Promise<UserError> {
  try {
    await p;
  } catch (e) {
    expect(e, String(e)).to.be.instanceOf(UserError);
    return e as UserError;
  }
  throw new Error('expected a UserError, got none');
}

/** In a fresh process: import the factory (and, with `create`, build an engine), then say whether tfjs-core's engine exists. */
function tfjsLoadedAfter(create: boolean): string {
  const script = `
    const { createEngine } = await import('./src/engines/factory.ts');
    ${create ? "const { smoothCnn } = await import('./test/helpers/finite-diff.ts'); (await createEngine({ model: smoothCnn(1), engine: 'tfjs', backend: 'cpu' })).dispose();" : ''}
    console.log(typeof globalThis._tfengine);`;
  return execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8' }).trim();
}

describe('engines: createEngine', function () {
  this.timeout(300_000);

  it('tfjs builds the mirror, with the trainable selection resolved, and says which engine and backend run', async () => {
    const e = await createEngine({ model: smoothCnn(3), engine: 'tfjs', trainable: ['c1.*', 'fc.b'], backend: 'cpu' });
    try {
      expect(e.engine).to.equal('tfjs mirror on cpu');
      expect(e.describe()).to.match(/^tfjs mirror on cpu: .*cpu backend/);
      expect(e.trainableNames()).to.deep.equal(['c1.w', 'c1.b', 'fc.b']);
    } finally {
      e.dispose();
    }
  });

  it('auto (the default) and ort build the ONNX Runtime engine on the default graph, saying the provider, with no fallback notice', async () => {
    for (const engine of [undefined, 'auto', 'ort'] as const) {
      const notices: Notice[] = [];
      const prev = setNoticeSink((n) => notices.push(n));
      try {
        const e = await createEngine({ model: Model.load('graphs/linearity_r18w16.onnx'), ...(engine ? { engine } : {}), trainable: ['regressor.*'] });
        try {
          expect(e.engine).to.equal('ort on cpu');
          expect(e.describe()).to.match(/^ort on cpu: .*cpu execution provider.*threads/);
          expect(e.trainableNames()).to.deep.equal(['regressor.weight', 'regressor.bias']);
        } finally {
          e.dispose();
        }
      } finally {
        setNoticeSink(prev);
      }
      expect(notices.filter((n) => n.kind === 'fallback')).to.deep.equal([]);
    }
  });

  it('auto falls back to tfjs on a model with an op that has no gradient rule, with a one-line notice naming op and node; ort refuses it naming both', async function () {
    const found = modelWithoutGradientRule();
    requireOrSkip(this, found !== undefined, 'a unary op with a mirror kernel and no gradient rule');
    const { opType, model } = found!;
    const notices: Notice[] = [];
    const prev = setNoticeSink((n) => notices.push(n));
    try {
      const e = await createEngine({ model, backend: 'cpu' });
      try {
        expect(e.engine).to.equal('tfjs mirror on cpu');
      } finally {
        e.dispose();
      }
    } finally {
      setNoticeSink(prev);
    }
    const fallback = notices.filter((n) => n.kind === 'fallback');
    expect(fallback).to.have.length(1);
    expect(fallback[0]!.line).to.not.include('\n');
    expect(fallback[0]!.line).to.include('engine auto').and.include(opType).and.include("'the_op'");
    const err = await rejection(createEngine({ model, engine: 'ort' }));
    expect(err.message).to.include(opType).and.include("'the_op'");
    expect(err.message).to.not.include('\n');
  });

  it('an unknown engine, an execution provider for tfjs, and a selector matching nothing are UserErrors', async () => {
    expect((await rejection(createEngine({ model: smoothCnn(3), engine: 'torch' as never }))).message).to.include("'torch'");
    expect((await rejection(createEngine({ model: smoothCnn(3), engine: 'tfjs', ep: 'cuda' }))).message).to.include('execution provider');
    expect((await rejection(createEngine({ model: smoothCnn(3), trainable: ['layer9.*'] }))).message).to.include('layer9.*');
  });

  it('importing the factory does not load TensorFlow.js; building an engine does', () => {
    expect(tfjsLoadedAfter(false)).to.equal('undefined');
    expect(tfjsLoadedAfter(true)).to.equal('object');
  });
});
