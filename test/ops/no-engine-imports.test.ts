/**
 * Importing anything under src/ops/ must load neither TensorFlow.js nor ONNX Runtime: kernels get
 * tfjs from their context (`ctx.tf`) and only import its types. A static scan follows every
 * run-time import from every file of src/ops/ and fails when one reaches '@tensorflow/...' or
 * 'onnxruntime-node'. The scanner itself is checked on synthetic sources so the test can fail.
 * Also: ops/ imports (type-only ones included) stay within ops, onnx, ir, util and errors.ts
 * (it once imported mirror/host.ts and analysis/shapes/, a cycle with mirror/).
 */
import { expect } from 'chai';
import path from 'node:path';
import { readFileSync } from 'node:fs';
import { allSpecifiers, reachedPackages, runtimeSpecifiers } from '../helpers/runtime-imports.js';
import { walkFiles } from '../helpers/test-data.js';

const ENGINE = (spec: string): boolean => spec.startsWith('@tensorflow/') || spec === 'onnxruntime-node' || spec.startsWith('onnxruntime-node/');

describe('ops/ loads no engine at run time', () => {
  it('the scanner tells run-time imports from type-only ones', () => {
    const src = [
      "import type * as tfc from '@tensorflow/tfjs-core';",
      "import { type Tensor } from '@tensorflow/tfjs-node';",
      "type T = import('@tensorflow/tfjs').Tensor2D;",
      "export type { Foo } from 'type-only-reexport';",
      "import * as ort from 'onnxruntime-node';",
      "import { a, type B } from './mixed.js';",
      "export { c } from 'reexported';",
      "const m = await import('dynamic');",
      "import 'side-effect';",
    ].join('\n');
    expect(runtimeSpecifiers(src)).to.deep.equal(['onnxruntime-node', './mixed.js', 'reexported', 'dynamic', 'side-effect']);
  });

  it('the scan follows relative imports transitively and fails on a synthetic engine import', () => {
    const files: Record<string, string> = {
      '/v/ops/registry.ts': "import { K } from './kernel.js';\nimport type { X } from '../mirror/x.js';\nexport const R = K;",
      '/v/ops/kernel.ts': "import { h } from '../mirror/host.js';\nexport const K = h;",
      '/v/mirror/host.ts': "import * as tf from '@tensorflow/tfjs-core';\nexport const h = tf;",
      '/v/mirror/x.ts': "import * as ort from 'onnxruntime-node';\nexport type X = number;",
    };
    const reached = reachedPackages(['/v/ops/registry.ts'], (f) => files[f]);
    expect(reached.map((r) => r.specifier)).to.deep.equal(['@tensorflow/tfjs-core']);
    expect(reached[0]!.chain).to.deep.equal(['/v/ops/registry.ts', '/v/ops/kernel.ts', '/v/mirror/host.ts']);
    expect(reached.filter((r) => ENGINE(r.specifier))).to.have.length(1);
  });

  it('no run-time import chain from any file of src/ops/ reaches @tensorflow/* or onnxruntime-node', () => {
    const starts = walkFiles(path.resolve('src/ops'), (n) => n.endsWith('.ts'));
    expect(starts.length).to.be.greaterThan(20);
    const bad = reachedPackages(starts).filter((r) => ENGINE(r.specifier));
    expect(bad.map((r) => `${r.chain.map((f) => path.relative(process.cwd(), f)).join(' -> ')} -> ${r.specifier}`)).to.deep.equal([]);
  });

  it('every import of src/ops/ (type-only ones too) stays within ops, onnx, ir, util and errors.ts', () => {
    const src = path.resolve('src');
    const allowed = (f: string): boolean => f === path.join(src, 'errors.js') || ['ops', 'onnx', 'ir', 'util'].some((d) => f.startsWith(path.join(src, d) + path.sep));
    const bad: string[] = [];
    for (const file of walkFiles(path.join(src, 'ops'), (n) => n.endsWith('.ts'))) {
      for (const spec of allSpecifiers(readFileSync(file, 'utf8'), file)) {
        if (!spec.startsWith('.')) continue;
        if (!allowed(path.resolve(path.dirname(file), spec))) bad.push(`${path.relative(src, file)} imports ${spec}`);
      }
    }
    expect(bad).to.deep.equal([]);
    expect(allSpecifiers("import type { A } from '../mirror/host.js';\ntype B = import('../analysis/x.js').B;")).to.deep.equal(['../mirror/host.js', '../analysis/x.js']);
  });
});
