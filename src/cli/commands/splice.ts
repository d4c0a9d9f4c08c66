import type { Command } from 'commander';
import { UsageError } from '../../errors.js';
import { Model } from '../../ir/model.js';
import { formatBytes } from '../../runtime/memory-limit.js';
import { materializeAdvice } from '../../surgery/session-memory.js';
import { spliceRobustBlock, type SpliceOptions } from '../../surgery/splice.js';
import { formatCount } from '../format.js';
import type { CliIO } from '../main.js';
import { collect, parseFiniteNumber, parseInputShapes, parseInteger, parsePositiveInt, parseSeed } from '../options.js';

function oneOf<T extends string>(option: string, allowed: readonly T[]) {
  return (v: string): T => {
    if (!(allowed as readonly string[]).includes(v)) throw new UsageError(`${option} '${v}' must be one of ${allowed.join(', ')}`);
    return v as T;
  };
}


export function registerSplice(program: Command, io: CliIO): void {
  program
    .command('splice')
    .description('insert a RobustBlock (pool to square, reduce conv, orthogonal conv) on a stage\'s output edge or any edge')
    .argument('<model>', 'ONNX model file')
    .requiredOption('-o, --output <file>', 'output model file')
    .option('--stage <k|name>', 'stage index or name (see `stages`)')
    .option('--edge <tensor>', 'tensor name of the edge')
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
    .option('--prefix <name>', 'name prefix of the block\'s nodes and initializers (default robust_block)')
    .option('--input-shape <shape>', 'model input shape N,C,H,W or name=N,C,H,W; makes a dynamic input static', collect)
    .option('--json', 'print the iqa-surgeon/splice@1 report as JSON')
    .action(async (file: string, opts: Record<string, unknown> & { output: string; inputShape?: string[]; json?: boolean }) => {
      const model = Model.load(file);
      const shapes = parseInputShapes(opts.inputShape, model.graph.inputs.filter((v) => !v.isInitializer).map((v) => v.name));
      const spliceOpts: SpliceOptions = {};
      const keys = ['stage', 'edge', 'orth', 'form', 'inverse', 'nsIterations', 'reduce', 'orthKernel', 'pool', 'square', 'alpha', 'compat', 'seed', 'prefix'] as const;
      for (const k of keys) if (opts[k] !== undefined) (spliceOpts as Record<string, unknown>)[k] = opts[k];
      if (opts.kernel !== undefined) spliceOpts.reduceKernel = opts.kernel as 1 | 3;
      if (opts.restoreSize) spliceOpts.restoreSize = true;
      if (shapes) spliceOpts.inputShapes = shapes;
      const report = await spliceRobustBlock(model, spliceOpts);
      const saved = model.save(opts.output);
      if (opts.json) {
        io.out(`${JSON.stringify({ ...report, file: saved.path, bytes: saved.bytes }, null, 2)}\n`);
        return;
      }
      const paramCount = report.parameters.reduce((a, p) => a + p.shape.reduce((x, y) => x * y, 1), 0);
      io.out(`spliced a RobustBlock (${report.options.orth}${report.options.orth === 'cayley' ? `, ${report.options.form}` : ''}) on '${report.edge}'${report.stage ? ` (stage ${report.stage})` : ''}\n`);
      io.out(`  [${report.inShape.join(',')}] -> [${report.outShape.join(',')}]; ${report.nodes.length} nodes, ${report.parameters.length} initializers (${formatCount(paramCount)} values)\n`);
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
