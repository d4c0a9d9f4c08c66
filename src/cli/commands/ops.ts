import type { Command } from 'commander';
import { CheckFailedError } from '../../errors.js';
import { Model } from '../../ir/model.js';
import { supportProblems } from '../../mirror/support.js';
import { dataTypeName } from '../../onnx/data-types.js';
import { mirrorOps, opDefinition } from '../../ops/registry.js';
import type { CliIO } from '../main.js';

/**
 * `iqa-surgeon ops`: the op registry (shape rule and mirror kernel per op); with a model, whether
 * the TensorFlow.js mirror can run every node of it (exit 3 naming the nodes it cannot).
 */
export function registerOps(program: Command, io: CliIO): void {
  program
    .command('ops')
    .description('list the op registry (shape rules, TensorFlow.js mirror kernels); with a model, check that the mirror can run it')
    .argument('[model]', 'ONNX model to check')
    .option('--json', 'print JSON (iqa-surgeon/ops@1)')
    .action((file: string | undefined, opts: { json?: boolean }) => {
      if (file === undefined) {
        const ops = mirrorOps().map((o) => {
          const [domain, op] = o.key.includes('::') ? (o.key.split('::') as [string, string]) : ['', o.key];
          return { op, domain, family: o.family, shapeRule: opDefinition(op, domain).shape !== undefined, mirrorTypes: o.types.map((t) => dataTypeName(t)) };
        });
        if (opts.json) io.out(`${JSON.stringify({ schema: 'iqa-surgeon/ops@1', ops }, null, 2)}\n`);
        else {
          io.out(`${ops.length} ops with a TensorFlow.js mirror kernel (shape rule: static shape inference)\n`);
          for (const o of ops) io.out(`  ${(o.domain ? `${o.domain}::${o.op}` : o.op).padEnd(28)} ${o.family.padEnd(12)} ${o.shapeRule ? 'shape rule' : '          '}  ${o.mirrorTypes.join(' ')}\n`);
        }
        return;
      }
      const model = Model.load(file);
      const problems = supportProblems(model);
      const nodes = model.graph.nodes.length;
      if (opts.json) io.out(`${JSON.stringify({ schema: 'iqa-surgeon/ops-check@1', model: file, nodes, supported: problems.length === 0, problems }, null, 2)}\n`);
      else if (problems.length === 0) io.out(`the mirror runs all ${nodes} nodes of ${file}\n`);
      else for (const p of problems) io.out(`  ${p.node} (${p.domain ? `${p.domain}::` : ''}${p.opType}): ${p.reason}\n`);
      if (problems.length > 0) {
        const msg = `the mirror cannot run ${problems.length} of ${nodes} nodes (first: '${problems[0]!.node}', ${problems[0]!.opType})`;
        throw new CheckFailedError(msg, `iqa-surgeon: check failed: ${msg}`);
      }
    });
}
