/**
 * Malformed and hostile inputs at library level: every case is a real file made in a temporary
 * folder, and must fail with its own typed error (class, `code`, message) within 2 seconds.
 * Saving is checked against CVE-2025-51480 (write traversal / overwriting): a save never writes
 * over the files a model was read from and never outside the output folder. The happy path (a
 * model saved with external data loads back and runs the same in ONNX Runtime) closes the suite.
 * The same cases are run through the CLI in malformed-cli.test.ts.
 */
import { expect } from 'chai';
import {
  existsSync,
  linkSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { OnnxFormatError, PathError, UserError } from '../../src/errors.js';
import { Model } from '../../src/ir/model.js';
import { encode } from '../../src/onnx/codec.js';
import { EXTERNAL_REF, type TensorWithRef } from '../../src/onnx/external-data.js';
import { decodeModel, forEachTensor, saveModelFile } from '../../src/onnx/model-io.js';
import type { ModelProto, TensorProto } from '../../src/onnx/proto-types.js';
import {
  deeplyNestedBytes,
  type ExpectedError,
  externalDataModel,
  LOAD_CASES,
  nestedIfModel,
  READ_CASES,
  REAL_MODEL,
  SECRET,
} from '../helpers/malformed-cases.js';
import { maxAbsDiff, runSeeded } from '../helpers/ort-compare.js';
import { modelBytes, smallMlp } from '../helpers/proto-build.js';
import { referenceJson } from '../helpers/reference-decoder.js';
import { TempDirs } from '../helpers/temp-dir.js';

const tmp = new TempDirs('iqa-malformed');

/** Run `fn`, which must throw exactly the expected typed error; returns it. */
function expectError(fn: () => unknown, want: ExpectedError): UserError {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught, 'an error was thrown').to.not.equal(undefined);
  const got = caught as Error;
  expect(caught, `expected ${want.cls.name} '${want.code}', got ${got.name}: ${got.message}`).to.be.instanceOf(want.cls);
  const e = caught as UserError;
  expect(e.code).to.equal(want.code);
  expect(e.message).to.match(want.message);
  // one line, bounded, and never the content of a file outside the model
  expect(e.message).to.not.include('\n');
  expect(e.message.length).to.be.below(400);
  expect(e.message).to.not.include('TOP SECRET');
  return e;
}

/** Files in a folder, sorted (temporary files included: a failed save must leave none). */
const listing = (dir: string): string[] => readdirSync(dir).sort();

describe('malformed inputs (library level)', function () {
  after(() => tmp.cleanup());

  describe('loading', () => {
    for (const c of LOAD_CASES) {
      it(`${c.title} -> ${c.expect.cls.name} ${c.expect.code}`, () => {
        const dir = tmp.make(c.id);
        const file = c.make(dir);
        const before = listing(path.dirname(file));
        expectError(() => Model.load(file), c.expect);
        expect(listing(path.dirname(file)), 'loading writes nothing').to.deep.equal(before);
      });
    }
  });

  describe('reading after a successful load', () => {
    for (const c of READ_CASES) {
      it(`${c.title} -> ${c.expect.cls.name} ${c.expect.code}`, () => {
        const m = Model.load(c.make(tmp.make(c.id)));
        expectError(() => c.read!(m), c.expect);
      });
    }
  });

  describe('edge cases that must still load', () => {
    it('If subgraphs 10 levels deep (31 nested messages) load', () => {
      const m = Model.fromBytes(encode(nestedIfModel(10), 'ModelProto'));
      expect(m.graph.nodes[0]!.subgraphs).to.have.length(2);
    });

    it('nesting up to the limit decodes: 42 levels (127 messages deep) decode, 43 (130 deep) do not', () => {
      // 42 levels end in an empty graph at depth 1 + 3 * 42 = 127: no graph, node or cycle checks fail
      expect(() => decodeModel(deeplyNestedBytes(42))).to.not.throw();
      expectError(() => decodeModel(deeplyNestedBytes(43)), { cls: OnnxFormatError, code: 'onnx-format', message: /nested deeper than 128/ });
    });

    it('valid external data inside a sub-folder of the model folder loads and reads', () => {
      const dir = tmp.make('subfolder');
      const file = externalDataModel(dir, {
        entries: [
          ['location', 'weights/w.bin'],
          ['offset', '16'],
          ['length', '16'],
        ],
        setup: (_d, m) => {
          mkdirSync(path.join(m, 'weights'));
          writeFileSync(path.join(m, 'weights', 'w.bin'), new Uint8Array(Float32Array.from({ length: 8 }, (_, i) => i).buffer));
        },
      });
      const m = Model.load(file);
      const w = m.graph.value('w').initializer as TensorWithRef;
      expect(w[EXTERNAL_REF]).to.include({ offset: 16, length: 16 });
      const inline = Model.fromBytes(m.toBytes());
      expect(inline.graph.value('w').initializer!.raw_data).to.deep.equal(new Uint8Array(Float32Array.from([4, 5, 6, 7]).buffer));
    });
  });

  describe('saving (CVE-2025-51480: no overwriting, no writing outside the output folder)', () => {
    const overwrite = (message: RegExp): ExpectedError => ({ cls: PathError, code: 'overwrite-input', message });

    function inlineModel(dir: string): string {
      const file = path.join(dir, 'model.onnx');
      writeFileSync(file, modelBytes(smallMlp({ big: true })));
      return file;
    }

    /** A model in `<dir>/model/` whose `w` lives in `<dir>/model/<dataName>` (4 KiB). */
    function externalModel(dir: string, dataName: string, modelName = 'a.onnx'): string {
      const src = Model.fromBytes(modelBytes(smallMlp({ big: true })));
      const modelDir = path.join(dir, 'model');
      mkdirSync(modelDir, { recursive: true });
      const r = src.save(path.join(modelDir, modelName), { externalData: true, dataFileName: dataName });
      expect(r.externalTensors).to.equal(2);
      return path.join(modelDir, modelName);
    }

    it('saving over the input model file is refused (inline and with external data)', () => {
      const dir = tmp.make('save-self');
      const file = inlineModel(dir);
      const bytes = readFileSync(file);
      const m = Model.load(file);
      expectError(() => m.save(file), overwrite(/^refusing to overwrite '.*model\.onnx': the model is read from it; write to another file$/));
      expectError(() => m.save(file, { externalData: true }), overwrite(/the model is read from it/));
      // nor over the data file it reads
      const ext = externalModel(dir, 'weights.bin');
      const weights = path.join(path.dirname(ext), 'weights.bin');
      const data = readFileSync(weights);
      expectError(() => Model.load(ext).save(weights), overwrite(/refusing to overwrite '.*weights\.bin': the model is read from it/));
      expect(readFileSync(weights).equals(data)).to.equal(true);
      expect(readFileSync(file).equals(bytes)).to.equal(true);
      expect(listing(dir)).to.deep.equal(['model', 'model.onnx']);
      expect(listing(path.dirname(ext))).to.deep.equal(['a.onnx', 'weights.bin']);
    });

    it('saving over the input through a symlink or a hard link is refused', () => {
      const dir = tmp.make('save-links');
      const file = inlineModel(dir);
      symlinkSync('model.onnx', path.join(dir, 'sym.onnx'));
      linkSync(file, path.join(dir, 'hard.onnx'));
      const m = Model.load(file);
      expectError(() => m.save(path.join(dir, 'sym.onnx')), overwrite(/refusing to overwrite '.*sym\.onnx'/));
      expectError(() => m.save(path.join(dir, 'hard.onnx')), overwrite(/refusing to overwrite '.*hard\.onnx'/));
      expect(listing(dir)).to.deep.equal(['hard.onnx', 'model.onnx', 'sym.onnx']);
    });

    it("saving with external data never overwrites the input's data file", () => {
      const dir = tmp.make('save-data');
      // input a.onnx reads b.onnx.data: saving to b.onnx would write b.onnx.data by default
      const file = externalModel(dir, 'b.onnx.data');
      const modelDir = path.dirname(file);
      const data = readFileSync(path.join(modelDir, 'b.onnx.data'));
      const m = Model.load(file);
      expectError(
        () => m.save(path.join(modelDir, 'b.onnx'), { externalData: true }),
        overwrite(/^refusing to overwrite 'b\.onnx\.data': the model reads data from it; choose another output name$/),
      );
      expectError(() => m.save(path.join(modelDir, 'c.onnx'), { externalData: true, dataFileName: 'b.onnx.data' }), overwrite(/'b\.onnx\.data'/));
      // nor the model file itself used as a data file
      expectError(() => m.save(path.join(modelDir, 'c.onnx'), { externalData: true, dataFileName: 'a.onnx' }), overwrite(/refusing to overwrite 'a\.onnx'/));
      expect(readFileSync(path.join(modelDir, 'b.onnx.data')).equals(data)).to.equal(true);
      expect(listing(modelDir)).to.deep.equal(['a.onnx', 'b.onnx.data']);
      // and the same data read through a symlink in the output folder is protected too
      const outDir = path.join(dir, 'out');
      mkdirSync(outDir);
      symlinkSync(path.join(modelDir, 'b.onnx.data'), path.join(outDir, 'm.onnx.data'));
      expectError(() => m.save(path.join(outDir, 'm.onnx'), { externalData: true }), overwrite(/'m\.onnx\.data': the model reads data from it/));
      expect(readFileSync(path.join(modelDir, 'b.onnx.data')).equals(data)).to.equal(true);
    });

    it('an external data file name with folders in it is refused', () => {
      const dir = tmp.make('save-name');
      const m = Model.fromBytes(modelBytes(smallMlp({ big: true })));
      const out = path.join(dir, 'out.onnx');
      for (const dataFileName of ['../evil.data', 'sub/evil.data', '..\\evil.data', '/tmp/evil.data', '..', '.', '']) {
        expectError(() => m.save(out, { externalData: true, dataFileName }), {
          cls: PathError,
          code: 'bad-data-name',
          message: /must be a plain file name \(no folders\)/,
        });
      }
      expectError(() => m.save(out, { externalData: true, dataFileName: 'out.onnx' }), {
        cls: PathError,
        code: 'bad-data-name',
        message: /external data file name 'out\.onnx' is the model file itself/,
      });
      expect(listing(dir)).to.deep.equal([]);
      expect(existsSync(path.join(path.dirname(dir), 'evil.data'))).to.equal(false);
    });

    it('a symlink already at the output paths is replaced, never written through', () => {
      const dir = tmp.make('save-symlink-out');
      const victimDir = path.join(dir, 'victim');
      const outDir = path.join(dir, 'out');
      mkdirSync(victimDir);
      mkdirSync(outDir);
      writeFileSync(path.join(victimDir, 'victim.onnx'), 'victim model');
      writeFileSync(path.join(victimDir, 'victim.data'), 'victim data');
      symlinkSync('../victim/victim.onnx', path.join(outDir, 'm.onnx'));
      symlinkSync('../victim/victim.data', path.join(outDir, 'm.onnx.data'));
      const m = Model.fromBytes(modelBytes(smallMlp({ big: true })));
      const r = m.save(path.join(outDir, 'm.onnx'), { externalData: true });
      expect(r.externalDataFile).to.equal(path.join(outDir, 'm.onnx.data'));
      expect(readFileSync(path.join(victimDir, 'victim.onnx'), 'utf8')).to.equal('victim model');
      expect(readFileSync(path.join(victimDir, 'victim.data'), 'utf8')).to.equal('victim data');
      expect(lstatSync(path.join(outDir, 'm.onnx')).isFile()).to.equal(true);
      expect(lstatSync(path.join(outDir, 'm.onnx.data')).isFile()).to.equal(true);
      expect(listing(outDir)).to.deep.equal(['m.onnx', 'm.onnx.data']);
      expect(listing(victimDir)).to.deep.equal(['victim.data', 'victim.onnx']);
    });

    it('a crafted in-memory location (../victim.bin) is never used as a path when saving', () => {
      const dir = tmp.make('save-crafted');
      const outDir = path.join(dir, 'out');
      mkdirSync(outDir);
      writeFileSync(path.join(dir, 'victim.bin'), 'victim');
      const proto = smallMlp({ big: true });
      const w = proto.graph!.initializer![0]!;
      delete w.raw_data;
      w.data_location = 1;
      w.external_data = [{ key: 'location', value: '../victim.bin' }];
      for (const externalData of [true, false]) {
        expectError(() => saveModelFile(proto, path.join(outDir, 'm.onnx'), { externalData }), {
          cls: OnnxFormatError,
          code: 'onnx-format',
          message: /tensor 'w' stores its data externally but the model was not loaded from a file/,
        });
      }
      expect(readFileSync(path.join(dir, 'victim.bin'), 'utf8')).to.equal('victim');
      expect(listing(outDir)).to.deep.equal([]);
      expect(listing(dir)).to.deep.equal(['out', 'victim.bin']);
    });

    it('re-saving a model whose data lives in a sub-folder writes only the output folder, with plain locations', () => {
      const dir = tmp.make('save-sub');
      const file = externalModel(dir, 'weights.bin');
      const modelDir = path.dirname(file);
      const outDir = path.join(dir, 'out');
      mkdirSync(outDir);
      const before = listing(dir);
      const m = Model.load(file);
      m.save(path.join(outDir, 'copy.onnx'), { externalData: true });
      expect(listing(outDir)).to.deep.equal(['copy.onnx', 'copy.onnx.data']);
      expect(listing(dir)).to.deep.equal(before);
      expect(listing(modelDir)).to.deep.equal(['a.onnx', 'weights.bin']);
      const locations: string[] = [];
      forEachTensor(Model.load(path.join(outDir, 'copy.onnx')).proto, (t) => {
        for (const e of t.external_data ?? []) if (e.key === 'location') locations.push(e.value ?? '');
      });
      expect(locations).to.deep.equal(['copy.onnx.data', 'copy.onnx.data']);
    });

    it('an output path that is a folder is refused, leaving nothing behind', () => {
      const dir = tmp.make('save-dir');
      mkdirSync(path.join(dir, 'target'));
      const m = Model.fromBytes(modelBytes(smallMlp({ big: true })));
      for (const externalData of [false, true]) {
        expectError(() => m.save(path.join(dir, 'target'), { externalData }), {
          cls: PathError,
          code: 'not-a-file',
          message: /output '.*target' is a folder; give the model a file name/,
        });
      }
      mkdirSync(path.join(dir, 'm.onnx.data'));
      expectError(() => m.save(path.join(dir, 'm.onnx'), { externalData: true }), {
        cls: PathError,
        code: 'not-a-file',
        message: /external data file 'm\.onnx\.data' would replace a folder/,
      });
      expect(listing(dir)).to.deep.equal(['m.onnx.data', 'target']);
      expect(listing(path.join(dir, 'target'))).to.deep.equal([]);
    });

    it('an output folder that does not exist is refused', () => {
      const dir = tmp.make('save-nodir');
      const m = Model.fromBytes(modelBytes(smallMlp()));
      expectError(() => m.save(path.join(dir, 'missing', 'm.onnx')), {
        cls: PathError,
        code: 'missing-dir',
        message: /output folder '.*missing' does not exist/,
      });
    });

    it('a missing input file is a PathError', () => {
      const dir = tmp.make('load-missing');
      expectError(() => Model.load(path.join(dir, 'nope.onnx')), { cls: PathError, code: 'missing-file', message: /model file '.*nope\.onnx' does not exist/ });
      expectError(() => Model.load(dir), { cls: PathError, code: 'not-a-file', message: /is not a regular file/ });
    });
  });

  describe('happy path: external data', function () {

    it('a model saved with external data loads back and ONNX Runtime gives the same outputs as inline', async () => {
      const dir = tmp.make('happy');
      const m = Model.load(REAL_MODEL);
      const extFile = path.join(dir, 'ext.onnx');
      const r = m.save(extFile, { externalData: true });
      expect(r.externalTensors).to.be.greaterThan(10);
      expect(r.externalDataFile).to.equal(path.join(dir, 'ext.onnx.data'));
      expect(statSync(extFile).size).to.be.below(statSync(REAL_MODEL).size / 10);
      expect(listing(dir)).to.deep.equal(['ext.onnx', 'ext.onnx.data']);

      const back = Model.load(extFile);
      const refs: TensorWithRef[] = [];
      forEachTensor(back.proto, (t) => {
        if ((t as TensorWithRef)[EXTERNAL_REF]) refs.push(t as TensorWithRef);
      });
      expect(refs).to.have.length(r.externalTensors);
      for (const t of refs) expect(t[EXTERNAL_REF]!.offset % 64, `offset of '${t.name}' is aligned`).to.equal(0);
      // inlining the reloaded model gives the original file back
      const inlineBytes = back.toBytes();
      expect(referenceJson(inlineBytes)).to.equal(referenceJson(readFileSync(REAL_MODEL)));
      expect(Buffer.from(inlineBytes).equals(readFileSync(REAL_MODEL))).to.equal(true);

      const inline = await runSeeded(REAL_MODEL, 99);
      const external = await runSeeded(extFile, 99);
      expect(maxAbsDiff(inline, external)).to.equal(0);
    });

    it('every fixture model survives external save -> load -> inline byte for byte; ORT agrees on the float32 ones', async () => {
      const dir = tmp.make('happy-all');
      const models = readdirSync(path.dirname(REAL_MODEL)).filter((f) => f.endsWith('.onnx'));
      expect(models.length).to.be.at.least(7);
      for (const name of models) {
        const src = path.join(path.dirname(REAL_MODEL), name);
        const out = path.join(dir, name);
        const r = Model.load(src).save(out, { externalData: true, externalThresholdBytes: 256 });
        expect(r.externalTensors, name).to.be.greaterThan(0);
        expect(Buffer.from(Model.load(out).toBytes()).equals(readFileSync(src)), `${name} inlined again`).to.equal(true);
        if (name.includes('fp16')) continue; // float16 inputs: the seeded-input helper makes float32 only
        expect(maxAbsDiff(await runSeeded(src, 5), await runSeeded(out, 5)), name).to.equal(0);
      }
    });

    it("'auto' keeps small models inline and moves data out past the size limit", () => {
      const dir = tmp.make('auto');
      const m = Model.fromBytes(modelBytes(smallMlp({ big: true })));
      expect(m.save(path.join(dir, 'small.onnx')).externalTensors).to.equal(0);
      const r = m.save(path.join(dir, 'limited.onnx'), { externalData: 'auto', autoLimitBytes: 1000 });
      expect(r.externalTensors).to.equal(2);
      expect(listing(dir)).to.deep.equal(['limited.onnx', 'limited.onnx.data', 'small.onnx']);
      const back = Model.load(path.join(dir, 'limited.onnx'));
      const w = back.graph.value('w').initializer as TensorProto;
      expect(w.data_location).to.equal(1);
      const again = decodeModel(back.toBytes()).proto as ModelProto;
      expect(again.graph!.initializer![0]!.raw_data!.length).to.equal(4096);
    });

    it('secret bytes outside the model folder are never read: a valid sibling file is', () => {
      const dir = tmp.make('sibling');
      const file = externalDataModel(dir, { entries: [['location', 'weights.bin'], ['length', '16']] });
      const m = Model.load(file);
      const raw = Model.fromBytes(m.toBytes()).graph.value('w').initializer!.raw_data!;
      expect(Array.from(new Float32Array(Uint8Array.from(raw).buffer))).to.deep.equal([0, 1, 2, 3]);
      expect(Buffer.from(m.toBytes()).includes(Buffer.from(SECRET))).to.equal(false);
    });
  });
});
