/**
 * The structural commands on long graphs (docs/RELIABILITY.md's resource promise): `cleanup`
 * (load, passes, validation with an ONNX Runtime session, save) and `equiv --structural` on chain
 * models of 50,000 and 200,000 nodes (src/bench/chain-model.ts), each a fresh child process with
 * its peak RSS; `--max-nodes` is raised so the 200,000-node model runs. The ratio of the two
 * sizes shows how far from linear each command is (4.0 is linear).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runCliMeasured } from '../reliability/child-run.js';
import { chainModelBytes } from './chain-model.js';

export interface StructuralBenchRow {
  command: string;
  nodes: number;
  fileBytes: number;
  ms: number;
  peakRssMiB: number;
  status: number | null;
}

export async function runStructuralBench(log: (s: string) => void, sizes = [50_000, 200_000]): Promise<{ rows: StructuralBenchRow[]; ratios: Record<string, number> }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'iqa-structural-bench-'));
  const rows: StructuralBenchRow[] = [];
  try {
    for (const nodes of sizes) {
      const file = path.join(dir, `chain${nodes}.onnx`);
      const bytes = chainModelBytes(nodes);
      writeFileSync(file, bytes);
      const commands: [string, string[]][] = [
        ['cleanup', ['cleanup', file, '-o', path.join(dir, `out${nodes}.onnx`)]],
        ['equiv --structural', ['equiv', '--structural', file, file]],
        ['inspect', ['inspect', file]],
      ];
      for (const [command, args] of commands) {
        const r = await runCliMeasured(['--max-nodes', '1000000', ...args], { timeoutMs: 600_000, scratch: dir });
        const row = { command, nodes, fileBytes: bytes.length, ms: r.ms, peakRssMiB: r.maxRssKiB / 1024, status: r.status };
        rows.push(row);
        log(`  ${command.padEnd(20)} ${String(nodes).padStart(7)} nodes ${(bytes.length / 1e6).toFixed(1).padStart(5)} MB  ${(r.ms / 1000).toFixed(2).padStart(6)} s  peak ${row.peakRssMiB.toFixed(0).padStart(5)} MiB  exit ${r.status}`);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const ratios: Record<string, number> = {};
  const [small, large] = [sizes[0]!, sizes[sizes.length - 1]!];
  for (const command of new Set(rows.map((r) => r.command))) {
    const a = rows.find((r) => r.command === command && r.nodes === small);
    const b = rows.find((r) => r.command === command && r.nodes === large);
    if (a && b) ratios[command] = b.ms / a.ms;
  }
  log(`  time ratio ${large}/${small} nodes (linear: ${(large / small).toFixed(1)}): ${Object.entries(ratios).map(([k, v]) => `${k} ${v.toFixed(1)}`).join(', ')}`);
  return { rows, ratios };
}
