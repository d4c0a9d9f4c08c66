import type { Command } from 'commander';
import { UsageError } from '../../errors.js';
import { Model } from '../../ir/model.js';
import { formatBytes } from '../../runtime/memory-limit.js';
import { materializeAdvice } from '../../surgery/session-memory.js';
import { spliceRobustBlocks, type SpliceOptions, type SpliceReport, type SpliceSite } from '../../surgery/splice.js';
import { formatCount } from '../format.js';
import type { CliIO } from '../main.js';
import { collect, parseFiniteNumber, parseInputShapes, parseInteger, parsePositiveInt, parseSeed } from '../options.js';

function oneOf<T extends string>(option: string, allowed: readonly T[]) {
  return (v: string): T => {
    if (!(allowed as readonly string[]).includes(v)) throw new UsageError(`${option} '${v}' must be one of ${allowed.join(', ')}`);
    return v as T;
  };
}

function printBlock(io: CliIO, report: SpliceReport): void {
  const paramCount = report.parameters.reduce((a, p) => a + p.shape.reduce((x, y) => x * y, 1), 0);
  io.out(`spliced a RobustBlock (${report.options.orth}${report.options.orth === 'cayley' ? `, ${report.options.form}` : ''}) on '${report.edge}'${report.stage ? ` (stage ${report.stage}${report.position ? `, ${report.position}` : ''})` : ''}\n`);
  io.out(`  [${report.inShape.join(',')}] -> [${report.outShape.join(',')}]; ${report.nodes.length} nodes, ${report.parameters.length} initializers (${formatCount(paramCount)} values), prefix ${report.options.prefix}${report.postActivation ? `, post-activation ${report.postActivation}` : ''}\n`);
}

export function registerSplice(program: Command, io: CliIO): void {
  program
    .command('splice')
    .description('insert a RobustBlock (pool to square, reduce conv, orthogonal conv) on a stage\'s output edge or any edge')
    .argument('<model>', 'ONNX model file')
    .requiredOption('-o, --output <file>', 'output model file')
    .option('--stage <k|name>', 'stage index or name (see `stages`); repeat for a block on each of several stages', collect)
    .option('--edge <tensor>', 'tensor name of the edge; repeat for a block on each of several edges (both branches of a join)', collect)
    .option('--before <conv>', 'splice before a conv of the stage: conv<k> (see `stages --all-edges`), a conv node name or a module (features1.28); applies to the one --stage')
    .option('--after <module>', 'splice after a module (base.13, layer3.2) or conv<k> of the stage: the last tensor it produces that every path passes through; applies to the one --stage')
    .option('--orth <kind>', 'orthogonal conv: cayley | aol', oneOf('--orth', ['cayley', 'aol'] as const))
    .option('--form <form>', 'cayley: parametric (Q computed in the graph from W, alpha) | materialized (Q stored)', oneOf('--form', ['parametric', 'materialized'] as const))
    .option('--inverse <method>', 'parametric cayley: schur (exact, standard ops; default) | newton-schulz (iterations, standard ops) | com.microsoft (Inverse op)', oneOf('--inverse', ['schur', 'newton-schulz', 'com.microsoft'] as const))
    .option('--ns-iterations <n>', 'Newton-Schulz iterations (default: enough for any kernel at the initial alpha)', parsePositiveInt('--ns-iterations'))
    .option('--reduce <fraction>', 'reduce-conv channels as a fraction of C (default 0.5)', parseFiniteNumber('--reduce'))
    .option('--kernel <k>', 'reduce-conv kernel: 1 (default) or 3 (unpadded)', (v) => parseInteger('--kernel', 1, 3)(v) as 1 | 3)
    .option('--orth-kernel <k>', 'orthogonal-conv kernel (odd, default 3)', parsePositiveInt('--orth-kernel'))
    .option('--pool <kind>', 'avg (adaptive average, default) | max (the reference code\'s max pool)', oneOf('--pool', ['avg', 'max'] as const))
    .option('--square <s>', 'pool to a fixed s x s instead of min(H, W)', parsePositiveInt('--square'))
    .option('--alpha <value>', 'initial alpha: a number, or "norm" for ||Wf||_F (default)', (v) => (v === 'norm' ? 'norm' : parseFiniteNumber('--alpha', { float32: true })(v)))
    .option('--compat <mode>', 'paper-code: max pool, 3x3 unpadded reduce conv, alpha = 1', oneOf('--compat', ['paper-code'] as const))
    .option('--restore-size', 'resize the block\'s output back to the edge\'s H x W (bilinear) for models whose later ops need it')
    .option('--seed <n>', 'seed of the new weights (0 to 4294967295)', parseSeed())
    .option('--prefix <name>', 'name prefix of the block\'s nodes and initializers (default robust_block; with several blocks <prefix>_1, <prefix>_2, ...)')
    .option('--post-activation <kind>', 'relu: a Relu after the block (restores the sign of replaced ReLU features, for later Sqrt/Log/...); none: accept a signed output there', oneOf('--post-activation', ['relu', 'none'] as const))
    .option('--input-shape <shape>', 'model input shape N,C,H,W or name=N,C,H,W; makes a dynamic input static', collect)
    .option('--json', 'print the iqa-surgeon/splice@1 report as JSON')
    .action(async (file: string, opts: Record<string, unknown> & { output: string; inputShape?: string[]; json?: boolean; stage?: string[]; edge?: string[] }) => {
      const model = Model.load(file);
      const shapes = parseInputShapes(opts.inputShape, model.graph.inputs.filter((v) => !v.isInitializer).map((v) => v.name));
      const spliceOpts: SpliceOptions = {};
      const keys = ['orth', 'form', 'inverse', 'nsIterations', 'reduce', 'orthKernel', 'pool', 'square', 'alpha', 'compat', 'seed', 'prefix', 'postActivation'] as const;
      for (const k of keys) if (opts[k] !== undefined) (spliceOpts as Record<string, unknown>)[k] = opts[k];
      if (opts.kernel !== undefined) spliceOpts.reduceKernel = opts.kernel as 1 | 3;
      if (opts.restoreSize) spliceOpts.restoreSize = true;
      if (shapes) spliceOpts.inputShapes = shapes;
      const position = { ...(opts.before !== undefined ? { before: opts.before as string } : {}), ...(opts.after !== undefined ? { after: opts.after as string } : {}) };
      const stages = opts.stage ?? [];
      if (Object.keys(position).length > 0 && stages.length > 1) throw new UsageError('--before/--after choose a position inside one stage: give one --stage with them (other blocks by --edge)');
      if (Object.keys(position).length > 0 && stages.length === 0 && opts.edge) throw new UsageError('give exactly one of --stage (optionally with --before/--after) or --edge for each block: --before/--after need no --edge');
      const sites: SpliceSite[] = [...stages.map((stage) => ({ stage, ...position })), ...(stages.length === 0 && Object.keys(position).length > 0 ? [position] : []), ...(opts.edge ?? []).map((edge) => ({ edge }))];
      if (sites.length === 0) throw new UsageError('give --stage or --edge (repeat either for several blocks)');
      const reports = await spliceRobustBlocks(model, sites, spliceOpts);
      const saved = model.save(opts.output);
      if (opts.json) {
        const json = reports.length === 1 ? { ...reports[0]!, file: saved.path, bytes: saved.bytes } : { schema: 'iqa-surgeon/splices@1', blocks: reports, file: saved.path, bytes: saved.bytes };
        io.out(`${JSON.stringify(json, null, 2)}\n`);
        return;
      }
      for (const report of reports) printBlock(io, report);
      const report = reports[0]!;
      for (const [k, v] of Object.entries(report.fixedInputs)) io.out(`  input '${k}' fixed to [${v.join(',')}]\n`);
      const mem = report.sessionMemory;
      const trainable = report.options.orth === 'aol' || report.options.form === 'parametric';
      if (mem) io.out(`  estimated ONNX Runtime session memory${trainable ? ' (trainable form)' : ''}: ${formatBytes(mem.bytes)} (initializers ${formatBytes(mem.initializerBytes)} + peak activations ${formatBytes(mem.peakActivationBytes)})\n`);
      const advice = mem ? materializeAdvice(mem.bytes, trainable) : undefined;
      if (advice) io.out(`  ${advice}\n`);
      if (report.runtimeCheckSkipped) io.out(`  ${report.runtimeCheckSkipped}\n`);
      io.out(`wrote ${saved.path}\n`);
    });
}
