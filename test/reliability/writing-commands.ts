/**
 * The commands that write files, one row each, for the kill test (kill.test.ts). A row says how
 * to call the command on the suite's large model (or on an input it prepares from it), which
 * files it writes, and optionally how to make a previous output of the same shape (by default
 * the small fixture model copied to the first output), so that a kill must leave either that
 * previous output or the complete new one. dataset make-default and any later writing command
 * are one row each.
 */
import { copyFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Model } from '../../src/ir/model.js';

export interface WritingCommand {
  id: string;
  /**
   * Make this row's input from the suite's large model (default: the large model itself); runs
   * once per row, in `scratch`, and may call the CLI (`cli`) to do it.
   */
  prepare?(large: string, scratch: string, cli: (args: string[]) => Promise<void>): Promise<string>;
  /** CLI arguments; `input` is the row's input, `dir` the trial folder. */
  argv(input: string, dir: string): string[];
  /** Files the command writes, relative to `dir`; the first is the one that refers to the others. */
  outputs: string[];
  /** Write a valid previous output into `dir` (default: `small` copied to outputs[0]). */
  previous?(small: string, dir: string): void;
}

const OUT = 'out.onnx';
const out = (dir: string): string => path.join(dir, OUT);

export const WRITING_COMMANDS: WritingCommand[] = [
  {
    id: 'convert --inline',
    argv: (input, dir) => ['convert', input, '-o', out(dir), '--inline'],
    outputs: [OUT],
  },
  {
    id: 'convert --external-data',
    argv: (input, dir) => ['convert', input, '-o', out(dir), '--external-data'],
    outputs: [OUT, `${OUT}.data`],
    previous: (small, dir) => void Model.load(small).save(out(dir), { externalData: true }),
  },
  {
    id: 'splice',
    argv: (input, dir) => ['splice', input, '--stage', 'layer3', '-o', out(dir)],
    outputs: [OUT],
  },
  {
    id: 'materialize',
    prepare: async (large, scratch, cli) => {
      const spliced = path.join(scratch, 'spliced.onnx');
      await cli(['splice', large, '--stage', 'layer3', '-o', spliced]);
      return spliced;
    },
    argv: (input, dir) => ['materialize', input, '-o', out(dir)],
    outputs: [OUT],
  },
  {
    id: 'rename (rewriting commands)',
    argv: (input, dir) => ['rename', input, '--map', 'score=quality', '-o', out(dir)],
    outputs: [OUT],
  },
  {
    id: 'apply (patch file)',
    prepare: async (large, scratch) => {
      writeFileSync(path.join(scratch, 'patch.yaml'), 'steps:\n  - rename: { map: { score: quality } }\n  - cleanup: {}\n');
      // the patch travels with a copy of the model so the row's input folder is self-contained
      copyFileSync(large, path.join(scratch, 'model.onnx'));
      return path.join(scratch, 'model.onnx');
    },
    argv: (input, dir) => ['apply', input, path.join(path.dirname(input), 'patch.yaml'), '-o', out(dir)],
    outputs: [OUT],
  },
];
