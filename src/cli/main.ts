/**
 * The command-line entry point: builds the commander program and maps outcomes to the one
 * exit-status table every command shares:
 *   0 success, 1 bad input or usage (one-line message), 2 internal error (a bug), 3 a check failed.
 */
import { Command, CommanderError } from 'commander';
import { CheckFailedError, UsageError, UserError } from '../errors.js';
import { DEFAULT_LIMITS, setLimits } from '../onnx/model-io.js';
import { defaultMaxMemoryBytes, formatBytes, setMaxMemoryBytes } from '../runtime/memory-limit.js';
import { noticeLines, setNoticeSink, type Notice } from '../runtime/notices.js';
import { registerConvert } from './commands/convert.js';
import { registerInspect } from './commands/inspect.js';
import { registerStages } from './commands/stages.js';
import { registerSplice } from './commands/splice.js';
import { registerMaterialize } from './commands/materialize.js';
import { registerRewrite } from './commands/rewrite.js';
import { registerDataset } from './commands/dataset.js';
import { registerEquiv } from './commands/equiv.js';
import { registerOps } from './commands/ops.js';
import { registerPrune } from './commands/prune.js';
import { registerFinetune } from './commands/finetune.js';
import { registerEvaluate } from './commands/evaluate.js';
import { registerAttack } from './commands/attack.js';
import { registerScore } from './commands/score.js';
import { VERSION } from '../version.js';
import { escapeControls, safeStdout } from './format.js';

export const EXIT = { ok: 0, user: 1, internal: 2, check: 3 } as const;

export interface CliIO {
  out: (s: string) => void;
  err: (s: string) => void;
}

const defaultIO: CliIO = {
  out: (s) => process.stdout.write(s),
  err: (s) => process.stderr.write(s),
};

export function buildProgram(rawIO: CliIO = defaultIO): Command {
  // every line a command prints passes one escape: names from a model never reach the terminal raw
  const io: CliIO = { out: (s) => rawIO.out(safeStdout(s)), err: rawIO.err };
  const program = new Command();
  program
    .name('iqa-surgeon')
    .description('Model surgery for ONNX image-quality models')
    .version(VERSION)
    .option('--debug', 'print stack traces of errors')
    .option('--max-file-bytes <n>', `refuse model files larger than this (default ${DEFAULT_LIMITS.maxFileBytes})`, parseLimit('--max-file-bytes'))
    .option('--max-nodes <n>', `refuse models with more nodes (default ${DEFAULT_LIMITS.maxNodes})`, parseLimit('--max-nodes'))
    .option('--max-proto-messages <n>', `refuse models holding more protobuf messages (default ${DEFAULT_LIMITS.maxProtoMessages})`, parseLimit('--max-proto-messages'))
    .option('--max-tensor-elements <n>', `refuse tensors with more elements (default ${DEFAULT_LIMITS.maxTensorElements})`, parseLimit('--max-tensor-elements'))
    .option('--max-image-pixels <n>', `refuse images with more pixels, from their header (default ${DEFAULT_LIMITS.maxImagePixels})`, parseLimit('--max-image-pixels'))
    .option('--max-memory <GiB>', `refuse ONNX Runtime sessions whose static memory estimate is larger (default half the machine's memory: ${formatBytes(defaultMaxMemoryBytes())})`, parseGiB('--max-memory'))
    .exitOverride()
    .configureOutput({
      writeOut: io.out,
      writeErr: io.err,
      // commander's usage errors (and its "Did you mean" hints) as the one line every error is
      outputError: (str, write) => write(`iqa-surgeon: error: ${oneLine(str.replace(/^error:\s*/, ''))} (run with --help for usage)\n`),
    });
  program.hook('preAction', () => {
    const o = program.opts<{ maxFileBytes?: number; maxNodes?: number; maxProtoMessages?: number; maxTensorElements?: number; maxImagePixels?: number }>();
    setLimits({ maxFileBytes: o.maxFileBytes, maxNodes: o.maxNodes, maxProtoMessages: o.maxProtoMessages, maxTensorElements: o.maxTensorElements, maxImagePixels: o.maxImagePixels });
    setMaxMemoryBytes(program.opts<{ maxMemory?: number }>().maxMemory);
  });
  registerInspect(program, io);
  registerStages(program, io);
  registerConvert(program, io);
  registerSplice(program, io);
  registerMaterialize(program, io);
  registerRewrite(program, io);
  registerDataset(program, io);
  registerEquiv(program, io);
  registerOps(program, io);
  registerPrune(program, io);
  registerFinetune(program, io);
  registerEvaluate(program, io);
  registerAttack(program, io);
  registerScore(program, io);
  for (const c of program.commands) c.exitOverride().configureOutput(program.configureOutput());
  return program;
}

/** A limit value: a positive integer, optionally with a K/M/G/T suffix (powers of 1024). */
function parseLimit(option: string) {
  return (text: string): number => {
    const m = /^(\d+)([kKmMgGtT]?)$/.exec(text.trim());
    const scale = m ? 1024 ** ' kmgt'.indexOf((m[2] || ' ').toLowerCase()) : 0;
    const n = m ? Number(m[1]) * scale : NaN;
    if (!Number.isSafeInteger(n) || n <= 0) throw new UsageError(`${option} '${text}' must be a positive integer (a K, M, G or T suffix multiplies by 1024s)`);
    return n;
  };
}

/** A size in GiB (a positive number, at most 1024), as bytes. */
function parseGiB(option: string) {
  return (text: string): number => {
    const n = /^\d+(\.\d+)?$/.test(text.trim()) ? Number(text) : NaN;
    if (!(n > 0 && n <= 1024)) throw new UsageError(`${option} '${text}' must be a number of GiB above 0 and at most 1024`);
    return Math.floor(n * 1024 ** 3);
  };
}

/**
 * An error message as one printable line of bounded length: messages quote names taken from the
 * file (fuzzing found 200 KB names echoed whole, and names can hold control characters that a
 * terminal would obey), so control characters are escaped, long quoted names are shortened in
 * the middle, and the line is capped.
 */
function oneLine(s: string): string {
  const flat = escapeControls(s.replace(/\s*\n\s*/g, ' ').trim(), { keepNewlines: false })
    .replace(/'([^']{121,})'/g, (_m, name: string) => `'${name.slice(0, 60)}…(${name.length} characters)…${name.slice(-20)}'`);
  return flat.length > MAX_MESSAGE ? `${flat.slice(0, MAX_MESSAGE - 1)}…` : flat;
}

const MAX_MESSAGE = 1000;

/** Run the CLI; resolves to the exit status (never throws). */
export async function main(argv: string[], io: CliIO = defaultIO): Promise<number> {
  const debug = argv.includes('--debug');
  setLimits(); // defaults, unless the global flags say otherwise (preAction); one process may run main() many times
  setMaxMemoryBytes(undefined);
  const program = buildProgram(io);
  // the runtime's one-line notices (the largest memory estimate, a CUDA fallback) go to stderr when the command succeeds
  const notices: Notice[] = [];
  const prevSink = setNoticeSink((n) => notices.push(n));
  try {
    await program.parseAsync(argv);
    for (const line of noticeLines(notices)) io.err(`iqa-surgeon: ${oneLine(line)}\n`);
    return EXIT.ok;
  } catch (e) {
    if (e instanceof CommanderError) {
      // help and version exit with code 0; usage errors were already printed by commander
      return e.exitCode === 0 ? EXIT.ok : EXIT.user;
    }
    if (e instanceof UserError) {
      io.err(`iqa-surgeon: error: ${oneLine(e.message)}\n`);
      if (debug && e.stack) io.err(`${e.stack}\n`);
      return EXIT.user;
    }
    if (e instanceof CheckFailedError) {
      io.err(`${escapeControls(e.report.trimEnd())}\n`); // a report quotes names from the models
      return EXIT.check;
    }
    const err = e as Error;
    const code = (err as NodeJS.ErrnoException)?.code;
    if (code === 'ENOSPC' || code === 'EACCES' || code === 'EROFS' || code === 'EPERM') {
      io.err(`iqa-surgeon: error: ${oneLine(err.message)}\n`);
      return EXIT.user;
    }
    io.err(`iqa-surgeon: internal error: ${oneLine(String(err?.message ?? err))} (this is a bug; rerun with --debug for the stack)\n`);
    if (debug && err?.stack) io.err(`${err.stack}\n`);
    return EXIT.internal;
  } finally {
    setNoticeSink(prevSink);
  }
}
