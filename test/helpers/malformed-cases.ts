/**
 * Malformed and hostile ONNX inputs, each made fresh in a folder by a `make` function, with the
 * typed error the library must raise for it. Shared by the library-level suite
 * (test/onnx/malformed.test.ts) and the CLI-level suite (test/onnx/malformed-cli.test.ts).
 *
 * External-data cases follow ONNX's own advisories: CVE-2022-25882 and CVE-2024-27318 (path
 * traversal in `location`), CVE-2026-27489 (symlink out of the model folder), CVE-2026-34445
 * (keys that inflate allocations), CVE-2024-27319 (offset/length past the end of the file).
 */
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ExternalDataError, GraphError, OnnxFormatError, type UserError } from '../../src/errors.js';
import type { Model } from '../../src/ir/model.js';
import { encode } from '../../src/onnx/codec.js';
import type { GraphProto, ModelProto, TensorProto } from '../../src/onnx/proto-types.js';
import { tensorRawBytes, tensorTypedData } from '../../src/onnx/tensor-data.js';
import { FLOAT, floatTensor, graphAttr, model, modelBytes, node, smallMlp, tensorInfo } from './proto-build.js';
import { randomBytes } from './seeded-random.js';

export interface ExpectedError {
  cls: abstract new (...args: never[]) => UserError;
  code: string;
  message: RegExp;
}

export interface MalformedCase {
  id: string;
  title: string;
  /** Make the case's files in `dir` (a fresh empty folder); returns the model file to open. */
  make(dir: string): string;
  expect: ExpectedError;
  /** When loading succeeds and reading something afterwards must fail: that read. */
  read?: (m: Model) => void;
}

export const REAL_MODEL = path.resolve('fixtures/models/resnet18_iqa.onnx');

const format = (message: RegExp): ExpectedError => ({ cls: OnnxFormatError, code: 'onnx-format', message });
const graph = (code: string, message: RegExp): ExpectedError => ({ cls: GraphError, code, message });
const external = (code: string, message: RegExp): ExpectedError => ({ cls: ExternalDataError, code, message });

function writeModel(dir: string, name: string, bytes: Uint8Array): string {
  const file = path.join(dir, name);
  writeFileSync(file, bytes);
  return file;
}

const x4 = tensorInfo('x', FLOAT, [1, 4]);
const y4 = tensorInfo('y', FLOAT, [1, 4]);

/** Wire bytes: a varint. */
function varint(v: number): number[] {
  const out: number[] = [];
  while (v >= 0x80) {
    out.push((v % 128) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return out;
}

/**
 * A ModelProto nesting GraphProto -> NodeProto -> AttributeProto -> GraphProto ... `levels` times,
 * built directly as wire bytes (no recursion, so any depth can be made).
 */
export function deeplyNestedBytes(levels: number): Uint8Array {
  const tags = [0x3a]; // ModelProto.graph
  for (let i = 0; i < levels; i++) tags.push(0x0a, 0x2a, 0x32); // GraphProto.node, NodeProto.attribute, AttributeProto.g
  const lens = new Array<number>(tags.length);
  lens[tags.length - 1] = 0;
  for (let i = tags.length - 2; i >= 0; i--) lens[i] = lens[i + 1]! + 1 + varint(lens[i + 1]!).length;
  const out: number[] = [0x08, 0x08]; // ir_version 8
  tags.forEach((t, i) => out.push(t, ...varint(lens[i]!)));
  return Uint8Array.from(out);
}

/**
 * A valid model whose graph holds If nodes nested `levels` deep through their then-branches
 * (else-branches are one Identity each), 3 messages per level.
 */
export function nestedIfModel(levels: number): ModelProto {
  const branches = (then: GraphProto, k: number) => [
    graphAttr('then_branch', then),
    graphAttr('else_branch', { node: [node('Identity', ['x'], [`e${k}`], `else${k}`)], name: `else${k}`, output: [y4Named(`e${k}`)] }),
  ];
  let inner: GraphProto = { node: [node('Identity', ['x'], ['o0'], 'leaf')], name: 'g0', output: [y4Named('o0')] };
  for (let k = 1; k < levels; k++) {
    inner = { node: [node('If', ['c'], [`o${k}`], `if${k}`, { attribute: branches(inner, k) })], name: `g${k}`, output: [y4Named(`o${k}`)] };
  }
  return model({
    nodes: [node('If', ['c'], ['y'], 'top', { attribute: branches(inner, levels) })],
    inputs: [x4, tensorInfo('c', 9, [])],
    outputs: [y4],
  });
}

function y4Named(name: string): ReturnType<typeof tensorInfo> {
  return tensorInfo(name, FLOAT, [1, 4]);
}

// ---------------------------------------------------------------------------------------------
// External data

export const SECRET = 'TOP SECRET: must never be read through a model'.padEnd(64, '.');

interface ExternalSpec {
  entries: [string, string][];
  dims?: number[];
  dataType?: number;
  /** Extra setup in the case folder (symlinks, sub-folders); the model folder is `<dir>/model`. */
  setup?: (dir: string, modelDir: string) => void;
}

/**
 * `<dir>/model/model.onnx`: y = x * w where `w` is stored externally with the given entries;
 * `<dir>/model/weights.bin` holds 64 bytes (16 floats 0..15); `<dir>/secret.bin` sits outside.
 */
export function externalDataModel(dir: string, spec: ExternalSpec): string {
  const modelDir = path.join(dir, 'model');
  mkdirSync(modelDir, { recursive: true });
  writeFileSync(path.join(modelDir, 'weights.bin'), new Uint8Array(Float32Array.from({ length: 16 }, (_, i) => i).buffer));
  writeFileSync(path.join(dir, 'secret.bin'), SECRET);
  const w: TensorProto = {
    dims: spec.dims ?? [4],
    data_type: spec.dataType ?? FLOAT,
    name: 'w',
    external_data: spec.entries.map(([key, value]) => ({ key, value })),
    data_location: 1,
  };
  spec.setup?.(dir, modelDir);
  const bytes = encode(
    model({ nodes: [node('Mul', ['x', 'w'], ['y'], 'mul')], inputs: [x4], outputs: [y4], initializers: [w] }),
    'ModelProto',
  );
  return writeModel(modelDir, 'model.onnx', bytes);
}

const ext = (entries: [string, string][], extra: Omit<ExternalSpec, 'entries'> = {}) => (dir: string) =>
  externalDataModel(dir, { entries, ...extra });

// ---------------------------------------------------------------------------------------------
// The cases

/** Cases that fail while loading (Model.load / `inspect`). */
export const LOAD_CASES: MalformedCase[] = [
  {
    id: 'truncated',
    title: 'truncated file (a real model cut in half)',
    make: (dir) => {
      const b = readFileSync(REAL_MODEL);
      return writeModel(dir, 'truncated.onnx', b.subarray(0, Math.floor(b.length / 2)));
    },
    expect: format(/^truncated or corrupt protobuf: a length field claims \d+ bytes at byte \d+ but only \d+ remain$/),
  },
  {
    id: 'garbage',
    title: 'garbage bytes (seeded random, 64 KiB)',
    make: (dir) => writeModel(dir, 'garbage.onnx', randomBytes(1234, 65536)),
    expect: format(/truncated or corrupt protobuf: a length field claims 22950836 bytes/),
  },
  {
    id: 'garbage-zeros',
    title: 'a file of zero bytes (field number 0)',
    make: (dir) => writeModel(dir, 'zeros.onnx', new Uint8Array(4096)),
    expect: format(/corrupt protobuf: field number 0 in ModelProto at byte 0/),
  },
  {
    id: 'length-2g',
    title: 'a length field claiming 2 GiB (ModelProto.graph, varint 2^31)',
    make: (dir) => writeModel(dir, 'claims-2g.onnx', Uint8Array.from([0x08, 0x08, 0x3a, 0x80, 0x80, 0x80, 0x80, 0x08, 0x0a, 0x00])),
    expect: format(/a length field claims 2147483648 bytes at byte 8 but only 2 remain/),
  },
  {
    id: 'length-2g-nested',
    title: 'a length field claiming 4 GiB - 1 inside a node of a valid graph prefix',
    make: (dir) => {
      // ModelProto.graph (len 8) { GraphProto.node (len 2^32-1) ... } with 2 bytes left
      const b = [0x08, 0x08, 0x3a, 0x08, 0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x0a, 0x00];
      return writeModel(dir, 'claims-4g.onnx', Uint8Array.from(b));
    },
    expect: format(/a length field claims 4294967295 bytes at byte 10 but only 2 remain/),
  },
  {
    id: 'length-64bit',
    title: 'a length varint beyond 32 bits',
    make: (dir) => writeModel(dir, 'claims-2^42.onnx', Uint8Array.from([0x08, 0x08, 0x3a, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01, 0x00])),
    expect: format(/length or tag larger than 2\^32/),
  },
  {
    id: 'empty',
    title: 'empty file',
    make: (dir) => writeModel(dir, 'empty.onnx', new Uint8Array(0)),
    expect: format(/^empty file: not an ONNX model$/),
  },
  {
    id: 'text',
    title: 'a text file (Python source)',
    make: (dir) => writeModel(dir, 'script.onnx', new TextEncoder().encode("import onnx\nmodel = onnx.load('model.onnx')\nprint(model.graph)\n")),
    expect: format(/corrupt protobuf: invalid wire type 6 in ModelProto at byte 9/),
  },
  {
    id: 'no-graph',
    title: 'a well-formed protobuf that is not a model (no ir_version, no graph)',
    make: (dir) => writeModel(dir, 'not-a-model.onnx', Uint8Array.from([0x58, 0x01, 0x62, 0x03, 0x61, 0x62, 0x63])),
    expect: format(/^not an ONNX model: no ir_version and no graph found/),
  },
  {
    id: 'graph-wrong-wire-type',
    title: 'ModelProto.graph written as a varint (wrong wire type)',
    make: (dir) => writeModel(dir, 'graph-varint.onnx', Uint8Array.from([0x08, 0x08, 0x38, 0x05])),
    expect: format(/^ONNX model has no graph$/),
  },
  {
    id: 'packed-float-length',
    title: 'packed float_data whose length is not a multiple of 4',
    make: (dir) => {
      const name = [0x42, 0x01, 0x77]; // TensorProto.name = 'w'
      const tensor = [0x08, 0x01, 0x10, 0x01, 0x22, 0x05, 0, 0, 0x80, 0x3f, 0, ...name];
      const graphBytes = [0x2a, tensor.length, ...tensor];
      return writeModel(dir, 'packed-float.onnx', Uint8Array.from([0x08, 0x08, 0x3a, graphBytes.length, ...graphBytes]));
    },
    expect: format(/corrupt protobuf: packed TensorProto\.float_data length 5 is not a multiple of 4/),
  },
  {
    id: 'cycle',
    title: 'a cycle (two nodes feeding each other)',
    make: (dir) =>
      writeModel(
        dir,
        'cycle.onnx',
        modelBytes({
          nodes: [node('Relu', ['b'], ['a'], 'node_a'), node('Neg', ['a'], ['b'], 'node_b'), node('Add', ['a', 'x'], ['y'], 'out')],
          inputs: [x4],
          outputs: [y4],
        }),
      ),
    expect: graph('cycle', /the graph has a cycle through node 'node_a' \(Relu\)/),
  },
  {
    id: 'self-loop',
    title: 'a node reading its own output',
    make: (dir) =>
      writeModel(dir, 'self-loop.onnx', modelBytes({ nodes: [node('Add', ['x', 'y'], ['y'], 'loop')], inputs: [x4], outputs: [y4] })),
    expect: graph('cycle', /cycle through node 'loop'/),
  },
  {
    id: 'dangling-input',
    title: 'missing initializer (a node reads a name nothing defines)',
    make: (dir) =>
      writeModel(dir, 'dangling.onnx', modelBytes({ nodes: [node('Mul', ['x', 'missing_weight'], ['y'], 'mul')], inputs: [x4], outputs: [y4] })),
    expect: graph('dangling-input', /node 'mul' \(Mul\) reads 'missing_weight', which no node, graph input or initializer defines/),
  },
  {
    id: 'dangling-in-subgraph',
    title: 'a dangling input inside an If branch',
    make: (dir) => {
      const branch = (k: string, input: string): GraphProto => ({ node: [node('Identity', [input], [k], k)], name: k, output: [y4Named(k)] });
      const top = node('If', ['c'], ['y'], 'top', { attribute: [graphAttr('then_branch', branch('t', 'x')), graphAttr('else_branch', branch('e', 'nope'))] });
      return writeModel(dir, 'dangling-sub.onnx', modelBytes({ nodes: [top], inputs: [x4, tensorInfo('c', 9, [])], outputs: [y4] }));
    },
    expect: graph('dangling-input', /node 'e' \(Identity\) reads 'nope', which no node, graph input or initializer defines \(in a subgraph of node 'top'\)/),
  },
  {
    id: 'dangling-output',
    title: 'a graph output nothing produces',
    make: (dir) =>
      writeModel(
        dir,
        'dangling-output.onnx',
        modelBytes({ nodes: [node('Relu', ['x'], ['y'], 'relu')], inputs: [x4], outputs: [y4, tensorInfo('z', FLOAT, [1])] }),
      ),
    expect: graph('dangling-output', /graph output 'z' is not produced/),
  },
  {
    id: 'duplicate-output',
    title: 'duplicate names: two nodes producing the same output',
    make: (dir) =>
      writeModel(
        dir,
        'dup-output.onnx',
        modelBytes({
          nodes: [node('Relu', ['x'], ['t'], 'first'), node('Neg', ['x'], ['t'], 'second'), node('Identity', ['t'], ['y'], 'out')],
          inputs: [x4],
          outputs: [y4],
        }),
      ),
    expect: graph('duplicate-name', /duplicate name 't': output 't' of node 'second' redefines a value/),
  },
  {
    id: 'duplicate-initializer',
    title: 'duplicate names: two initializers with one name',
    make: (dir) => {
      const m = smallMlp();
      m.graph!.initializer!.push(floatTensor('w', [4], [9, 9, 9, 9]));
      return writeModel(dir, 'dup-init.onnx', encode(m, 'ModelProto'));
    },
    expect: graph('duplicate-name', /duplicate name 'w': initializer 'w' redefines a value/),
  },
  {
    id: 'duplicate-input',
    title: 'duplicate names: a graph input listed twice',
    make: (dir) => writeModel(dir, 'dup-input.onnx', modelBytes({ nodes: [node('Relu', ['x'], ['y'], 'relu')], inputs: [x4, x4], outputs: [y4] })),
    expect: graph('duplicate-name', /duplicate graph input 'x'/),
  },
  {
    id: 'nesting-graphs',
    title: 'deep nesting: If subgraphs 50 levels deep (151 nested messages)',
    make: (dir) => writeModel(dir, 'nested-50.onnx', encode(nestedIfModel(50), 'ModelProto')),
    expect: format(/protobuf messages nested deeper than 128 levels/),
  },
  {
    id: 'nesting-100k',
    title: 'deep nesting: 100,000 nested GraphProto levels (no stack overflow)',
    make: (dir) => writeModel(dir, 'nested-100k.onnx', deeplyNestedBytes(100_000)),
    expect: format(/protobuf messages nested deeper than 128 levels/),
  },
  // external data ------------------------------------------------------------------------------
  {
    id: 'cve-2022-25882',
    title: "CVE-2022-25882: external data location '../secret.bin'",
    make: ext([['location', '../secret.bin']]),
    expect: external('external-data-traversal', /location '\.\.\/secret\.bin' of tensor 'w' contains '\.\.'/),
  },
  {
    id: 'cve-2024-27318',
    title: "CVE-2024-27318: nested traversal 'sub/../../secret.bin'",
    make: ext([['location', 'sub/../../secret.bin']], { setup: (_d, m) => mkdirSync(path.join(m, 'sub')) }),
    expect: external('external-data-traversal', /location 'sub\/\.\.\/\.\.\/secret\.bin' of tensor 'w' contains '\.\.'/),
  },
  {
    id: 'cve-2024-27318-backslash',
    title: "CVE-2024-27318: traversal with Windows separators 'sub\\..\\..\\secret.bin'",
    make: ext([['location', 'sub\\..\\..\\secret.bin']]),
    expect: external('external-data-traversal', /contains '\.\.'/),
  },
  {
    id: 'absolute',
    title: 'absolute external data location (POSIX)',
    make: (dir) => externalDataModel(dir, { entries: [['location', path.join(dir, 'secret.bin')]] }),
    expect: external('external-data-absolute', /is an absolute path; locations must be relative to the model's folder/),
  },
  {
    id: 'absolute-windows',
    title: "absolute external data location (Windows drive 'C:\\secret.bin')",
    make: ext([['location', 'C:\\secret.bin']]),
    expect: external('external-data-absolute', /'C:\\secret\.bin' of tensor 'w' is an absolute path/),
  },
  {
    id: 'nul-location',
    title: 'external data location with a NUL byte',
    make: ext([['location', 'weights.bin\0../../secret.bin']]),
    expect: external('external-data-location', /contains a NUL byte/),
  },
  {
    id: 'cve-2026-27489-file',
    title: 'CVE-2026-27489: a symlink in the model folder pointing outside it',
    make: ext([['location', 'link.bin']], { setup: (_d, m) => symlinkSync('../secret.bin', path.join(m, 'link.bin')) }),
    expect: external('external-data-symlink', /location 'link\.bin' of tensor 'w' resolves \(through a symbolic link\) to '.*secret\.bin', outside the model's folder/),
  },
  {
    id: 'cve-2026-27489-dir',
    title: 'CVE-2026-27489: a symlinked sub-folder pointing outside the model folder',
    make: ext([['location', 'shared/secret.bin']], {
      setup: (d, m) => {
        mkdirSync(path.join(d, 'outside'));
        writeFileSync(path.join(d, 'outside', 'secret.bin'), SECRET);
        symlinkSync('../outside', path.join(m, 'shared'));
      },
    }),
    expect: external('external-data-symlink', /resolves \(through a symbolic link\) to '.*outside\/secret\.bin'/),
  },
  {
    id: 'cve-2026-34445-unknown-key',
    title: 'CVE-2026-34445: an unknown external-data key (100 kB long)',
    make: ext([
      ['location', 'weights.bin'],
      ['k'.repeat(100_000), '1'],
    ]),
    expect: external('external-data-key', /has an unknown key 'k{40}' \(allowed: location, offset, length, checksum\)$/),
  },
  {
    id: 'cve-2026-34445-duplicate-key',
    title: 'CVE-2026-34445: a duplicate external-data key',
    make: ext([
      ['location', 'weights.bin'],
      ['offset', '0'],
      ['offset', '48'],
    ]),
    expect: external('external-data-key', /external data of tensor 'w' repeats the key 'offset'/),
  },
  {
    id: 'cve-2026-34445-nonnumeric-length',
    title: 'CVE-2026-34445: a huge non-numeric length (1 MB of text)',
    make: ext([
      ['location', 'weights.bin'],
      ['length', 'A'.repeat(1_000_000)],
    ]),
    expect: external('external-data-key', /length 'A{40}' is not a non-negative integer$/),
  },
  {
    id: 'cve-2026-34445-long-number',
    title: 'CVE-2026-34445: a length of 10,000 digits',
    make: ext([
      ['location', 'weights.bin'],
      ['length', '9'.repeat(10_000)],
    ]),
    expect: external('external-data-key', /length '9{40}' is not a non-negative integer/),
  },
  {
    id: 'cve-2026-34445-negative',
    title: 'CVE-2026-34445: a negative offset',
    make: ext([
      ['location', 'weights.bin'],
      ['offset', '-16'],
    ]),
    expect: external('external-data-key', /offset '-16' is not a non-negative integer/),
  },
  {
    id: 'cve-2026-34445-length-vs-dims',
    title: 'CVE-2026-34445: length disagreeing with dims (dims say 4 KiB, length 16)',
    make: ext(
      [
        ['location', 'weights.bin'],
        ['length', '16'],
      ],
      { dims: [1024] },
    ),
    expect: external('external-data-length', /length 16 does not match its dims and data type \(4096 bytes\)/),
  },
  {
    id: 'cve-2026-34445-huge-dims',
    title: 'CVE-2026-34445: dims claiming 10^18 elements',
    make: ext([['location', 'weights.bin']], { dims: [1_000_000_000, 1_000_000_000] }),
    expect: external('external-data-length', /tensor 'w' has too many elements/),
  },
  {
    id: 'cve-2024-27319-offset',
    title: 'CVE-2024-27319: offset past the end of the data file',
    make: ext([
      ['location', 'weights.bin'],
      ['offset', '4096'],
      ['length', '16'],
    ]),
    expect: external('external-data-bounds', /offset 4096 is past the end of 'weights\.bin' \(64 bytes\)/),
  },
  {
    id: 'cve-2024-27319-length',
    title: 'CVE-2024-27319: offset + length past the end of the data file',
    make: ext(
      [
        ['location', 'weights.bin'],
        ['offset', '48'],
        ['length', '32'],
      ],
      { dims: [8] },
    ),
    expect: external('external-data-bounds', /offset 48 \+ length 32 runs past the end of 'weights\.bin' \(64 bytes\)/),
  },
  {
    id: 'cve-2024-27319-4tb',
    title: 'CVE-2024-27319: a length of 4 TB on a 64-byte file',
    make: ext([
      ['location', 'weights.bin'],
      ['length', '4398046511104'],
    ]),
    expect: external('external-data-bounds', /length 4398046511104 runs past the end of 'weights\.bin'/),
  },
  {
    id: 'external-missing',
    title: 'external data file that does not exist',
    make: ext([['location', 'nowhere.bin']]),
    expect: external('external-data-missing', /external data file 'nowhere\.bin' of tensor 'w' does not exist beside the model/),
  },
  {
    id: 'external-no-location',
    title: 'external data without a location',
    make: ext([['offset', '0']]),
    expect: external('external-data-location', /external data of tensor 'w' has no location/),
  },
  {
    id: 'external-unknown-dtype',
    title: 'unknown tensor data type (99) in an external initializer',
    make: ext([['location', 'weights.bin']], { dataType: 99 }),
    expect: format(/unknown tensor data type 99 in tensor 'w'/),
  },
];

function unknownTypeModel(dir: string, form: 'raw' | 'int32'): string {
  const m = smallMlp();
  const w = m.graph!.initializer![0]!;
  w.data_type = 99;
  if (form === 'int32') {
    delete w.raw_data;
    w.int32_data = [1, 2, 3, 4];
  }
  return writeModel(dir, `dtype99-${form}.onnx`, encode(m, 'ModelProto'));
}

/** Cases that load (the file is well-formed) but fail when the bad part is read. */
export const READ_CASES: MalformedCase[] = [
  {
    id: 'dtype99-raw',
    title: 'unknown tensor data type (99) in a raw_data initializer that is read',
    make: (dir) => unknownTypeModel(dir, 'raw'),
    expect: format(/unknown tensor data type 99 in tensor 'w'/),
    read: (m) => tensorTypedData(m.graph.value('w').initializer!),
  },
  {
    id: 'dtype99-int32',
    title: 'unknown tensor data type (99) in an int32_data initializer that is read',
    make: (dir) => unknownTypeModel(dir, 'int32'),
    expect: format(/unknown tensor data type 99 in tensor 'w'/),
    read: (m) => tensorRawBytes(m.graph.value('w').initializer!),
  },
  {
    id: 'external-checksum',
    title: 'external data failing its recorded checksum',
    make: ext([
      ['location', 'weights.bin'],
      ['length', '16'],
      ['checksum', '0'.repeat(64)],
    ]),
    expect: external('external-data-checksum', /external data of tensor 'w' in 'weights\.bin' fails its sha256 checksum/),
    read: (m) => tensorRawBytes(m.graph.value('w').initializer!),
  },
];
