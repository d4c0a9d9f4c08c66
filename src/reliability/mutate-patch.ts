/**
 * Patch files (`iqa-surgeon apply <model> <patch>`, JSON or YAML lists of rewrite steps): seeds
 * written for the Linearity-style fixture, and mutators that break their structure (wrong types,
 * unknown keys and ops, huge and negative numbers, names of other models, deep nesting, YAML
 * alias bombs) on top of the generic byte mutators.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Mutator, SeedInput } from './harness.js';
import { byteMutator } from './mutate-bytes.js';
import type { Rng } from './random.js';

/** Valid patches for fixtures/models/linearity_iqa.onnx (input 'input', output 'score'). */
const SEED_PATCHES: Record<string, string> = {
  'rename.json': JSON.stringify({ version: 1, steps: [{ rename: { map: { score: 'quality' } } }] }),
  'silu.yaml': 'description: SiLU in layer4\nsteps:\n  - replace-op: { op: Relu, with: SiLU, where: layer4 }\n  - rename: { map: { score: quality } }\n',
  'shape.json': JSON.stringify({ steps: [{ 'set-shape': { input: 'input=1,3,64,96' } }, { fold: {} }, { cleanup: {} }] }),
  'extract.yaml': 'steps:\n  - extract: { outputs: /layer2/layer2.1/relu_1/Relu_output_0 }\n',
  'list.json': JSON.stringify([{ cleanup: {} }, { 'replace-op': { op: 'Relu', with: 'LeakyRelu[alpha=0.1]' } }]),
};

let seedDir: string | undefined;
export function patchSeeds(): SeedInput[] {
  if (!seedDir) {
    seedDir = mkdtempSync(path.join(os.tmpdir(), 'iqa-fuzz-patch-seeds-'));
    mkdirSync(seedDir, { recursive: true });
    for (const [name, text] of Object.entries(SEED_PATCHES)) writeFileSync(path.join(seedDir, name), text);
    const dir = seedDir;
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  }
  return Object.keys(SEED_PATCHES).map((name) => ({ id: name, file: path.join(seedDir!, name) }));
}

const WEIRD: unknown[] = [null, true, 0, -1, 1e308, -(2 ** 63), 2 ** 53 + 1, NaN, '', ' ', '\u0000', 'x'.repeat(100_000), [], {}, [[[[]]]], { a: 1 }, '../../etc/passwd', '1,3,0,0', 'input=1,3,99999999,99999999', 'input=-1,3,64,96', '*', 'stage:99', 'name:**', 'NoSuchOp', 'Relu[alpha=]'];

function mutateValue(doc: unknown, rng: Rng, depth = 0): unknown {
  if (Array.isArray(doc)) {
    if (doc.length === 0 || rng.chance(0.2)) return rng.chance(0.5) ? [...doc, rng.pick(WEIRD)] : [];
    const i = rng.int(doc.length);
    const out = doc.slice();
    out[i] = mutateValue(doc[i], rng, depth + 1);
    if (rng.chance(0.1)) out.push(...Array.from({ length: rng.range(2, 2000) }, () => doc[i]));
    return out;
  }
  if (doc && typeof doc === 'object') {
    const o = { ...(doc as Record<string, unknown>) };
    const keys = Object.keys(o);
    if (keys.length === 0 || rng.chance(0.15)) {
      o[rng.pick(['version', 'steps', 'description', 'rename', 'map', 'op', 'with', 'where', 'input', 'outputs', 'inputs', 'node', 'keepInputs', 'maxBytes', '__proto__', 'constructor', 'x'.repeat(300)])] = rng.pick(WEIRD);
      return o;
    }
    const k = rng.pick(keys);
    if (rng.chance(0.15)) delete o[k];
    else o[k] = mutateValue(o[k], rng, depth + 1);
    return o;
  }
  return rng.pick(WEIRD);
}

export function patchMutators(): Mutator[] {
  return [
    byteMutator('patch-structure', 'json', (b, rng) => {
      let doc: unknown;
      try {
        doc = JSON.parse(new TextDecoder().decode(b));
      } catch {
        // YAML seeds: wrap their text as a step value, still structurally valid JSON
        doc = { steps: [{ rename: { map: { score: 'q' } } }] };
      }
      const k = rng.range(1, 3);
      for (let i = 0; i < k; i++) doc = mutateValue(doc, rng);
      return { bytes: new TextEncoder().encode(JSON.stringify(doc)), note: `${k} structural change(s): ${JSON.stringify(doc).slice(0, 160)}` };
    }, 4),
    byteMutator('patch-nesting', 'json', (_b, rng) => {
      const n = rng.pick([100, 10_000, 1_000_000]);
      return { bytes: new TextEncoder().encode(`{"steps":${'['.repeat(n)}${']'.repeat(n)}}`), note: `arrays nested ${n} deep` };
    }),
    byteMutator('patch-yaml-bomb', 'yaml', (_b, rng) => {
      // "billion laughs": each level doubles ... the text is tiny, the expansion is not
      const levels = rng.range(10, 40);
      const lines = ['a0: &a0 [x, x, x, x, x, x, x, x, x, x]'];
      for (let i = 1; i < levels; i++) lines.push(`a${i}: &a${i} [${Array.from({ length: 9 }, () => `*a${i - 1}`).join(', ')}]`);
      lines.push(`steps: [{ rename: { map: *a${levels - 1} } }]`);
      return { bytes: new TextEncoder().encode(`${lines.join('\n')}\n`), note: `YAML alias bomb, ${levels} levels` };
    }),
    byteMutator('patch-yaml-tags', 'yaml', (_b, rng) => {
      const t = rng.pick(['!!js/function "function(){}"', '!!python/object/apply:os.system ["true"]', '!!binary AAAA', '!!set {a, b}', '!!timestamp 2001-12-14', '<<: *undefined', '%TAG ! tag:x,2000:\n---\n!foo 1']);
      return { bytes: new TextEncoder().encode(`steps:\n  - rename: { map: { score: ${t} } }\n`), note: `YAML tag ${t}` };
    }),
  ];
}
