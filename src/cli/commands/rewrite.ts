/**
 * Graph-rewriting commands: extract, rename, set-shape, replace-op, remove, fold, cleanup, and
 * apply (a patch file). Each turns its options into patch steps and runs them through the same
 * runner: every step is validated (graph, order, types and shapes, ONNX Runtime session) before
 * the next, the applied steps are recorded in metadata_props, and the output is written only
 * when everything passed (atomically; never over the input).
 */
import path from 'node:path';
import type { Command } from 'commander';
import { PathError, UsageError } from '../../errors.js';
import { Model } from '../../ir/model.js';
import { applyPatch, describeStep, normalizeStep, parsePatch, type Patch, type PatchStep, type StepReport } from '../../rewrite/patch.js';
import { readRegularTextFile } from '../../util/safe-read.js';
import { formatBytes } from '../format.js';
import type { CliIO } from '../main.js';
import { collect, parseInputShapes, parsePositiveInt } from '../options.js';

interface CommonOptions {
  output?: string;
  dryRun?: boolean;
  json?: boolean;
}

function addCommon(cmd: Command, what = 'output model file (written atomically; must differ from the input)'): Command {
  return cmd
    .option('-o, --output <file>', what)
    .option('--dry-run', 'print what each step would change; write nothing')
    .option('--json', 'print the iqa-surgeon/rewrite@1 JSON report');
}

async function run(io: CliIO, file: string, makePatch: Patch | ((model: Model) => Patch), source: string, opts: CommonOptions): Promise<void> {
  if (!opts.output && !opts.dryRun) throw new UsageError('give -o <output.onnx> (or --dry-run to only print the changes)');
  if (opts.output && path.resolve(opts.output) === path.resolve(file)) {
    throw new PathError('overwrite-input', `the output '${opts.output}' is the input model; write to another file (inputs are never modified)`);
  }
  const model = Model.load(file);
  const patch = typeof makePatch === 'function' ? makePatch(model) : makePatch;
  const print = (r: StepReport): void => {
    if (opts.json) return;
    const n = patch.steps.length;
    io.out(`${n > 1 ? `step ${r.index}/${n}: ` : ''}${describeStep(r.step)}\n`);
    for (const c of r.changes) io.out(`  ${c}\n`);
  };
  const { model: result, steps } = await applyPatch(model, patch, { source, onStep: print, record: !opts.dryRun });
  let written: { path: string; bytes: number; externalDataFile?: string } | undefined;
  if (!opts.dryRun && opts.output) {
    const r = result.save(opts.output);
    written = { path: r.path, bytes: r.bytes, ...(r.externalDataFile ? { externalDataFile: r.externalDataFile } : {}) };
  }
  if (opts.json) {
    const report = {
      schema: 'iqa-surgeon/rewrite@1',
      input: file,
      output: written?.path ?? null,
      dryRun: opts.dryRun === true,
      validated: true,
      steps: steps.map((s) => ({ index: s.index, step: s.step, modified: s.modified, changes: s.changes })),
    };
    io.out(`${JSON.stringify(report, null, 2)}\n`);
    return;
  }
  io.out(`validated: graph, node order, types and shapes, ONNX Runtime session\n`);
  if (written) io.out(`wrote ${written.path} (${formatBytes(written.bytes)})\n`);
  else io.out('dry run: nothing written\n');
}

/** One step from command-line options, normalised like a patch file's. */
function single(raw: Record<string, unknown>, op: string): Patch {
  const step: PatchStep = normalizeStep({ [op]: raw }, '', 'cli');
  return { version: 1, steps: [step] };
}

function defined(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
}

/** `--input-shape` values (N,C,H,W for the single input, or name=N,C,H,W) as { name: dims }. */
function inputShapes(model: Model, values: string[] | undefined): Record<string, (number | string)[]> | undefined {
  return parseInputShapes(values, model.graph.inputs.filter((v) => !v.isInitializer).map((v) => v.name));
}

export function registerRewrite(program: Command, io: CliIO): void {
  addCommon(
    program
      .command('extract')
      .description('write the subgraph between given tensors, with input/output types and shapes filled in')
      .argument('<model>', 'ONNX model file')
      .option('--inputs <names>', 'comma-separated tensors that become the inputs (default: the graph inputs)')
      .requiredOption('--outputs <names>', 'comma-separated tensors that become the outputs')
      .option('--input-shape <shape>', 'N,C,H,W or name=N,C,H,W: shape of a dynamic graph input for shape inference (repeatable)', collect),
  ).action(async (file: string, o: CommonOptions & { inputs?: string; outputs: string; inputShape?: string[] }) => {
    await run(io, file, (m) => single(defined({ inputs: o.inputs, outputs: o.outputs, inputShape: inputShapes(m, o.inputShape) }), 'extract'), 'command line', o);
  });

  addCommon(
    program
      .command('rename')
      .description('rename inputs, outputs, nodes and tensors consistently')
      .argument('<model>', 'ONNX model file')
      .requiredOption('--map <old=new,...>', 'names to change (repeatable)', collect),
  ).action(async (file: string, o: CommonOptions & { map: string[] }) => {
    await run(io, file, single({ map: o.map.join(',') }, 'rename'), 'command line', o);
  });

  addCommon(
    program
      .command('set-shape')
      .description('change graph input shapes (static or symbolic dims), re-infer shapes downstream and report what changed')
      .argument('<model>', 'ONNX model file')
      .requiredOption('--input <name=dims>', 'e.g. input=1,3,384,512 or input=batch,3,384,512 (repeatable)', collect),
  ).action(async (file: string, o: CommonOptions & { input: string[] }) => {
    await run(io, file, single({ input: o.input }, 'set-shape'), 'command line', o);
  });

  addCommon(
    program
      .command('replace-op')
      .description('replace an op by another (Relu -> LeakyRelu[alpha=0.01], ELU, SiLU, GELU...) everywhere or where chosen')
      .argument('<model>', 'ONNX model file')
      .requiredOption('--op <type>', 'op type to replace, e.g. Relu')
      .requiredOption('--with <spec>', 'new op with attributes, e.g. LeakyRelu[alpha=0.01], Elu, SiLU, Gelu[approximate=tanh]')
      .option('--where <sel>', 'stage:<name|index>, name:<glob>, a glob over node names, or a stage name')
      .option('--input-shape <shape>', 'N,C,H,W or name=N,C,H,W: shape of a dynamic graph input for the stage map (repeatable)', collect),
  ).action(async (file: string, o: CommonOptions & { op: string; with: string; where?: string; inputShape?: string[] }) => {
    await run(io, file, (m) => single(defined({ op: o.op, with: o.with, where: o.where, inputShape: inputShapes(m, o.inputShape) }), 'replace-op'), 'command line', o);
  });

  addCommon(
    program
      .command('remove')
      .description('remove a node, wiring its input to its output where types and shapes allow')
      .argument('<model>', 'ONNX model file')
      .requiredOption('--node <name>', 'node to remove (repeatable)', collect),
  ).action(async (file: string, o: CommonOptions & { node: string[] }) => {
    await run(io, file, single({ node: o.node }, 'remove'), 'command line', o);
  });

  addCommon(
    program
      .command('fold')
      .description('fold constant subgraphs (and Shape chains of a fixed-size input) into initializers, evaluated with ONNX Runtime')
      .argument('<model>', 'ONNX model file')
      .option('--max-bytes <n>', 'largest folded tensor in bytes (default 64 MiB; at most 8 GiB)', parsePositiveInt('--max-bytes')),
  ).action(async (file: string, o: CommonOptions & { maxBytes?: number }) => {
    await run(io, file, single(defined({ maxBytes: o.maxBytes }), 'fold'), 'command line', o);
  });

  addCommon(
    program
      .command('cleanup')
      .description('remove dead nodes and unread initializers; sort nodes topologically')
      .argument('<model>', 'ONNX model file')
      .option('--remove-unused-inputs', 'also remove graph inputs nothing reads'),
  ).action(async (file: string, o: CommonOptions & { removeUnusedInputs?: boolean }) => {
    await run(io, file, single(o.removeUnusedInputs ? { keepInputs: false } : {}, 'cleanup'), 'command line', o);
  });

  addCommon(
    program
      .command('apply')
      .description('apply a patch file (JSON or YAML list of rewrite steps) in order; see docs/REWRITE.md')
      .argument('<model>', 'ONNX model file')
      .argument('<patch>', 'patch file (.json, .yaml or .yml)'),
  ).action(async (file: string, patchFile: string, o: CommonOptions) => {
    const text = readRegularTextFile(patchFile, 'patch file');
    await run(io, file, parsePatch(text, path.basename(patchFile)), path.basename(patchFile), o);
  });
}
