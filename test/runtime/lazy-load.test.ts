/** Importing the library does not load onnxruntime-node's native addon (issue 11, deliverable 1). */
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';

describe('runtime: lazy loading', () => {
  it("import of src/index.ts maps no ONNX Runtime library; the first session does", () => {
    const script = [
      "const fs = await import('node:fs');",
      "const loaded = () => fs.readFileSync('/proc/self/maps', 'utf8').includes('onnxruntime');",
      "const lib = await import('./src/index.ts');",
      'const before = loaded();',
      "const { openRunner } = await import('./src/runtime/session.ts');",
      "const m = new lib.Model({ ir_version: 8, opset_import: [{ domain: '', version: 13 }], graph: { name: 'g', node: [{ op_type: 'Relu', input: ['x'], output: ['y'] }], input: [{ name: 'x', type: { tensor_type: { elem_type: 1, shape: { dim: [{ dim_value: 2 }] } } } }], output: [{ name: 'y' }] } });",
      'const r = await openRunner(m); await r.dispose();',
      'console.log(JSON.stringify({ before, after: loaded() }));',
    ].join('\n');
    const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8' });
    expect(JSON.parse(out.trim().split('\n').pop()!)).to.deep.equal({ before: false, after: true });
  });
});
