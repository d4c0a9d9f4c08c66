/**
 * `npm run fuzz -- [--cases N] [--seed S] [--start I] [--child-every K] [--workers W]
 *   [--time-limit-ms T] [--mem-limit-mib M] [--target id,...] [--kind id,...] [--json]
 *   [--failures-dir D]`
 *
 * Runs a seeded, repeatable fuzzing campaign over every command and input kind (see fuzz.ts) and
 * prints a summary; exit status 0 when no case failed, 3 when some did (their files are kept in
 * the failures folder, and `--start I --cases 1 --seed S` replays case I).
 */
import { runFuzz, type FuzzOptions, type FuzzReport } from './fuzz.js';

function parseArgs(argv: string[]): FuzzOptions & { json: boolean } {
  const o: FuzzOptions & { json: boolean } = { cases: 300, seed: 1, json: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const val = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    const num = (): number => {
      const v = val();
      const n = Number(v);
      if (!Number.isSafeInteger(n) || n < 0) throw new Error(`${a} '${v}' must be a non-negative integer`);
      return n;
    };
    switch (a) {
      case '--cases': o.cases = num(); break;
      case '--seed': o.seed = num(); break;
      case '--start': o.start = num(); break;
      case '--child-every': o.childEvery = num(); break;
      case '--workers': o.workers = num(); break;
      case '--time-limit-ms': o.timeLimitMs = num(); break;
      case '--mem-limit-mib': o.memLimitMiB = num(); break;
      case '--target': o.targets = val().split(','); break;
      case '--kind': o.kinds = val().split(','); break;
      case '--failures-dir': o.failuresDir = val(); break;
      case '--json': o.json = true; break;
      case '-h':
      case '--help':
        process.stdout.write('usage: npm run fuzz -- [--cases N] [--seed S] [--start I] [--child-every K] [--workers W] [--time-limit-ms T] [--mem-limit-mib M] [--target ids] [--kind ids] [--failures-dir D] [--json]\n');
        process.exit(0);
      default:
        throw new Error(`unknown option ${a} (try --help)`);
    }
  }
  return o;
}

export function formatReport(r: FuzzReport): string {
  const lines: string[] = [];
  lines.push(`fuzz campaign: seed ${r.seed}, cases ${r.start}..${r.start + r.cases - 1} (${r.cases} cases, ${r.childCases} as child processes) in ${(r.wallMs / 1000).toFixed(1)} s`);
  lines.push(`  accepted (exit 0) ${r.accepted}, rejected (exit 1, one-line message) ${r.rejected}, skipped ${r.skipped}, FAILURES ${r.failures.length}`);
  lines.push(`  slowest case ${r.maxMs.toFixed(0)} ms; largest child peak RSS ${r.maxRssMiB.toFixed(0)} MiB`);
  if (r.timingRetried.length > 0) lines.push(`  ${r.timingRetried.length} case(s) over the time bound under parallel load passed alone: ${r.timingRetried.map((t) => `${t.index} (${t.first.slice(0, 40)} -> ${t.alone})`).join('; ')}`);
  lines.push('  by target:');
  for (const [k, v] of Object.entries(r.byTarget).sort()) lines.push(`    ${k.padEnd(12)} accepted ${String(v.accepted).padStart(5)}  rejected ${String(v.rejected).padStart(5)}  failures ${v.failures}`);
  lines.push('  by mutator:');
  for (const [k, v] of Object.entries(r.byMutator).sort()) lines.push(`    ${k.padEnd(28)} accepted ${String(v.accepted).padStart(5)}  rejected ${String(v.rejected).padStart(5)}  failures ${v.failures}`);
  const msgs = Object.entries(r.messages).sort((a, b) => b[1] - a[1]);
  lines.push(`  ${msgs.length} distinct rejection messages (most frequent first):`);
  for (const [m, n] of msgs.slice(0, 15)) lines.push(`    ${String(n).padStart(5)}  ${m}`);
  if (r.failures.length > 0) {
    lines.push('  failures:');
    for (const f of r.failures.slice(0, 50)) lines.push(`    case ${f.index} [${f.target} ${f.seed} ${f.mutator} ${f.mode}] ${f.failure}: ${f.message}\n      ${f.note}\n      kept at ${f.keptAt}`);
  }
  return `${lines.join('\n')}\n`;
}

const opts = parseArgs(process.argv.slice(2));
const report = await runFuzz({ ...opts, log: (l) => process.stderr.write(`${l}\n`) });
process.stdout.write(opts.json ? `${JSON.stringify(report, null, 2)}\n` : formatReport(report));
process.exitCode = report.failures.length > 0 ? 3 : 0;
