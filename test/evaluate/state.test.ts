/**
 * The evaluation state file: units survive a reopen, UAPs round-trip bit-exactly as .npy, a state
 * of other parameters is refused naming what changed, a damaged file is refused, --fresh discards.
 */
import { expect } from 'chai';
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { UserError } from '../../src/errors.js';
import { EvaluationState, STATE_DIR, STATE_FILE } from '../../src/evaluate/state.js';
import { TempDirs } from '../helpers/temp-dir.js';

const temps = new TempDirs('evaluate-state');
after(() => temps.cleanup());

describe('evaluate: state file', () => {
  const params = { models: [{ sha256: 'ab' }], attacks: ['pgd-1-eps2'], seeds: [0, 1], quantize: false };

  it('keeps units and perturbations across a reopen', () => {
    const dir = temps.make('s');
    const a = EvaluationState.open(dir, params);
    expect(a.resumed).to.equal(0);
    a.put('m0/pgd-1-eps2/seed0/0', { scores: [0.1, 0.25], linf: 2 / 255 });
    a.put('m0/stadv/seed0/0', { scores: [1], linf: 0.01, flowSum: 0.5 });
    const u = { dims: [3, 2, 2] as [3, number, number], data: Float32Array.from({ length: 12 }, (_, i) => Math.fround(i / 7 - 0.8)) };
    a.savePerturbation('m0-uap-eps10-seed1', u);
    const b = EvaluationState.open(dir, JSON.parse(JSON.stringify(params)));
    expect(b.resumed).to.equal(2);
    expect(b.get('m0/pgd-1-eps2/seed0/0')).to.deep.equal({ scores: [0.1, 0.25], linf: 2 / 255 });
    expect(b.get('m0/stadv/seed0/0')!.flowSum).to.equal(0.5);
    expect(b.get('m0/pgd-1-eps2/seed1/0')).to.equal(undefined);
    const v = b.loadPerturbation('m0-uap-eps10-seed1')!;
    expect(v.dims).to.deep.equal([3, 2, 2]);
    expect(Array.from(v.data)).to.deep.equal(Array.from(u.data));
    expect(b.loadPerturbation('m0-uap-eps10-seed2')).to.equal(undefined);
  });

  it('refuses a state of other parameters naming them; --fresh discards it', () => {
    const dir = temps.make('s');
    EvaluationState.open(dir, params).put('u', { scores: [1], linf: 0 });
    expect(() => EvaluationState.open(dir, { ...params, seeds: [0, 1, 2], quantize: true })).to.throw(UserError, /different evaluation \(changed: seeds, quantize\).*--fresh/);
    const f = EvaluationState.open(dir, { ...params, quantize: true }, { fresh: true });
    expect(f.resumed).to.equal(0);
    expect(existsSync(path.join(dir, STATE_DIR))).to.equal(false);
  });

  it('refuses a damaged state file', () => {
    const dir = temps.make('s');
    writeFileSync(path.join(dir, STATE_FILE), '{"schema":"evaluate-state@1","units":');
    expect(() => EvaluationState.open(dir, params)).to.throw(UserError, /not a readable evaluation state/);
    writeFileSync(path.join(dir, STATE_FILE), '{"schema":"other"}');
    expect(() => EvaluationState.open(dir, params)).to.throw(UserError, /not an evaluate-state@1 file/);
  });
});
