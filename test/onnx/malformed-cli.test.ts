/**
 * The malformed-input cases of test/helpers/malformed-cases.ts run through the CLI
 * (`node bin/iqa-surgeon.js inspect <file>`): exit status 1, exactly one line
 * `iqa-surgeon: error: <message>` on stderr (the library's message, no stack trace), nothing on
 * stdout, and bounded memory: the child's peak RSS stays below the peak RSS of inspecting a tiny
 * valid model plus the file's size plus a fixed margin (so a length field claiming gigabytes
 * allocates nothing). Peak RSS comes from GNU time (`/usr/bin/time -f %M`) when present, else from
 * `process.resourceUsage().maxRSS` reported by a preloaded module.
 *
 * The CLI runs from dist/cli-bundle/ (built by `npm test`'s pretest); when its main.js is missing these
 * tests fail. IQA_SURGEON_BIN=<launcher> runs them against another build.
 */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { LOAD_CASES } from '../helpers/malformed-cases.js';
import { modelBytes, smallMlp } from '../helpers/proto-build.js';
import { TempDirs } from '../helpers/temp-dir.js';

const CLI_MAIN = path.resolve('dist/cli-bundle/main.js');
const BIN = process.env.IQA_SURGEON_BIN ? path.resolve(process.env.IQA_SURGEON_BIN) : path.resolve('bin/iqa-surgeon.js');
const available = process.env.IQA_SURGEON_BIN ? existsSync(BIN) : existsSync(CLI_MAIN);
const GNU_TIME = '/usr/bin/time';
/** Allowed peak RSS above the baseline, beyond the input file's size. */
const MARGIN_KIB = 48 * 1024;

const tmp = new TempDirs('iqa-malformed-cli');

interface CliRun {
  status: number | null;
  stdout: string;
  stderr: string;
  /** Peak resident set size of the CLI process, KiB. */
  maxRssKiB: number;
}

let rssWrapper: string | undefined;

function useGnuTime(): boolean {
  return existsSync(GNU_TIME) && process.env.IQA_TEST_NO_GNU_TIME !== '1';
}

/** Run the CLI with `args`, measuring its peak RSS. */
function runCli(args: string[], scratch: string): Promise<CliRun> {
  return runNodeMeasured([BIN, ...args], scratch);
}

/** Run `node <nodeArgs>`, measuring its peak RSS. */
function runNodeMeasured(nodeArgs: string[], scratch: string): Promise<CliRun> {
  const rssFile = path.join(scratch, `rss-${Math.random().toString(36).slice(2)}.txt`);
  let cmd: string;
  let argv: string[];
  if (useGnuTime()) {
    cmd = GNU_TIME;
    argv = ['-o', rssFile, '-f', '%M', process.execPath, ...nodeArgs];
  } else {
    if (!rssWrapper) {
      rssWrapper = path.join(tmp.make('wrapper'), 'report-rss.mjs');
      writeFileSync(
        rssWrapper,
        "import { writeFileSync } from 'node:fs';\n" +
          "process.on('exit', () => writeFileSync(process.env.IQA_TEST_RSS_FILE, String(process.resourceUsage().maxRSS)));\n",
      );
    }
    cmd = process.execPath;
    argv = ['--import', pathToFileURL(rssWrapper).href, ...nodeArgs];
  }
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, argv, { env: { ...process.env, IQA_TEST_RSS_FILE: rssFile, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (status) => {
      let maxRssKiB = NaN;
      if (existsSync(rssFile)) {
        // GNU time writes "Command exited with non-zero status N" before the format line
        const lines = readFileSync(rssFile, 'utf8').trim().split('\n');
        maxRssKiB = Number(lines[lines.length - 1]);
        rmSync(rssFile, { force: true });
      }
      resolve({ status, stdout, stderr, maxRssKiB });
    });
  });
}

describe('malformed inputs (CLI: iqa-surgeon inspect)', function () {
  let baselineKiB = 0;
  let scratch = '';

  before(async function () {
    if (!available) {
      const what = process.env.IQA_SURGEON_BIN ? BIN : path.relative(process.cwd(), CLI_MAIN);
      throw new Error(`${what} is missing: run npm run build (npm test builds first)`);
    }
    scratch = tmp.make('scratch');
    const tiny = path.join(scratch, 'tiny.onnx');
    writeFileSync(tiny, modelBytes(smallMlp()));
    // the baseline: the largest of three runs on a tiny valid model
    for (let i = 0; i < 3; i++) {
      const r = await runCli(['inspect', tiny], scratch);
      expect(r.status, `inspect of a valid model: ${r.stderr}`).to.equal(0);
      expect(r.maxRssKiB).to.be.greaterThan(0);
      baselineKiB = Math.max(baselineKiB, r.maxRssKiB);
    }
    console.log(`      baseline peak RSS of inspecting a tiny model: ${(baselineKiB / 1024).toFixed(1)} MiB (${useGnuTime() ? 'GNU time' : 'resourceUsage'})`);
  });
  let worst = { kib: 0, file: '' };
  after(() => {
    if (worst.file) console.log(`      largest peak RSS over the cases: ${(worst.kib / 1024).toFixed(1)} MiB (${path.basename(worst.file)})`);
    tmp.cleanup();
  });

  async function expectUserError(file: string, message: RegExp): Promise<void> {
    const r = await runCli(['inspect', file], scratch);
    expect(r.status, `exit status (stderr: ${r.stderr.slice(0, 300)})`).to.equal(1);
    expect(r.stdout).to.equal('');
    const lines = r.stderr.split('\n');
    expect(lines, 'exactly one line on stderr').to.have.length(2);
    expect(lines[1]).to.equal('');
    const m = /^iqa-surgeon: error: (.+)$/.exec(lines[0]!);
    expect(m, `stderr line: ${lines[0]!.slice(0, 300)}`).to.not.equal(null);
    expect(m![1]).to.match(message);
    expect(r.stderr).to.not.match(/\n\s+at /);
    expect(r.stderr).to.not.include('TOP SECRET');
    const size = existsSync(file) ? statSync(file).size : 0;
    const limit = baselineKiB + size / 1024 + MARGIN_KIB;
    if (r.maxRssKiB > worst.kib) worst = { kib: r.maxRssKiB, file };
    expect(r.maxRssKiB, `peak RSS ${r.maxRssKiB} KiB, limit ${Math.round(limit)} KiB`).to.be.below(limit);
  }

  it('the RSS measurement sees a 256 MiB allocation (sanity check of the check)', async () => {
    const r = await runNodeMeasured(['-e', 'Buffer.alloc(256 * 1024 * 1024, 1)'], scratch);
    expect(r.status).to.equal(0);
    expect(r.maxRssKiB).to.be.above(256 * 1024);
  });

  for (const c of LOAD_CASES) {
    it(`${c.title}: exit 1, one line, bounded memory`, async () => {
      await expectUserError(c.make(tmp.make(c.id)), c.expect.message);
    });
  }

  it('a missing file: exit 1, one line', async () => {
    await expectUserError(path.join(tmp.make('missing'), 'nope.onnx'), /model file '.*nope\.onnx' does not exist/);
  });
});
