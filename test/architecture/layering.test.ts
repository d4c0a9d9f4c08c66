/**
 * The layering of `src/`: every import between folders must be an arrow docs/ARCHITECTURE.md's
 * `layers` block allows, no folders may form a cycle, a few arrows stay forbidden whatever the
 * block says, only src/runtime/ imports onnxruntime-node, and importing src/ops/ loads neither
 * TensorFlow.js nor ONNX Runtime (kernels get tfjs from their context, `ctx.tf`, and import only its
 * types). The scanner is shown to fail on a tree with a forbidden import.
 */
import { expect } from 'chai';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { findCycles, layeringProblems, loadedPackages, parseLayers, scanImports, scanTree, type HardRules } from '../helpers/import-scan.js';
import { TempDirs } from '../helpers/temp-dir.js';

const temps = new TempDirs('layering');
const tempDir = (label: string): string => temps.make(label);
after(() => temps.cleanup());

const HARD: HardRules = {
  forbiddenArrows: {
    onnx: ['analysis', 'runtime', 'mirror', 'cli'],
    ir: ['analysis', 'runtime', 'mirror', 'cli'],
    ops: ['surgery', 'rewrite', 'runtime', 'cli', 'mirror'],
    train: ['mirror', 'autodiff'],
    attacks: ['mirror', 'autodiff'],
    '*': ['cli'],
  },
  forbiddenPackages: {
    metrics: ['@tensorflow/', 'onnxruntime-node'],
    train: ['@tensorflow/', 'onnxruntime-node'],
    attacks: ['@tensorflow/', 'onnxruntime-node'],
  },
  packageOwners: {
    'onnxruntime-node': ['runtime'],
    '@tensorflow/': ['mirror', 'ops', 'bench'],
  },
};

const layers = (): Map<string, Set<string>> => parseLayers(readFileSync('docs/ARCHITECTURE.md', 'utf8'));

describe('architecture: layering of src/', () => {
  it('every import between folders is allowed by docs/ARCHITECTURE.md, with no cycles and no hard-forbidden arrow', () => {
    const problems = layeringProblems(scanTree('src'), layers(), HARD);
    expect(problems, problems.join('\n')).to.deep.equal([]);
  });

  it('the layers block itself has no cycle', () => {
    const arrows = [...layers()].flatMap(([from, tos]) => [...tos].map((to) => ({ from, to })));
    expect(findCycles(arrows)).to.deep.equal([]);
  });

  it('only src/runtime/ mentions onnxruntime-node', () => {
    const files = scanTree('src').filter((f) => readFileSync(path.join('src', f.rel), 'utf8').includes('onnxruntime-node'));
    expect(files.map((f) => f.rel).filter((r) => !r.startsWith('runtime/'))).to.deep.equal([]);
  });

  it('importing src/ops/ (any file) loads neither TensorFlow.js nor ONNX Runtime', () => {
    const files = scanTree('src');
    const ops = files.filter((f) => f.unit === 'ops').map((f) => f.rel);
    expect(ops.length).to.be.greaterThan(5);
    const loaded = loadedPackages(files, ops);
    const bad = [...loaded].filter(([pkg]) => pkg.startsWith('@tensorflow/') || pkg === 'onnxruntime-node');
    expect(bad.map(([pkg, chain]) => `${pkg} via ${chain.join(' -> ')}`)).to.deep.equal([]);
  });

  it('importing the library entry (src/index.ts) does not load ONNX Runtime', () => {
    const loaded = loadedPackages(scanTree('src'), ['index.ts']);
    expect(loaded.get('onnxruntime-node'), `loaded via ${loaded.get('onnxruntime-node')?.join(' -> ')}`).to.equal(undefined);
  });
});

describe('architecture: the scanner can fail', () => {
  const allowed = new Map<string, Set<string>>([
    ['errors', new Set()],
    ['onnx', new Set(['errors'])],
    ['ir', new Set(['onnx', 'errors'])],
    ['analysis', new Set(['ir', 'onnx'])],
    ['ops', new Set(['ir'])],
    ['cli', new Set(['analysis', 'ir'])],
  ]);

  it('reports a forbidden arrow, an arrow missing from the block, a cycle and an arrow into cli', () => {
    const root = tempDir('layering-');
    const write = (rel: string, text: string): void => {
      mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
      writeFileSync(path.join(root, rel), text);
    };
    write('errors.ts', 'export class E extends Error {}\n');
    write('onnx/codec.ts', "import { E } from '../errors.js';\nexport const c = E;\n");
    write('ir/graph.ts', "import { c } from '../onnx/codec.js';\nimport { shapes } from '../analysis/infer.js';\nexport const g = [c, shapes];\n");
    write('analysis/infer.ts', "import { g } from '../ir/graph.js';\nexport const shapes = g;\n");
    write('ops/conv.ts', "import type { g } from '../ir/graph.js';\nimport { main } from '../cli/main.js';\nexport type G = typeof g;\nexport const m = main;\n");
    write('cli/main.ts', "import { shapes } from '../analysis/infer.js';\nexport const main = shapes;\n");
    const problems = layeringProblems(scanTree(root), allowed, HARD);
    expect(problems.some((p) => p.startsWith('forbidden arrow ir -> analysis at ir/graph.ts:2'))).to.equal(true, problems.join('\n'));
    expect(problems.some((p) => p.startsWith('forbidden arrow ops -> cli at ops/conv.ts:2'))).to.equal(true, problems.join('\n'));
    expect(problems).to.include('cycle between folders: analysis <-> ir');
    // a clean tree passes
    const clean = tempDir('layering-clean-');
    mkdirSync(path.join(clean, 'ir'));
    writeFileSync(path.join(clean, 'errors.ts'), 'export {};\n');
    writeFileSync(path.join(clean, 'ir/graph.ts'), "import '../errors.js';\n");
    expect(layeringProblems(scanTree(clean), new Map([['errors', new Set<string>()], ['ir', new Set(['errors'])]]), HARD)).to.deep.equal([]);
    expect(layeringProblems(scanTree(clean), new Map([['errors', new Set<string>()], ['ir', new Set<string>()]]), HARD)[0]).to.match(/ir -> errors at ir\/graph.ts:1 is not in/);
  });

  it('refuses a layers block that allows an always-forbidden arrow', () => {
    const problems = layeringProblems([], new Map([['ir', new Set(['analysis'])]]), HARD);
    expect(problems).to.deep.equal(['the layers block allows ir -> analysis, which is always forbidden']);
  });

  it('tells type-only, dynamic and value imports apart, ignoring comments', () => {
    const refs = scanImports(
      [
        "import type { A } from './a.js';",
        "import { type B, type C } from './b.js';",
        "import { type D, e } from './d.js';",
        "// import { x } from './commented.js';",
        "/* import './block-comment.js'; */",
        "import './side-effect.js';",
        "export { f } from './f.js';",
        "const t = null as unknown as import('./t.js').T;",
        "const m = await import('./m.js');",
        'import {\n  g,\n  h,\n} from "./multi.js";',
      ].join('\n'),
    );
    const by = Object.fromEntries(refs.map((r) => [r.spec, r]));
    expect(Object.keys(by).sort()).to.deep.equal(['./a.js', './b.js', './d.js', './f.js', './m.js', './multi.js', './side-effect.js', './t.js']);
    expect(by['./a.js']!.typeOnly).to.equal(true);
    expect(by['./b.js']!.typeOnly).to.equal(true);
    expect(by['./d.js']!.typeOnly).to.equal(false);
    expect(by['./t.js']!.typeOnly).to.equal(true);
    expect(by['./m.js']!.dynamic).to.equal(true);
    expect(by['./m.js']!.typeOnly).to.equal(false);
    expect(by['./multi.js']!.line).to.equal(10);
  });

  it('follows static value imports, not type-only or dynamic ones, when asking what a module loads', () => {
    const root = tempDir('layering-load-');
    mkdirSync(path.join(root, 'ops'));
    mkdirSync(path.join(root, 'mirror'));
    writeFileSync(path.join(root, 'ops/a.ts'), "import type { T } from '@tensorflow/tfjs-core';\nimport { h } from '../mirror/host.js';\nexport const a = h;\nexport type X = T;\n");
    writeFileSync(path.join(root, 'ops/b.ts'), "export async function load() { return import('onnxruntime-node'); }\n");
    writeFileSync(path.join(root, 'mirror/host.ts'), "import * as tf from '@tensorflow/tfjs';\nexport const h = tf;\n");
    const loaded = loadedPackages(scanTree(root), ['ops/a.ts', 'ops/b.ts']);
    expect([...loaded.keys()]).to.deep.equal(['@tensorflow/tfjs']);
    expect(loaded.get('@tensorflow/tfjs')).to.deep.equal(['ops/a.ts', 'mirror/host.ts', '@tensorflow/tfjs']);
  });
});
