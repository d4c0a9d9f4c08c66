/** The engine factory: engine choice, the unbuilt ONNX Runtime engine, options, and that importing it loads no tfjs. */
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { createEngine } from '../../src/engines/factory.js';
import { UserError } from '../../src/errors.js';
import { smoothCnn } from '../helpers/finite-diff.js';

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
    ${create ? "const { smoothCnn } = await import('./test/helpers/finite-diff.ts'); (await createEngine({ model: smoothCnn(1), backend: 'cpu' })).dispose();" : ''}
    console.log(typeof globalThis._tfengine);`;
  return execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8' }).trim();
}

describe('engines: createEngine', function () {
  this.timeout(300_000);

  it('auto and tfjs build the mirror, with the trainable selection resolved, and say which engine and backend run', async () => {
    for (const engine of [undefined, 'auto', 'tfjs'] as const) {
      const e = await createEngine({ model: smoothCnn(3), ...(engine ? { engine } : {}), trainable: ['c1.*', 'fc.b'], backend: 'cpu' });
      try {
        expect(e.engine).to.equal('tfjs mirror on cpu');
        expect(e.describe()).to.match(/^tfjs mirror on cpu: .*cpu backend/);
        expect(e.trainableNames()).to.deep.equal(['c1.w', 'c1.b', 'fc.b']);
      } finally {
        e.dispose();
      }
    }
  });

  it('ort is a UserError saying the ONNX Runtime gradient engine is not built yet', async () => {
    const e = await rejection(createEngine({ model: smoothCnn(3), engine: 'ort' }));
    expect(e.code).to.equal('engine-unavailable');
    expect(e.message).to.match(/ONNX Runtime gradient engine is not built yet/);
  });

  it('an unknown engine, an execution provider for tfjs, and a selector matching nothing are UserErrors', async () => {
    expect((await rejection(createEngine({ model: smoothCnn(3), engine: 'torch' as never }))).message).to.include("'torch'");
    expect((await rejection(createEngine({ model: smoothCnn(3), ep: 'cuda' }))).message).to.include('execution provider');
    expect((await rejection(createEngine({ model: smoothCnn(3), trainable: ['layer9.*'] }))).message).to.include('layer9.*');
  });

  it('importing the factory does not load TensorFlow.js; building an engine does', () => {
    expect(tfjsLoadedAfter(false)).to.equal('undefined');
    expect(tfjsLoadedAfter(true)).to.equal('object');
  });
});
