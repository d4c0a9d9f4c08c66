/**
 * Failures found by fuzzing (npm run fuzz) and by the reliability review, each kept as a case
 * built fresh in a folder and run through the CLI's main() in-process: the exit status and
 * message it must give now. The amplification cases also run as child processes with a peak-RSS
 * bound (src/reliability/child-run.ts, the method of test/onnx/malformed-cli.test.ts).
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { probeValues } from '../../src/analysis/shape-probe.js';
import { main } from '../../src/cli/main.js';
import { UserError } from '../../src/errors.js';
import { Model } from '../../src/ir/model.js';
import { decode, encode } from '../../src/onnx/codec.js';
import type { ModelProto } from '../../src/onnx/proto-types.js';
import { runCliMeasured } from '../../src/reliability/child-run.js';
import { writeFileAtomic } from '../../src/util/atomic-write.js';
import { FLOAT, model, modelBytes, node, smallMlp, tensorInfo } from '../helpers/proto-build.js';
import { TempDirs } from '../helpers/temp-dir.js';
import { requireBuild } from '../helpers/test-data.js';

const tmp = new TempDirs('iqa-regress');
/** Hang bound of the child-process runs: generous, so a loaded machine never fails them. */
const HANG_MS = 240_000;

/** CRC-32 (PNG chunks). */
function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1;
  }
  return (c ^ 0xffffffff) >>> 0;
}

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await main(['node', 'iqa-surgeon', ...args], { out: (s) => (stdout += s), err: (s) => (stderr += s) });
  return { code, stdout, stderr };
}

/** Exit 1 with exactly one line `iqa-surgeon: error: ...` matching `re`. */
function expectOneLine(r: { code: number; stderr: string }, re: RegExp): string {
  expect(r.code, r.stderr.slice(0, 500)).to.equal(1);
  const m = /^iqa-surgeon: error: (.*)\n$/.exec(r.stderr);
  expect(m, `one line: ${r.stderr.slice(0, 300)}`).to.not.equal(null);
  expect(m![1]).to.match(re);
  return m![1]!;
}

/** A ModelProto of `n` empty nodes (2 bytes each) inside its graph, as wire bytes. */
function emptyNodesBytes(n: number, tag = 0x0a): Uint8Array {
  const len: number[] = [];
  for (let v = 2 * n; ; v = Math.floor(v / 128)) {
    if (v < 128) {
      len.push(v);
      break;
    }
    len.push((v % 128) | 0x80);
  }
  const head = [0x08, 0x08, 0x3a, ...len];
  const out = new Uint8Array(head.length + 2 * n);
  out.set(head);
  for (let i = 0; i < n; i++) out[head.length + 2 * i] = tag;
  return out;
}

const writeModel = (dir: string, m: ModelProto | Uint8Array, name = 'model.onnx'): string => {
  const f = path.join(dir, name);
  writeFileSync(f, m instanceof Uint8Array ? m : encode(m, 'ModelProto'));
  return f;
};

describe('regressions found by fuzzing', function () {
  after(() => tmp.cleanup());

  it('a 10 MB file of 5 million empty nodes is refused at the node limit (was: 3 GB of memory and 53 s)', async () => {
    const f = writeModel(tmp.make('amp'), emptyNodesBytes(5_000_000));
    expectOneLine(await cli(['inspect', f]), /^the model has more than 40000 nodes, over the limit \(raise it with --max-nodes\)$/);
    requireBuild();
    const r = await runCliMeasured(['inspect', f], { timeoutMs: HANG_MS, scratch: path.dirname(f) });
    expect(r.status).to.equal(1);
    expect(r.maxRssKiB / 1024, 'peak RSS, MiB').to.be.below(400);
  });

  it('1.5 million empty value_infos (not nodes) stop at the protobuf message limit', async () => {
    const f = writeModel(tmp.make('amp2'), emptyNodesBytes(1_500_000, 0x6a));
    expectOneLine(await cli(['inspect', f]), /more than 1000000 protobuf messages.*--max-proto-messages/);
    requireBuild();
    const r = await runCliMeasured(['inspect', f], { timeoutMs: HANG_MS, scratch: path.dirname(f) });
    expect(r.status).to.equal(1);
    expect(r.maxRssKiB / 1024, 'peak RSS, MiB').to.be.below(600);
  });

  it('a 200,000-character name is shortened in the message (was: echoed whole)', async () => {
    const m = smallMlp();
    const long = 'x'.repeat(200_000);
    m.graph!.node![1]!.input = [long];
    const msg = expectOneLine(await cli(['inspect', writeModel(tmp.make('long'), m)]), /reads 'x{60}…\(200000 characters\)…x{20}'/);
    expect(msg.length).to.be.at.most(1000);
  });

  it('control characters in names are escaped, never written to the terminal', async () => {
    const m = smallMlp();
    m.graph!.node![1]!.input = ['evil\u001b[2J\u0007\r'];
    const msg = expectOneLine(await cli(['inspect', writeModel(tmp.make('ctl'), m)]), /reads 'evil\\x1b\[2J\\x07\\x0d'/);
    expect(msg).to.not.match(/[\u0000-\u001f]/);
  });

  it('an inline tensor with a negative dim is refused at load (was: convert wrote it, the next load refused it)', async () => {
    const m = smallMlp();
    m.graph!.initializer![0]!.dims = [-2147483648];
    const dir = tmp.make('negdim');
    const r = await cli(['convert', writeModel(dir, m), '-o', path.join(dir, 'out.onnx')]);
    expectOneLine(r, /^tensor 'w' has an invalid dimension -2147483648$/);
    expect(existsSync(path.join(dir, 'out.onnx'))).to.equal(false);
  });

  it('an int64_data tensor whose dims claim a billion elements is refused before anything is allocated (was: an 8 GB allocation, exit 2)', async () => {
    const m = smallMlp();
    m.graph!.initializer!.push({ name: 'shape', dims: [1_000_000_000], data_type: 7, int64_data: [1, 2] });
    const dir = tmp.make('bigdims');
    const r = await cli(['convert', writeModel(dir, m), '-o', path.join(dir, 'out.onnx'), '--external-data']);
    expectOneLine(r, /^tensor 'shape' has 2 values for 1000000000 elements$/);
    expect(existsSync(path.join(dir, 'out.onnx'))).to.equal(false);
  });

  it('raw_data whose size disagrees with dims and data type is refused at load (was: convert --external-data wrote a file the load refused)', async () => {
    const m = smallMlp();
    m.graph!.initializer![0]!.data_type = 17; // float8e4m3fn: 1 byte per element, the payload has 4
    const dir = tmp.make('rawsize');
    const r = await cli(['convert', writeModel(dir, m), '-o', path.join(dir, 'out.onnx'), '--external-data', '--threshold', '1']);
    expectOneLine(r, /^tensor 'w' has 16 bytes of raw_data, but its dims \[4\] and data type float8e4m3fn need 4$/);
  });

  it('a tensor of an unknown data type stays inline under --external-data (was: moved out, and the next load refused the file)', async () => {
    const m = smallMlp({ big: true });
    m.graph!.initializer![0]!.data_type = 99;
    const dir = tmp.make('dtype99');
    const r = await cli(['convert', writeModel(dir, m), '-o', path.join(dir, 'out.onnx'), '--external-data']);
    expect(r.code, r.stderr).to.equal(0);
    const again = await cli(['convert', path.join(dir, 'out.onnx'), '-o', path.join(dir, 'again.onnx')]);
    expect(again.code, again.stderr).to.equal(0);
    const out = decode<ModelProto>(new Uint8Array(readFileSync(path.join(dir, 'out.onnx'))), 'ModelProto');
    const w = out.graph!.initializer!.find((t) => t.name === 'w')!;
    expect(w.data_location ?? 0).to.equal(0);
    expect(w.raw_data?.length).to.equal(4096);
  });

  it('the shape probe refuses an input shape over the tensor element limit before allocating it', async () => {
    const m = new Model(model({ nodes: [node('Relu', ['x'], ['y'], 'relu')], inputs: [tensorInfo('x', FLOAT, [100_000, 100_000])], outputs: [tensorInfo('y', FLOAT, [100_000, 100_000])] }));
    let caught: unknown;
    try {
      await probeValues(m, ['y']);
    } catch (e) {
      caught = e;
    }
    expect(caught).to.be.instanceOf(UserError);
    expect((caught as UserError).code).to.equal('limit-tensor-elements');
    expect((caught as Error).message).to.match(/input 'x' \[100000,100000\] has 10000000000 elements, over the limit of 268435456 \(raise it with --max-tensor-elements\)/);
  });

  it('materialize on a damaged spliced model is bad input, exit 1 (was: ONNX Runtime error as an internal error, exit 2)', async function () {
    const dir = tmp.make('mat');
    const spliced = path.join(dir, 'spliced.onnx');
    const s = await cli(['splice', path.resolve('fixtures/models/linearity_iqa.onnx'), '--stage', 'layer3', '--orth', 'aol', '-o', spliced]);
    expect(s.code, `splice: ${s.stderr.trim().slice(0, 300)}`).to.equal(0);
    const m = decode<ModelProto>(new Uint8Array(readFileSync(spliced)), 'ModelProto');
    const axes = m.graph!.initializer!.find((t) => /ReduceSum.*axes/.test(t.name ?? ''));
    expect(axes, 'the AOL block has a ReduceSum axes initializer').to.not.equal(undefined);
    const b = new Uint8Array(Number(axes!.dims![0]) * 8);
    new DataView(b.buffer).setBigInt64(0, 2n ** 31n, true);
    axes!.raw_data = b;
    const bad = writeModel(dir, m, 'bad.onnx');
    expectOneLine(await cli(['materialize', bad, '-o', path.join(dir, 'out.onnx')]), /^ONNX Runtime cannot compute the block's constants: .*axis/);
  });
});

describe('stale temporary files of killed writers', () => {
  after(() => tmp.cleanup());

  it('are removed by the next write to the same target; live writers\' and other targets\' are kept', () => {
    const dir = tmp.make('sweep');
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    const deadPid = Number(dead.stdout);
    const names = [`.out.onnx.${deadPid}.0123abcd.tmp`, `.out.onnx.${process.pid}.0123abcd.tmp`, `.other.onnx.${deadPid}.0123abcd.tmp`, 'out.onnx.tmp'];
    for (const n of names) writeFileSync(path.join(dir, n), 'partial');
    writeFileAtomic(path.join(dir, 'out.onnx'), (w) => w.write(new Uint8Array([1, 2, 3])));
    expect(readdirSync(dir).sort()).to.deep.equal([names[1]!, names[2]!, 'out.onnx', 'out.onnx.tmp'].sort());
  });
});

describe('limits: caps refused up front with the cap named, raised by global flags', function () {
  const resnet = path.resolve('fixtures/models/resnet18_iqa.onnx');
  after(() => tmp.cleanup());

  const cases: [string, string[], RegExp][] = [
    ['model file bytes', ['--max-file-bytes', '1K'], /is \d+ bytes, over the limit of 1024 \(raise it with --max-file-bytes\)/],
    ['nodes', ['--max-nodes', '10'], /more than 10 nodes, over the limit \(raise it with --max-nodes\)/],
    ['protobuf messages', ['--max-proto-messages', '100'], /more than 100 protobuf messages, over the limit \(raise it with --max-proto-messages\)/],
    ['tensor elements', ['--max-tensor-elements', '1000'], /tensor '.*' has \d+ elements, over the limit of 1000 \(raise it with --max-tensor-elements\)/],
  ];
  for (const [what, flags, re] of cases) {
    it(`${what}: ${flags.join(' ')} refuses resnet18_iqa.onnx; before or after the command; defaults load it`, async () => {
      expectOneLine(await cli([...flags, 'inspect', resnet]), re);
      expectOneLine(await cli(['inspect', resnet, ...flags]), re);
      // the next run in the same process is back to the defaults
      expect((await cli(['inspect', resnet])).code).to.equal(0);
    });
  }

  it('raising a limit lets a model over the default through', async () => {
    const m = model({ nodes: [node('Relu', ['x'], ['y'], 'relu')], inputs: [tensorInfo('x', FLOAT, [1])], outputs: [tensorInfo('y', FLOAT, [1])] });
    m.graph!.initializer = [{ name: 'big', dims: [2 ** 31 + 1], data_type: 1 }];
    const f = writeModel(tmp.make('raise'), modelBytes(m));
    expectOneLine(await cli(['inspect', f]), /tensor 'big' has 2147483649 elements, over the limit of 2147483648/);
    // over the raised limit it gets to the next check (no payload for the dims), not the cap
    const r = await cli(['--max-tensor-elements', '4G', 'inspect', f]);
    expect(r.stderr).to.not.match(/over the limit/);
  });

  it('an image over the pixel cap is refused from its header, with the cap named; raising the cap lets it through', async () => {
    const sharp = (await import('sharp')).default;
    const dir = tmp.make('pixels');
    await sharp({ create: { width: 40, height: 30, channels: 3, background: { r: 90, g: 120, b: 200 } } })
      .png()
      .toFile(path.join(dir, 'a.png'));
    expectOneLine(await cli(['--max-image-pixels', '1000', 'dataset', 'info', '--data', `folder:${dir}`, '--load']), /image '.*a\.png' is 40x30 = 1200 pixels, over the limit of 1000 \(raise it with --max-image-pixels\)/);
    expect((await cli(['--max-image-pixels', '2000', 'dataset', 'info', '--data', `folder:${dir}`, '--load'])).code).to.equal(0);
  });

  it('a PNG whose header declares 100000 x 100000 pixels is refused before decoding', async () => {
    const sharp = (await import('sharp')).default;
    const dir = tmp.make('hugepng');
    const png = Buffer.from(await sharp({ create: { width: 8, height: 8, channels: 3, background: { r: 1, g: 2, b: 3 } } }).png().toBuffer());
    // IHDR: length(4) 'IHDR'(4) width(4) height(4) ... crc(4), right after the 8-byte signature
    png.writeUInt32BE(100_000, 16);
    png.writeUInt32BE(100_000, 20);
    png.writeUInt32BE(crc32(png.subarray(12, 29)), 29);
    writeFileSync(path.join(dir, 'huge.png'), png);
    expectOneLine(await cli(['dataset', 'info', '--data', `folder:${dir}`, '--load']), /is 100000x100000 = 10000000000 pixels, over the limit of 268435456 \(raise it with --max-image-pixels\)/);
  });

  it('limit values are checked: a bad value is a usage error naming the flag', async () => {
    expectOneLine(await cli(['--max-nodes', 'lots', 'inspect', resnet]), /^--max-nodes 'lots' must be a positive integer/);
    expectOneLine(await cli(['--max-file-bytes', '0', 'inspect', resnet]), /^--max-file-bytes '0' must be a positive integer/);
  });

  it('the library takes the same limits as load options', () => {
    let caught: unknown;
    try {
      Model.load(resnet, { maxNodes: 5 });
    } catch (e) {
      caught = e;
    }
    expect(caught).to.be.instanceOf(UserError);
    expect((caught as UserError).code).to.equal('limit-nodes');
  });
});
