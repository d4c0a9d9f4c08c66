/**
 * Reliability defect 7 of issue 11: names with terminal escapes reached stdout raw (they were
 * escaped on stderr only), commander's usage errors took two lines, integer options took `abc`,
 * and a patch alpha of 1e308 was written as infinity. Each case runs the CLI in-process.
 */
import { expect } from 'chai';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { decode, encode } from '../../src/onnx/codec.js';
import type { ModelProto } from '../../src/onnx/proto-types.js';
import { cli } from '../helpers/cli.js';
import { TempDirs } from '../helpers/temp-dir.js';
import { FIXTURE_MODELS } from '../helpers/test-data.js';

const tmp = new TempDirs('iqa-output-safety');
const RESNET = path.join(FIXTURE_MODELS, 'resnet18_iqa.onnx');
/** Clear screen (CSI in C0 form) and an 8-bit CSI (U+009B): what a hostile name would carry. */
const EVIL = '\x1b[2J\x9b31m';
/** Raw control characters a terminal obeys (newline and tab aside). */
const RAW_CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/;

/** The ResNet-18 fixture with EVIL in every node name and in the graph input's name. */
function evilModel(dir: string): string {
  const m = decode<ModelProto>(new Uint8Array(readFileSync(RESNET)), 'ModelProto');
  const ren = (s: string): string => (s === 'input' ? `in${EVIL}put` : s);
  for (const n of m.graph!.node!) {
    n.name = `${EVIL}${n.name ?? ''}`;
    n.input = n.input!.map(ren);
  }
  for (const v of m.graph!.input!) v.name = ren(v.name!);
  const f = path.join(dir, 'evil.onnx');
  writeFileSync(f, encode(m, 'ModelProto'));
  return f;
}

function expectOneLineError(r: { code: number; out: string; err: string }, re: RegExp): void {
  expect(r.code, r.err).to.equal(1);
  expect(r.err, 'one line').to.match(/^iqa-surgeon: error: [^\n]*\n$/);
  expect(r.err).to.match(re);
}

describe('CLI output safety (issue 11, defect 7)', () => {
  let evil = '';
  before(() => {
    evil = evilModel(tmp.make('evil'));
  });
  after(() => tmp.cleanup());

  describe('names with terminal escapes are escaped on stdout', () => {
    for (const args of [['inspect'], ['stages', '--no-probe'], ['stages']]) {
      it(`${args.join(' ')}: no raw control character, the escape shown as \\x1b`, async () => {
        const r = await cli(...args, evil);
        expect(r.code, r.err).to.equal(0);
        expect(r.out).to.include('\\x1b[2J\\x9b31m');
        expect(RAW_CONTROL.test(r.out), r.out.slice(0, 400)).to.equal(false);
      });
    }

    it('equiv (human output) names the differing input escaped', async () => {
      const r = await cli('equiv', '--structural', RESNET, evil);
      expect(r.code, r.err).to.equal(3);
      expect(`${r.out}${r.err}`).to.include('\\x1b[2J');
      expect(RAW_CONTROL.test(r.out)).to.equal(false);
      expect(RAW_CONTROL.test(r.err)).to.equal(false);
    });

    it('JSON output stays valid JSON and parses back to the exact names (C1 characters as \\u009b)', async () => {
      const r = await cli('inspect', '--json', evil);
      expect(r.code, r.err).to.equal(0);
      expect(RAW_CONTROL.test(r.out)).to.equal(false);
      const report = JSON.parse(r.out) as { inputs: { name: string }[] };
      expect(report.inputs.map((i) => i.name)).to.include(`in${EVIL}put`);
    });
  });

  describe('commander usage errors are one line, exit 1', () => {
    const cases: [string[], RegExp][] = [
      [['inspect', '--bogus', 'x.onnx'], /unknown option '--bogus' \(run with --help for usage\)$/m],
      [['inspek'], /unknown command 'inspek' \(Did you mean inspect\?\) \(run with --help/],
      [['inspect', '--jsn', 'x.onnx'], /unknown option '--jsn' \(Did you mean --json\?\)/],
      [['inspect'], /missing required argument 'model'/],
      [['dataset', 'info'], /required option '--data <spec>' not specified/],
      [[`--${EVIL}`], /unknown option '--\\x1b\[2J\\x9b31m'/],
    ];
    for (const [args, re] of cases) {
      it(JSON.stringify(args), async () => expectOneLineError(await cli(...args), re));
    }
  });

  describe('integer options parse strictly (one parser for every command)', () => {
    const cases: [string[], RegExp][] = [
      [['splice', RESNET, '--stage', 'layer3', '--seed', 'abc', '-o', 'x.onnx'], /--seed 'abc' must be an integer from 0 to 4294967295/],
      [['splice', RESNET, '--stage', 'layer3', '--seed', '1e3', '-o', 'x.onnx'], /--seed '1e3' must be an integer/],
      [['splice', RESNET, '--stage', 'layer3', '--seed', '-1', '-o', 'x.onnx'], /--seed '-1' must be an integer/],
      [['splice', RESNET, '--stage', 'layer3', '--kernel', 'abc', '-o', 'x.onnx'], /--kernel 'abc' must be an integer from 1 to 3/],
      [['splice', RESNET, '--stage', 'layer3', '--ns-iterations', '2.5', '-o', 'x.onnx'], /--ns-iterations '2.5' must be a positive integer/],
      [['splice', RESNET, '--stage', 'layer3', '--square', '0x10', '-o', 'x.onnx'], /--square '0x10' must be a positive integer/],
      [['convert', RESNET, '-o', 'x.onnx', '--threshold', '99999999999999999999'], /--threshold '99999999999999999999' must be a positive integer/],
      [['fold', RESNET, '-o', 'x.onnx', '--max-bytes', '1e3'], /--max-bytes '1e3' must be a positive integer/],
      [['equiv', RESNET, RESNET, '--inputs', FIXTURE_MODELS, '--max-images', ' 2'], /--max-images ' 2' must be a positive integer/],
      [['dataset', 'make-default', '--out', 'x', '--seed', 'abc'], /--seed 'abc' must be an integer from 0 to 4294967295/],
      [['dataset', 'info', '--data', 'folder:x', '--split-seed', '1.5'], /--split-seed '1.5' must be an integer/],
    ];
    for (const [args, re] of cases) {
      it(args.filter((a) => a.startsWith('--')).join(' '), async () => expectOneLineError(await cli(...args), re));
    }
  });

  describe('numbers that would become infinity are refused', () => {
    it('splice --alpha 1e308 (finite in float64, infinity as the float32 initializer)', async () => {
      expectOneLineError(await cli('splice', RESNET, '--stage', 'layer3', '--alpha', '1e308', '-o', 'x.onnx'), /--alpha '1e308' is outside float32's range/);
    });

    const patches: [string, string, RegExp][] = [
      ['alpha 1e308 (YAML)', '- splice: { stage: layer3, alpha: 1e308 }\n', /step 1 \(splice\): 'alpha' = 1e\+308 must be a finite number within float32 range/],
      ['alpha 1e999 (JSON: infinity)', '{"steps": [{"op": "splice", "stage": "layer3", "alpha": 1e999}]}', /'alpha' = Infinity must be a finite number/],
      ['reduce .inf (YAML)', '- splice: { stage: layer3, reduce: .inf }\n', /'reduce' = Infinity must be a finite number/],
      ['seed 0.5', '- splice: { stage: layer3, seed: 0.5 }\n', /'seed' = 0.5 must be an integer/],
      ['replace-op alpha=1e39', '- replace-op: { op: Relu, with: "LeakyRelu[alpha=1e39]" }\n', /LeakyRelu attribute 'alpha' = 1e\+39 is not a finite float32 number/],
    ];
    for (const [what, text, re] of patches) {
      it(`apply: ${what}`, async () => {
        const dir = tmp.make('patch');
        const f = path.join(dir, text.startsWith('{') ? 'p.json' : 'p.yaml');
        writeFileSync(f, text);
        const r = await cli('apply', RESNET, f, '-o', path.join(dir, 'out.onnx'));
        expectOneLineError(r, re);
      });
    }
  });
});
