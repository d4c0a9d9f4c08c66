import { expect } from 'chai';
import path from 'node:path';
import { UsageError } from '../../src/errors.js';
import { DEFAULT_PREPROCESS, PREPROCESS_KEY, PreprocessError, preprocessFromFlags, readPreprocess, resolvePreprocess, writePreprocess } from '../../src/data/preprocess.js';
import { Model } from '../../src/ir/model.js';
import { TempDirs } from '../helpers/temp-dir.js';

const LINEARITY = path.resolve('fixtures/models/linearity_iqa.onnx');

describe('data/preprocess', () => {
  const temps = new TempDirs('preprocess');
  after(() => temps.cleanup());

  it('stores the spec in metadata_props and reads it back after a save', () => {
    const model = Model.load(LINEARITY);
    expect(readPreprocess(model)).to.equal(undefined);
    const spec = resolvePreprocess({ size: [64, 96], range: [0, 255], mean: [123.675, 116.28, 103.53], std: [58.395, 57.12, 57.375], colorOrder: 'BGR' });
    writePreprocess(model, spec);
    const out = path.join(temps.make('save'), 'm.onnx');
    model.save(out);
    const again = Model.load(out);
    expect(readPreprocess(again)).to.deep.equal(spec);
    expect(JSON.parse(again.metadata().get(PREPROCESS_KEY)!)).to.have.keys('size', 'range', 'mean', 'std', 'colorOrder', 'kernel', 'fit');
  });

  it('layers override field by field over the defaults', () => {
    const r = resolvePreprocess({ size: [64, 96] }, { range: [0, 255] }, { size: [32, 32] });
    expect(r).to.deep.equal({ ...DEFAULT_PREPROCESS, size: [32, 32], range: [0, 255] });
  });

  it('refuses bad stored values naming the key and the field', () => {
    const model = Model.load(LINEARITY);
    model.setMetadata(PREPROCESS_KEY, '{not json');
    expect(() => readPreprocess(model)).to.throw(PreprocessError, /metadata iqa-surgeon.preprocess is not valid JSON/);
    model.setMetadata(PREPROCESS_KEY, JSON.stringify({ std: [1, 0, 1] }));
    expect(() => readPreprocess(model)).to.throw(PreprocessError, /std must be three positive numbers/);
    model.setMetadata(PREPROCESS_KEY, JSON.stringify({ colour: 'RGB' }));
    expect(() => readPreprocess(model)).to.throw(PreprocessError, /unknown preprocessing field 'colour'/);
  });

  it('parses flags, with usage errors naming the flag', () => {
    expect(preprocessFromFlags({ inputSize: '384x512', range: '0,255', mean: '1,2,3', std: '4,5,6', colorOrder: 'bgr', resizeKernel: 'linear', fit: 'cover' })).to.deep.equal({
      size: [384, 512],
      range: [0, 255],
      mean: [1, 2, 3],
      std: [4, 5, 6],
      colorOrder: 'BGR',
      kernel: 'linear',
      fit: 'cover',
    });
    expect(() => preprocessFromFlags({ inputSize: '224' })).to.throw(UsageError, /--input-size '224' must be H,W/);
    expect(() => preprocessFromFlags({ mean: '1,2' })).to.throw(UsageError, /--mean '1,2' must be 3 comma-separated numbers/);
    expect(() => preprocessFromFlags({ range: '1,0' })).to.throw(UsageError, /range must be \[lo, hi\] with lo < hi/);
    expect(() => preprocessFromFlags({ resizeKernel: 'box' })).to.throw(UsageError, /kernel must be one of/);
  });
});
