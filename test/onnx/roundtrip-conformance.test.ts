/**
 * Conformance of lossless I/O: every ONNX file we can find (Debian's ONNX backend test data, the
 * shared real graphs, our fixtures) is loaded with Model.load and saved with model.save without
 * edits. The saved file must decode to the same model under an independent decoder (onnx-proto's
 * protobufjs code) in every case, and be byte-identical in at least 99% of cases.
 */
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Model } from '../../src/ir/model.js';
import { modelBytes, smallMlp } from '../helpers/proto-build.js';
import { referenceJson } from '../helpers/reference-decoder.js';
import { TempDirs } from '../helpers/temp-dir.js';
import { DEBIAN_ONNX_TESTDATA, FIXTURE_MODELS, isDir, REALDATA_ONNX, requireOrSkip, walkFiles } from '../helpers/test-data.js';

interface Tally {
  files: number;
  byteIdentical: number;
  decodedEqual: number;
  differing: string[];
  notEqual: string[];
}

const tmp = new TempDirs('iqa-roundtrip');

function roundTripAll(files: string[], label: string): Tally {
  const outDir = tmp.make(label);
  const t: Tally = { files: files.length, byteIdentical: 0, decodedEqual: 0, differing: [], notEqual: [] };
  files.forEach((file, i) => {
    const out = path.join(outDir, `${i}.onnx`);
    // failures to load or save are bugs here: all these files are valid ONNX
    Model.load(file).save(out, { externalData: false });
    const before = readFileSync(file);
    const after = readFileSync(out);
    if (before.equals(after)) t.byteIdentical++;
    else t.differing.push(file);
    if (referenceJson(before) === referenceJson(after)) t.decodedEqual++;
    else t.notEqual.push(file);
  });
  return t;
}

function report(label: string, t: Tally): void {
  console.log(`      ${label}: ${t.files} files, ${t.byteIdentical} byte-identical, ${t.decodedEqual} decoded-equal`);
  if (t.differing.length > 0) console.log(`      not byte-identical: ${t.differing.slice(0, 10).join(', ')}`);
}

function check(t: Tally): void {
  expect(t.files).to.be.greaterThan(0);
  expect(t.notEqual, 'files whose saved copy decodes to a different model').to.deep.equal([]);
  expect(t.decodedEqual).to.equal(t.files);
  expect(t.byteIdentical / t.files, 'share of byte-identical saves').to.be.at.least(0.99);
}

describe('onnx round-trip conformance (load -> save, no edits)', function () {
  const total: Tally = { files: 0, byteIdentical: 0, decodedEqual: 0, differing: [], notEqual: [] };
  after(() => {
    tmp.cleanup();
    if (total.files > 0) report('all corpora', total);
  });
  const add = (t: Tally): void => {
    total.files += t.files;
    total.byteIdentical += t.byteIdentical;
    total.decodedEqual += t.decodedEqual;
  };

  it('ONNX backend test data (Debian libonnx-testdata)', function () {
    requireOrSkip(this, isDir(DEBIAN_ONNX_TESTDATA), `${DEBIAN_ONNX_TESTDATA} (apt-get install libonnx-testdata)`);
    const files = walkFiles(DEBIAN_ONNX_TESTDATA, (n) => n === 'model.onnx');
    const t = roundTripAll(files, 'debian');
    report('libonnx-testdata', t);
    add(t);
    check(t);
  });

  it('real graphs (../shared/realdata/onnx)', function () {
    const files = walkFiles(REALDATA_ONNX, (n) => n.endsWith('.onnx'));
    requireOrSkip(this, files.length > 0, `${REALDATA_ONNX} (shared real graphs)`);
    const t = roundTripAll(files, 'realdata');
    report('realdata', t);
    add(t);
    check(t);
  });

  it('fixture models (fixtures/models)', () => {
    const files = walkFiles(FIXTURE_MODELS, (n) => n.endsWith('.onnx'));
    expect(files.length).to.be.at.least(7);
    const t = roundTripAll(files, 'fixtures');
    report('fixtures', t);
    add(t);
    check(t);
    // the project's own fixtures must all be exact
    expect(t.byteIdentical).to.equal(t.files);
  });

  it('the independent comparison notices a one-field difference (sanity check of the check)', () => {
    const file = path.join(FIXTURE_MODELS, 'qdq_conv.onnx');
    const m = Model.load(file);
    const first = m.graph.nodes[0]!;
    first.proto.name = `${first.name}_x`;
    expect(referenceJson(m.toBytes())).to.not.equal(referenceJson(readFileSync(file)));
  });

  // Known issue (reported, not fixed here): string fields are decoded with a non-fatal UTF-8
  // decoder, so bytes that are not valid UTF-8 (legal in proto2 files, accepted by ONNX Runtime)
  // come back as U+FFFD and an untouched message no longer re-encodes to its bytes. Remove `.skip`
  // once the codec keeps such strings losslessly (or rejects them with an OnnxFormatError).
  it('a string field holding invalid UTF-8 survives load -> save byte for byte', () => {
    const m = smallMlp();
    m.doc_string = 'PLACEHOLDER';
    const bytes = Buffer.from(modelBytes(m));
    bytes[bytes.indexOf('PLACEHOLDER')] = 0xe9; // Latin-1 'é': not UTF-8
    expect(Buffer.from(Model.fromBytes(bytes).toBytes()).equals(bytes)).to.equal(true);
  });

  it('toBytes() equals the saved bytes (in-memory and file paths agree)', () => {
    const file = path.join(FIXTURE_MODELS, 'qdq_conv.onnx');
    const bytes = Model.load(file).toBytes();
    expect(Buffer.from(bytes).equals(readFileSync(file))).to.equal(true);
  });
});
