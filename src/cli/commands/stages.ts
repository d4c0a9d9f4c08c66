import type { Command } from 'commander';
import { computeStages } from '../../analysis/stages.js';
import { Model } from '../../ir/model.js';
import { formatCount, table } from '../format.js';
import type { CliIO } from '../main.js';
import { collect, parseInputShapes } from '../options.js';

export function registerStages(program: Command, io: CliIO): void {
  program
    .command('stages')
    .description('map the conv stages of every branch: where each resolution level ends, its splice edge, [C,H,W], params, MACs; and where branches join')
    .argument('<model>', 'ONNX model file')
    .option('--input-shape <shape>', 'input shape N,C,H,W or name=N,C,H,W (repeatable); needed when the model input is dynamic', collect)
    .option('--no-probe', 'use static shape rules only (never run ONNX Runtime)')
    .option('--all-edges', 'also list every stage\'s path convs (positions for `splice --before conv<k>`) and cut tensors (`splice --after <module>`)')
    .option('--json', 'print the iqa-surgeon/stages@1 JSON report')
    .action(async (file: string, opts: { inputShape?: string[]; probe: boolean; allEdges?: boolean; json?: boolean }) => {
      const model = Model.load(file);
      const shapes = parseInputShapes(opts.inputShape, model.graph.inputs.filter((v) => !v.isInitializer).map((v) => v.name));
      const map = await computeStages(model, { ...(shapes ? { inputShapes: shapes } : {}), probe: opts.probe, ...(opts.allEdges ? { allEdges: true } : {}) });
      if (opts.json) {
        io.out(`${JSON.stringify(map, null, 2)}\n`);
        return;
      }
      io.out(`input ${map.input} [${map.inputShape.join(',')}]\n`);
      const multi = map.branches.length > 1;
      if (multi) io.out(`branches: ${map.branches.map((b) => `${b.name} (from ${b.from})`).join(', ')}\n`);
      const rows = [['#', 'name', ...(multi ? ['branch'] : []), '[C,H,W]', 'convs', 'params', 'MACs', 'joins', 'splice edge']];
      for (const s of map.stages) {
        rows.push([String(s.index), s.name, ...(multi ? [s.branch] : []), `[${s.shape.join(',')}]`, String(s.convs.length), formatCount(s.params), formatCount(s.macs), String(s.residualJoins.length), s.edge]);
      }
      io.out(table(rows, ''));
      if (map.joins.length > 0) {
        io.out('join points (where the outputs of different stages meet):\n');
        for (const j of map.joins) io.out(`  ${j.node} (${j.kind}${j.kind === 'matmul' && j.branches.length > 1 ? ', bilinear pooling' : ''}): ${j.stages.join(' + ')}\n`);
      }
      if (opts.allEdges) {
        for (const s of map.stages) {
          io.out(`stage ${s.index} ${s.name}: ${s.inputEdge} -> ${s.edge}\n`);
          const convRows = [['  conv', 'node', '[C,H,W] out', 'input (--before)', 'output']];
          for (const c of s.pathConvs ?? []) convRows.push([`  conv${c.index}`, c.node, `[${c.shape.join(',')}]`, `${c.input}${c.inputIsCut ? '' : ' (not on every path)'}`, c.output]);
          io.out(table(convRows, ''));
          const cutRows = [['  cut tensor (--after)', '[C,H,W]', 'producer']];
          for (const c of s.cuts ?? []) cutRows.push([`  ${c.edge}`, `[${c.shape.join(',')}]`, c.producer]);
          io.out(table(cutRows, ''));
        }
      }
    });
}
