/**
 * The command-line entry point: builds the commander program and maps outcomes to the one
 * exit-status table every command shares:
 *   0 success, 1 bad input or usage (one-line message), 2 internal error (a bug), 3 a check failed.
 */
import { Command, CommanderError } from 'commander';
import { CheckFailedError, UserError } from '../errors.js';
import { registerConvert } from './commands/convert.js';
import { registerInspect } from './commands/inspect.js';
import { registerStages } from './commands/stages.js';
import { VERSION } from '../version.js';

export const EXIT = { ok: 0, user: 1, internal: 2, check: 3 } as const;

export interface CliIO {
  out: (s: string) => void;
  err: (s: string) => void;
}

const defaultIO: CliIO = {
  out: (s) => process.stdout.write(s),
  err: (s) => process.stderr.write(s),
};

export function buildProgram(io: CliIO = defaultIO): Command {
  const program = new Command();
  program
    .name('iqa-surgeon')
    .description('Model surgery for ONNX image-quality models')
    .version(VERSION)
    .option('--debug', 'print stack traces of errors')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .configureOutput({
      writeOut: io.out,
      writeErr: io.err,
      outputError: (str, write) => write(str.startsWith('error:') ? `iqa-surgeon: ${str}` : str),
    });
  registerInspect(program, io);
  registerStages(program, io);
  registerConvert(program, io);
  for (const c of program.commands) c.exitOverride().configureOutput(program.configureOutput());
  return program;
}

function oneLine(s: string): string {
  return s.replace(/\s*\n\s*/g, ' ').trim();
}

/** Run the CLI; resolves to the exit status (never throws). */
export async function main(argv: string[], io: CliIO = defaultIO): Promise<number> {
  const debug = argv.includes('--debug');
  const program = buildProgram(io);
  try {
    await program.parseAsync(argv);
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
      io.err(`${e.report.trimEnd()}\n`);
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
  }
}
