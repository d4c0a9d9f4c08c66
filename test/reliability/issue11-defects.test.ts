/**
 * Regressions for the reliability review of issue 11 (defects 1, 2, 3, 4 and 6): each case
 * failed before its fix (a hang, exit 134 or 2, a replaced FIFO, a model paired with another
 * run's data file). Cases that could hang run as child processes (`node bin/iqa-surgeon.js`, the
 * built dist/) under a generous hang bound; the others call main() in-process.
 */
import { expect } from 'chai';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { main } from '../../src/cli/main.js';
import { UsageError } from '../../src/errors.js';
import { Model } from '../../src/ir/model.js';
import { tensorRawBytes } from '../../src/onnx/tensor-data.js';
import { checkSpliceOptionBounds, SPLICE_NUMERIC_BOUNDS } from '../../src/surgery/robust-block/bounds.js';
import { acquireLock, lockPathFor, tempPathFor } from '../../src/util/atomic-write.js';
import { readRegularFile } from '../../src/util/safe-read.js';
import { TempDirs } from '../helpers/temp-dir.js';

const ROOT = path.resolve('.');
const BIN = path.join(ROOT, 'bin/iqa-surgeon.js');
const RESNET = path.join(ROOT, 'fixtures/models/resnet18_iqa.onnx');
/** Hang bound for one child process: far above any healthy run on a loaded machine. */
const HANG_MS = 180_000;

const tmp = new TempDirs('iqa-issue11');

function mkfifo(p: string): void {
  const r = spawnSync('mkfifo', [p]);
  if (r.status !== 0) throw new Error(`mkfifo failed: ${String(r.stderr)}`);
}

interface Run {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
}

/** The CLI as a child process, killed after HANG_MS (then code is null and signal SIGKILL). */
function child(args: string[]): Run {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: HANG_MS, killSignal: 'SIGKILL' });
  return { code: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

function childAsync(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => p.kill('SIGKILL'), HANG_MS);
    p.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

async function inProcess(args: string[]): Promise<Run> {
  let stdout = '';
  let stderr = '';
  const code = await main(['node', 'iqa-surgeon', ...args], { out: (s) => (stdout += s), err: (s) => (stderr += s) });
  return { code, signal: null, stdout, stderr };
}

/** Exit 1, no signal, exactly one line `iqa-surgeon: error: ...` matching `re`. */
function expectOneLine(r: Run, re: RegExp): void {
  expect(r.signal, `killed (hang?) ${r.stderr.slice(0, 300)}`).to.equal(null);
  expect(r.code, r.stderr.slice(0, 500)).to.equal(1);
  const m = /^iqa-surgeon: error: (.*)\n$/.exec(r.stderr);
  expect(m, `one line: ${r.stderr.slice(0, 300)}`).to.not.equal(null);
  expect(m![1]).to.match(re);
}

describe('reliability: issue 11 defects', function () {
  this.timeout(20 * 60_000);
  after(() => tmp.cleanup());

  before(function () {
    if (!existsSync(path.join(ROOT, 'dist/cli/main.js'))) throw new Error('dist/ is missing: build first (npx tsc -p tsconfig.json)');
  });

  describe('defect 1: splice options are bounded, from the CLI and from patch files', () => {
    // [CLI args, patch option, the library's bound message, the CLI's message where the strict
    // option parser (src/cli/options.ts) refuses the text before the library sees a number]
    const bad: [string[], string, RegExp, RegExp?][] = [
      [['--ns-iterations', '100000000'], 'nsIterations: 100000000', /--ns-iterations must be an integer from 1 to 100; got 100000000/],
      [['--ns-iterations', '1e8'], 'nsIterations: 1e8', /--ns-iterations must be an integer from 1 to 100; got 100000000/, /--ns-iterations '1e8' must be a positive integer/],
      [['--alpha', '1e308'], 'alpha: 1e308', /--alpha (must be a number from -1000000 to 1000000 or 'norm'; got 1e\+308|= 1e\+308 must be a finite number within float32 range)/, /--alpha '1e308' is outside float32's range/],
      [['--square', '100000'], 'square: 100000', /--square must be an integer from 1 to 4096; got 100000/],
      [['--orth-kernel', '99999'], 'orthKernel: 99999', /--orth-kernel must be an integer from 1 to 63 \(odd\); got 99999/],
      [['--orth-kernel', '4'], 'orthKernel: 4', /--orth-kernel must be an integer from 1 to 63 \(odd\); got 4/],
      [['--reduce', '0'], 'reduce: 0', /--reduce must be a number > 0 and <= 1; got 0/],
      [['--reduce', 'Infinity'], 'reduce: .inf', /--reduce (must be a number > 0 and <= 1; got Infinity|= Infinity must be a finite number)/, /--reduce 'Infinity' is not a finite number/],
      [['--square', '2.5'], 'square: 2.5', /--square (must be an integer from 1 to 4096; got 2.5|= 2.5 must be an integer)/, /--square '2.5' must be a positive integer/],
      [['--seed', '-1'], 'seed: -1', /--seed must be an integer from 0 to 4294967295; got -1/, /--seed '-1' must be an integer from 0 to 4294967295/],
      [['--kernel', '2'], 'reduceKernel: 2', /--kernel must be an integer from 1 to 3 \(1 or 3\); got 2/],
    ];

    it('the CLI refuses each option beyond its bound: exit 1, one line naming the option, the bound and the value', function () {
      const d = tmp.make('splice-cli');
      for (const [args, , re, cliRe] of bad) {
        const r = child(['splice', RESNET, '--stage', 'layer4', '-o', path.join(d, 'out.onnx'), ...args]);
        expectOneLine(r, cliRe ?? re);
      }
      expect(existsSync(path.join(d, 'out.onnx'))).to.equal(false);
      // not numbers at all
      for (const [flag, v] of [['--seed', 'abc'], ['--alpha', 'NaN'], ['--ns-iterations', 'many']]) {
        expectOneLine(child(['splice', RESNET, '--stage', 'layer4', '-o', path.join(d, 'out.onnx'), flag!, v!]), new RegExp(`^${flag} '${v}' (is not a finite number|must be (a positive integer|an integer from))`));
      }
    });

    it('a patch file gets the same bounds (apply with a splice step), JSON and YAML', function () {
      const d = tmp.make('splice-patch');
      for (const [, yamlOpt, re] of bad) {
        const key = yamlOpt.split(':')[0]!;
        const patchRe = new RegExp(re.source.replace(/^--[a-z-]+/, `'${key}'`));
        writeFileSync(path.join(d, 'p.yaml'), `steps:\n  - splice: { stage: layer4, ${yamlOpt} }\n`);
        expectOneLine(child(['apply', RESNET, path.join(d, 'p.yaml'), '-o', path.join(d, 'out.onnx')]), patchRe);
      }
      writeFileSync(path.join(d, 'p.json'), JSON.stringify({ steps: [{ splice: { stage: 'layer4', alpha: 1e308 } }] }));
      // refused by the float32 check of patch numbers (or, below float32's range, by the alpha bound)
      expectOneLine(child(['apply', RESNET, path.join(d, 'p.json'), '-o', path.join(d, 'out.onnx')]), /'alpha' (must be a number from -1000000 to 1000000 or 'norm'; got 1e\+308|= 1e\+308 must be a finite number within float32 range)/);
      writeFileSync(path.join(d, 'p2.json'), JSON.stringify({ steps: [{ splice: { stage: 'layer4', alpha: 1e30 } }] }));
      expectOneLine(child(['apply', RESNET, path.join(d, 'p2.json'), '-o', path.join(d, 'out.onnx')]), /'alpha' must be a number from -1000000 to 1000000 or 'norm'; got 1e\+30/);
      writeFileSync(path.join(d, 'nan.yaml'), 'steps:\n  - splice: { stage: layer4, nsIterations: .nan }\n');
      expectOneLine(child(['apply', RESNET, path.join(d, 'nan.yaml'), '-o', path.join(d, 'out.onnx')]), /'nsIterations' (must be an integer from 1 to 100; got NaN|= NaN must be an integer)/);
      expect(existsSync(path.join(d, 'out.onnx'))).to.equal(false);
    });

    it('a huge spatial size after set-shape is refused before the block is built (and fold --max-bytes is bounded)', function () {
      const d = tmp.make('splice-size');
      writeFileSync(path.join(d, 'p.yaml'), 'steps:\n  - set-shape: { input: "input=1,3,60000,60000" }\n  - splice: { stage: layer4 }\n');
      // with the default --max-memory, the set-shape step's validation session is refused first (94 GiB estimated)
      expectOneLine(child(['apply', RESNET, path.join(d, 'p.yaml'), '-o', path.join(d, 'out.onnx')]), /refusing to run ONNX Runtime .* over the limit of .* \(raise it with --max-memory <GiB>\)/);
      // past it (a session is created, nothing runs), the splice's own geometry bounds refuse
      expectOneLine(child(['--max-memory', '1024', 'apply', RESNET, path.join(d, 'p.yaml'), '-o', path.join(d, 'out.onnx')]), /Cayley spectrum .* would have 3601920000 elements, over the limit of 2147483648 \(raise it with --max-tensor-elements\)/);
      // raising the element cap meets the next bound: the kernel spectrum's work
      expectOneLine(
        child(['--max-memory', '1024', '--max-tensor-elements', '16G', 'apply', RESNET, path.join(d, 'p.yaml'), '-o', path.join(d, 'out.onnx')]),
        /Cayley kernel spectrum of a 3x3 kernel on \[64,1875,1875\] needs [\d.e+]+ multiply-adds, over the bound of 1\.72e\+10/,
      );
      writeFileSync(path.join(d, 'big.yaml'), 'steps:\n  - set-shape: { input: "input=1,3,600000,600000" }\n  - splice: { stage: layer4, square: 8 }\n');
      // (at 600000 x 600000 even 1024 GiB does not cover set-shape's validation session: refused there, or by the edge bound)
      expectOneLine(child(['--max-memory', '1024', 'apply', RESNET, path.join(d, 'big.yaml'), '-o', path.join(d, 'out.onnx')]), /the edge's H is 18750, over the bound of 16384|refusing to run ONNX Runtime .* --max-memory/);
      writeFileSync(path.join(d, 'fold.yaml'), 'steps:\n  - fold: { maxBytes: .inf }\n');
      expectOneLine(child(['apply', RESNET, path.join(d, 'fold.yaml'), '-o', path.join(d, 'out.onnx')]), /'maxBytes' must be an integer from 1 to 8589934592; got Infinity/);
      expectOneLine(child(['fold', RESNET, '--max-bytes', '1e300', '-o', path.join(d, 'out.onnx')]), /--max-bytes '1e300' must be a positive integer/);
      expectOneLine(child(['fold', RESNET, '--max-bytes', '9999999999', '-o', path.join(d, 'out.onnx')]), /--max-bytes must be an integer from 1 to 8589934592; got 9999999999/);
    });

    it('the derived Newton-Schulz iteration count stays within its bound at the largest alpha', async function () {
      const d = tmp.make('splice-alpha');
      const r = await inProcess(['splice', RESNET, '--stage', 'layer4', '--alpha', '1e6', '--inverse', 'newton-schulz', '-o', path.join(d, 'out.onnx'), '--json']);
      expect(r.code, r.stderr).to.equal(0);
      const meta = JSON.parse(Model.load(path.join(d, 'out.onnx')).metadata().get('iqa-surgeon.robust_block')!) as { nsIterations: number }[];
      expect(meta[0]!.nsIterations).to.be.within(1, 100);
    });

    it('the other commands\' numeric options are bounded too', async function () {
      const d = tmp.make('other-bounds');
      expectOneLine(await inProcess(['dataset', 'make-default', '--out', path.join(d, 'ds'), '--size', '100000']), /^--size must be an integer from 1 to 20000; got 100000$/);
      expect(existsSync(path.join(d, 'ds'))).to.equal(false);
      expectOneLine(await inProcess(['equiv', RESNET, '--inputs', path.join(ROOT, 'fixtures/koniq-mini/1024x768'), '--max-images', '5000']), /^--max-images must be an integer from 1 to 1024; got 5000$/);
      expectOneLine(await inProcess(['equiv', RESNET, '--atol', 'Infinity']), /^--atol 'Infinity' must be a number >= 0/);
      expectOneLine(await inProcess(['convert', RESNET, '-o', path.join(d, 'x.onnx'), '--threshold', '99999999999999999999']), /^--threshold '99999999999999999999' must be a positive integer/);
      expectOneLine(await inProcess(['--max-nodes', '1e400', 'inspect', RESNET]), /^--max-nodes '1e400' must be a positive integer/);
    });

    it('one library check: every numeric option refuses NaN, infinities, non-integers where integers are needed, and values past its bound', () => {
      for (const b of SPLICE_NUMERIC_BOUNDS) {
        const bad = [NaN, Infinity, -Infinity, b.max + 1, b.min - 1, '3'];
        if (b.integer) bad.push(b.min + 0.5);
        for (const v of bad) expect(() => checkSpliceOptionBounds({ [b.key]: v }), `${b.key} = ${String(v)}`).to.throw(UsageError, new RegExp(`^${b.flag} must be`));
        for (const v of bad) expect(() => checkSpliceOptionBounds({ [b.key]: v }, 'patch'), `${b.key} = ${String(v)}`).to.throw(UsageError, new RegExp(`^'${b.key}' must be`));
        expect(() => checkSpliceOptionBounds({ [b.key]: b.max })).to.not.throw();
      }
    });
  });

  describe('defect 2: every user-supplied file is read only when it is a regular file within its cap', () => {
    let d: string;
    let fifo: string;
    let folder: string;
    before(() => {
      d = tmp.make('readers');
      fifo = path.join(d, 'fifo');
      mkfifo(fifo);
      folder = path.join(d, 'folder');
      mkdirSync(folder);
    });

    const specials = (): [string, string, RegExp][] => [
      ['a FIFO', fifo, /is not a regular file but a FIFO \(named pipe\)/],
      ['/dev/zero', '/dev/zero', /is not a regular file but a character device/],
      ['a folder', folder, /is not a regular file but a folder/],
    ];

    it('model files (inspect, convert)', function () {
      for (const [, p, re] of specials()) {
        expectOneLine(child(['inspect', p]), re);
        expectOneLine(child(['convert', p, '-o', path.join(d, 'out.onnx')]), re);
      }
    });

    it('patch files (apply)', function () {
      for (const [, p, re] of specials()) expectOneLine(child(['apply', RESNET, p, '-o', path.join(d, 'out.onnx')]), new RegExp(`patch file '.*' ${re.source}`));
    });

    it('CSV score files and split files (dataset info)', function () {
      const data = path.join(d, 'data');
      mkdirSync(data);
      writeFileSync(path.join(data, 'scores.csv'), 'path,mos\n');
      for (const [, p, re] of specials()) {
        if (p === folder) continue; // csv:<folder> is a folder dataset spec, not a CSV file
        expectOneLine(child(['dataset', 'info', '--data', `csv:${p}`]), new RegExp(`score file '.*' ${re.source}`));
        expectOneLine(child(['dataset', 'info', '--data', path.join(ROOT, 'fixtures/koniq-mini'), '--skip-bad', '--split', 'train', '--split-file', p]), new RegExp(`split file '.*' ${re.source}`));
      }
      expectOneLine(child(['dataset', 'info', '--data', path.join(ROOT, 'fixtures/koniq-mini'), '--skip-bad', '--split', 'train', '--split-file', folder]), /split file '.*' is not a regular file but a folder/);
    });

    it('images (dataset info --load, equiv --inputs <folder>)', function () {
      const imgs = path.join(d, 'images');
      mkdirSync(imgs);
      mkfifo(path.join(imgs, 'a.png'));
      expectOneLine(child(['dataset', 'info', '--data', `folder:${imgs}`, '--load']), /image file '.*a\.png' is not a regular file but a FIFO \(named pipe\)/);
      expectOneLine(child(['equiv', RESNET, '--inputs', imgs]), /image file '.*a\.png' is not a regular file but a FIFO \(named pipe\)/);
    });

    it('the reader refuses files over its cap before reading them', () => {
      const f = path.join(d, 'big.txt');
      writeFileSync(f, 'x'.repeat(2000));
      expect(() => readRegularFile(f, { what: 'patch file', maxBytes: 1000 })).to.throw(/patch file '.*big\.txt' is 2000 bytes, over the limit of 1000/);
      expect(readRegularFile(f, { what: 'patch file', maxBytes: 2000 }).length).to.equal(2000);
    });
  });

  describe('defect 3: concurrent external-data writers never pair a model with another run\'s data', () => {
    it('two `convert --external-data` runs into one output, 12 rounds: the result is always one run\'s model with its own data', async function () {
      const d = tmp.make('concurrent');
      const a = RESNET;
      const b = path.join(d, 'negated.onnx');
      // B: every float initializer negated (large ones go to the data file, small ones stay inline)
      const mb = Model.load(a);
      let negated = 0;
      for (const v of mb.graph.initializers()) {
        const t = v.initializer!;
        if (t.data_type !== 1) continue;
        const raw = tensorRawBytes(t);
        const f = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
        for (let i = 0; i < f.length; i++) f[i] = -f[i]! - 1;
        t.raw_data = new Uint8Array(f.buffer);
        delete t.float_data;
        negated++;
      }
      expect(negated).to.be.greaterThan(10);
      mb.save(b);
      const weights = (file: string): Map<string, string> => {
        const m = Model.load(file);
        return new Map(m.graph.initializers().map((v) => [v.name, Buffer.from(tensorRawBytes(v.initializer!)).toString('base64')]));
      };
      const wa = weights(a);
      const wb = weights(b);
      const out = path.join(d, 'out.onnx');
      const wins = { a: 0, b: 0 };
      for (let round = 0; round < 12; round++) {
        // Widened race windows (a test hook): A sleeps 3 s between renaming its data file and its
        // model into place, B waits 1.5 s before it commits; without the lock B's data and model
        // land inside A's window and A's model then reads B's data (every round, found by
        // removing the lock). The runs alternate roles.
        const slow = { IQA_SURGEON_TEST_PAUSE: 'between-renames=3000' };
        const late = { IQA_SURGEON_TEST_PAUSE: 'before-commit=1500' };
        const [ra, rb] = await Promise.all([
          childAsync(['convert', a, '-o', out, '--external-data'], round % 2 === 0 ? slow : late),
          childAsync(['convert', b, '-o', out, '--external-data'], round % 2 === 0 ? late : slow),
        ]);
        for (const r of [ra, rb]) expect(r.code, `round ${round}: ${r.stderr}`).to.equal(0);
        const got = weights(out);
        const whole = (ref: Map<string, string>): boolean => [...ref].every(([k, v]) => got.get(k) === v);
        const isA = whole(wa);
        const isB = whole(wb);
        expect(isA || isB, `round ${round}: the model at the output mixes the two runs' weights (a model paired with the other run's data file)`).to.equal(true);
        wins[isA ? 'a' : 'b']++;
        expect(readdirSync(d).filter((f) => f.endsWith('.tmp') || f.endsWith('.lock')), 'temporary files or locks left').to.deep.equal([]);
      }
      expect(wins.a + wins.b).to.equal(12);
    });

    it('a lock held by a live writer makes the next one wait and then refuse; a dead writer\'s lock is removed', function () {
      const d = tmp.make('lock');
      const target = path.join(d, 'm.onnx');
      const release = acquireLock(target);
      expect(() => acquireLock(target, 300)).to.throw(/another iqa-surgeon process \(pid \d+\) is writing '.*m\.onnx'; waited 0 s/);
      release();
      expect(existsSync(lockPathFor(target))).to.equal(false);
      // a lock left by a process that is gone (a finished child's pid)
      const gone = spawnSync(process.execPath, ['-e', '0']).pid!;
      writeFileSync(lockPathFor(target), `${gone}\n`);
      const r2 = acquireLock(target, 300);
      expect(readFileSync(lockPathFor(target), 'utf8').trim()).to.equal(String(process.pid));
      r2();
    });
  });

  describe('defect 4: -o onto an existing non-regular file exits 1 and leaves it untouched', () => {
    const commands = (input: string, o: string): string[][] => [
      ['convert', input, '-o', o],
      ['convert', input, '-o', o, '--external-data'],
      ['splice', input, '--stage', 'layer4', '-o', o],
      ['rename', input, '--map', 'score=quality', '-o', o],
      ['cleanup', input, '-o', o],
      ['dataset', 'preprocess', input, '-o', o],
    ];

    it('a FIFO stays a FIFO', async function () {
      const d = tmp.make('o-fifo');
      const fifo = path.join(d, 'out.onnx');
      mkfifo(fifo);
      for (const argv of commands(RESNET, fifo)) {
        expectOneLine(await inProcess(argv), /output '.*out\.onnx' is a FIFO \(named pipe\), not a regular file; refusing to replace it/);
        expect(statSync(fifo).isFIFO(), argv.join(' ')).to.equal(true);
      }
      // the external data file of the output is a FIFO
      const data = path.join(d, 'other.onnx.data');
      mkfifo(data);
      expectOneLine(await inProcess(['convert', RESNET, '-o', path.join(d, 'other.onnx'), '--external-data']), /external data file '.*other\.onnx\.data' is a FIFO/);
      expect(statSync(data).isFIFO()).to.equal(true);
      expect(existsSync(path.join(d, 'other.onnx'))).to.equal(false);
    });

    it('a folder stays a folder with its content', async function () {
      const d = tmp.make('o-dir');
      const dir = path.join(d, 'out.onnx');
      mkdirSync(dir);
      writeFileSync(path.join(dir, 'keep'), 'x');
      for (const argv of commands(RESNET, dir)) {
        expectOneLine(await inProcess(argv), /'.*out\.onnx' is a folder/);
        expect(readdirSync(dir)).to.deep.equal(['keep']);
      }
    });

    it('a symbolic link to a FIFO is judged by the FIFO', async function () {
      const d = tmp.make('o-link');
      mkfifo(path.join(d, 'fifo'));
      spawnSync('ln', ['-s', 'fifo', path.join(d, 'link.onnx')]);
      expectOneLine(await inProcess(['convert', RESNET, '-o', path.join(d, 'link.onnx')]), /is a FIFO/);
      expect(statSync(path.join(d, 'fifo')).isFIFO()).to.equal(true);
    });
  });

  describe('defect 6: conditions the user causes are exit 1, not exit 2', () => {
    it('output names of 236-255 characters are written (temporary names fit NAME_MAX); longer data-file names are refused', async function () {
      const d = tmp.make('long');
      for (const n of [236, 245, 250, 255]) {
        const o = path.join(d, `${'m'.repeat(n - 5)}.onnx`);
        const r = await inProcess(['convert', RESNET, '-o', o]);
        expect(r.code, `${n}: ${r.stderr}`).to.equal(0);
        expect(Model.load(o).graph.nodes.length).to.be.greaterThan(0);
        expect(path.basename(tempPathFor(o)).length).to.be.at.most(255);
      }
      const o250 = path.join(d, `${'e'.repeat(245)}.onnx`);
      const r = await inProcess(['convert', RESNET, '-o', o250, '--external-data']);
      expect(r.code, r.stderr).to.equal(0);
      expect(existsSync(`${o250}.data`)).to.equal(true);
      expectOneLine(await inProcess(['convert', RESNET, '-o', path.join(d, `${'f'.repeat(250)}.onnx`), '--external-data']), /external data file name '.*' is 260 bytes, over the file-system limit of 255/);
      expectOneLine(await inProcess(['convert', RESNET, '-o', path.join(d, 'g'.repeat(256))]), /is 256 bytes, over the file-system limit of 255/);
      expect(readdirSync(d).filter((f) => f.endsWith('.tmp') || f.endsWith('.lock'))).to.deep.equal([]);
    });

    it('-o /proc/self/x is exit 1, one line', async function () {
      if (!existsSync('/proc/self')) this.skip();
      expectOneLine(await inProcess(['convert', RESNET, '-o', '/proc/self/x']), /cannot write '\/proc\/self\/x'/);
    });

    it('two concurrent `dataset make-default` runs into one folder: exit 0 or 1 (never 2), and the folder is complete', async function () {
      const d = tmp.make('make-default');
      const ref = path.join(d, 'ref');
      expect(child(['dataset', 'make-default', '--out', ref, '--size', '12']).code).to.equal(0);
      const files = (dir: string): Map<string, string> => {
        const m = new Map<string, string>();
        const walk = (p: string, rel: string): void => {
          for (const e of readdirSync(p, { withFileTypes: true })) {
            if (e.isDirectory()) walk(path.join(p, e.name), path.join(rel, e.name));
            else m.set(path.join(rel, e.name), readFileSync(path.join(p, e.name)).toString('base64'));
          }
        };
        walk(dir, '');
        return m;
      };
      const want = files(ref);
      for (let round = 0; round < 3; round++) {
        const out = path.join(d, `out${round}`);
        const runs = await Promise.all([0, 1].map(() => childAsync(['dataset', 'make-default', '--out', out, '--size', '12'])));
        for (const r of runs) {
          expect(r.signal).to.equal(null);
          expect([0, 1], r.stderr).to.include(r.code);
          if (r.code === 1) expect(r.stderr).to.match(/^iqa-surgeon: error: --out '.*' (was filled by another run while this one worked|is not empty)[^\n]*\n$/);
        }
        expect(runs.some((r) => r.code === 0)).to.equal(true);
        expect(files(out)).to.deep.equal(want);
        expect(readdirSync(d).filter((f) => f.endsWith('.tmp'))).to.deep.equal([]);
      }
    });
  });
});
