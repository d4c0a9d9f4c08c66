/**
 * Full-width stand-ins of the paper's four IQA models for the positions benchmark, built here with
 * seeded random weights (never committed, never run by `npm test`): the architectures' layer
 * widths, depths and spatial sizes at the paper's input sizes, with simplified heads.
 *
 * - KonCept512: Inception-ResNet-v2 (stem, mixed_5b, 10 x block35, mixed_6a, 20 x block17,
 *   mixed_7a, 10 x block8, conv2d_7b) at 384 x 512; the block goes after block8 ([2080, 10, 14]).
 * - DBCNN: VGG-16 features (no last pool) and the S-CNN branch (/16, 128 channels), joined by
 *   bilinear pooling, signed sqrt and l2 normalisation, at 384 x 512; the block goes before
 *   conv5_3 ([512, 24, 32]).
 * - TReS: ResNet-50 at 224 x 224, layer4 projected to 512 and read by a 2-layer transformer
 *   encoder (8 heads); the block goes after layer3 ([1024, 14, 14]).
 * (Linearity is the widened ResNet-50 export of make-large-model.ts at 498 x 664.)
 * Weights: uniform with variance 1 / fan_in (no BatchNorm: it folds into the convs of an export).
 */
import type { ModelProto, NodeProto, TensorProto } from '../onnx/proto-types.js';

class Net {
  readonly nodes: NodeProto[] = [];
  readonly inits: TensorProto[] = [];
  private seed: number;
  private count = 0;
  constructor(seed: number) {
    this.seed = seed >>> 0 || 1;
  }

  private rand(n: number, bound: number): Float32Array {
    const out = new Float32Array(n);
    let s = this.seed;
    for (let i = 0; i < n; i++) {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      out[i] = (s / 4294967296 - 0.5) * 2 * bound;
    }
    this.seed = s;
    return out;
  }

  const(name: string, dims: number[], data: Float32Array | BigInt64Array): string {
    const type = data instanceof BigInt64Array ? 7 : 1;
    this.inits.push({ name, dims, data_type: type, raw_data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) });
    return name;
  }

  shape(values: number[]): string {
    return this.const(`shape_${this.count++}`, [values.length], BigInt64Array.from(values.map(BigInt)));
  }

  op(type: string, inputs: string[], attrs: NodeProto['attribute'] = [], out?: string): string {
    const name = out ?? `${type.toLowerCase()}_${this.count++}`;
    this.nodes.push({ op_type: type, name: `${name}_node`, input: inputs, output: [name], attribute: attrs });
    return name;
  }

  conv(x: string, cin: number, cout: number, k: [number, number], opts: { stride?: number; pad?: [number, number]; relu?: boolean; name?: string } = {}): string {
    const [kh, kw] = k;
    const bound = Math.sqrt(3 / (cin * kh * kw));
    const id = opts.name ?? `conv_${this.count++}`;
    const w = this.const(`${id}.weight`, [cout, cin, kh, kw], this.rand(cout * cin * kh * kw, bound));
    const b = this.const(`${id}.bias`, [cout], this.rand(cout, 0.01));
    const [ph, pw] = opts.pad ?? [0, 0];
    const s = opts.stride ?? 1;
    const y = this.op('Conv', [x, w, b], [ints('kernel_shape', [kh, kw]), ints('pads', [ph, pw, ph, pw]), ints('strides', [s, s])], `${id}_out`);
    return opts.relu === false ? y : this.op('Relu', [y], [], `${id}_relu`);
  }

  maxPool(x: string, k: number, s: number, pad = 0): string {
    return this.op('MaxPool', [x], [ints('kernel_shape', [k, k]), ints('strides', [s, s]), ints('pads', [pad, pad, pad, pad])]);
  }

  avgPool3(x: string): string {
    return this.op('AveragePool', [x], [ints('kernel_shape', [3, 3]), ints('strides', [1, 1]), ints('pads', [1, 1, 1, 1]), { name: 'count_include_pad', type: 2, i: 0 }]);
  }

  concat(xs: string[], axis = 1): string {
    return this.op('Concat', xs, [{ name: 'axis', type: 2, i: axis }]);
  }

  scalar(v: number): string {
    return this.const(`scalar_${this.count++}`, [], Float32Array.of(v));
  }

  linear(x: string, din: number, dout: number): string {
    const w = this.const(`fc_${this.count++}.weight`, [din, dout], this.rand(din * dout, Math.sqrt(3 / din)));
    return this.op('MatMul', [x, w]);
  }

  head(x: string, c: number): string {
    const p = this.op('Flatten', [this.op('GlobalAveragePool', [x])]);
    return this.linear(p, c, 1);
  }

  model(name: string, input: [number, number], output: string): ModelProto {
    this.nodes.push({ op_type: 'Identity', name: 'score_node', input: [output], output: ['score'] });
    const dims = (d: (number | string)[]) => ({ dim: d.map((v) => (typeof v === 'number' ? { dim_value: v } : { dim_param: v })) });
    return {
      ir_version: 8,
      producer_name: 'iqa-surgeon-bench',
      opset_import: [{ domain: '', version: 13 }],
      graph: {
        name,
        node: this.nodes,
        initializer: this.inits,
        input: [{ name: 'input', type: { tensor_type: { elem_type: 1, shape: dims(['batch', 3, input[0], input[1]]) } } }],
        output: [{ name: 'score', type: { tensor_type: { elem_type: 1, shape: dims(['batch', 1]) } } }],
      },
    };
  }
}

function ints(name: string, v: number[]): NonNullable<NodeProto['attribute']>[number] {
  return { name, type: 7, ints: v };
}

/** Inception-ResNet-v2 at 384 x 512; the edge after the last block8 is `block8_out`. */
export function inceptionResnetV2(): { model: ModelProto; edge: string; input: [number, number] } {
  const n = new Net(11);
  let x = n.conv('input', 3, 32, [3, 3], { stride: 2 });
  x = n.conv(x, 32, 32, [3, 3]);
  x = n.conv(x, 32, 64, [3, 3], { pad: [1, 1] });
  x = n.maxPool(x, 3, 2);
  x = n.conv(x, 64, 80, [1, 1]);
  x = n.conv(x, 80, 192, [3, 3]);
  x = n.maxPool(x, 3, 2);
  // mixed_5b -> 320
  x = n.concat([
    n.conv(x, 192, 96, [1, 1]),
    n.conv(n.conv(x, 192, 48, [1, 1]), 48, 64, [5, 5], { pad: [2, 2] }),
    n.conv(n.conv(n.conv(x, 192, 64, [1, 1]), 64, 96, [3, 3], { pad: [1, 1] }), 96, 96, [3, 3], { pad: [1, 1] }),
    n.conv(n.avgPool3(x), 192, 64, [1, 1]),
  ]);
  const residual = (inp: string, c: number, branches: string[], width: number, scale: number, relu: boolean): string => {
    const up = n.conv(n.concat(branches), width, c, [1, 1], { relu: false });
    const y = n.op('Add', [inp, n.op('Mul', [up, n.scalar(scale)])]);
    return relu ? n.op('Relu', [y]) : y;
  };
  for (let i = 0; i < 10; i++) {
    x = residual(
      x,
      320,
      [
        n.conv(x, 320, 32, [1, 1]),
        n.conv(n.conv(x, 320, 32, [1, 1]), 32, 32, [3, 3], { pad: [1, 1] }),
        n.conv(n.conv(n.conv(x, 320, 32, [1, 1]), 32, 48, [3, 3], { pad: [1, 1] }), 48, 64, [3, 3], { pad: [1, 1] }),
      ],
      128,
      0.17,
      true,
    );
  }
  // mixed_6a -> 1088
  x = n.concat([n.conv(x, 320, 384, [3, 3], { stride: 2 }), n.conv(n.conv(n.conv(x, 320, 256, [1, 1]), 256, 256, [3, 3], { pad: [1, 1] }), 256, 384, [3, 3], { stride: 2 }), n.maxPool(x, 3, 2)]);
  for (let i = 0; i < 20; i++) {
    x = residual(x, 1088, [n.conv(x, 1088, 192, [1, 1]), n.conv(n.conv(n.conv(x, 1088, 128, [1, 1]), 128, 160, [1, 7], { pad: [0, 3] }), 160, 192, [7, 1], { pad: [3, 0] })], 384, 0.1, true);
  }
  // mixed_7a -> 2080
  x = n.concat([
    n.conv(n.conv(x, 1088, 256, [1, 1]), 256, 384, [3, 3], { stride: 2 }),
    n.conv(n.conv(x, 1088, 256, [1, 1]), 256, 288, [3, 3], { stride: 2 }),
    n.conv(n.conv(n.conv(x, 1088, 256, [1, 1]), 256, 288, [3, 3], { pad: [1, 1] }), 288, 320, [3, 3], { stride: 2 }),
    n.maxPool(x, 3, 2),
  ]);
  for (let i = 0; i < 10; i++) {
    x = residual(x, 2080, [n.conv(x, 2080, 192, [1, 1]), n.conv(n.conv(n.conv(x, 2080, 192, [1, 1]), 192, 224, [1, 3], { pad: [0, 1] }), 224, 256, [3, 1], { pad: [1, 0] })], 448, 0.2, i < 9);
  }
  const edge = n.op('Identity', [x], [], 'block8_out');
  x = n.conv(edge, 2080, 1536, [1, 1]);
  return { model: n.model('koncept_style', [384, 512], n.head(x, 1536)), edge, input: [384, 512] };
}

/** DBCNN at 384 x 512: VGG-16 and S-CNN joined by bilinear pooling; the edge before conv5_3 is `vgg_conv5_2_relu`. */
export function dbcnn(): { model: ModelProto; edge: string; input: [number, number] } {
  const n = new Net(12);
  const cfg: (number | 'M')[] = [64, 64, 'M', 128, 128, 'M', 256, 256, 256, 'M', 512, 512, 512, 'M', 512, 512, 512];
  let x = 'input';
  let c = 3;
  let edge = '';
  cfg.forEach((v, i) => {
    if (v === 'M') {
      x = n.maxPool(x, 2, 2);
      return;
    }
    const name = i === 15 ? 'vgg_conv5_2' : undefined;
    x = n.conv(x, c, v, [3, 3], { pad: [1, 1], ...(name ? { name } : {}) });
    if (name) edge = x;
    c = v;
  });
  const vgg = x; // [512, 24, 32]
  let s = 'input';
  const scnn: [number, number][] = [[48, 1], [48, 2], [64, 1], [64, 2], [64, 1], [64, 2], [128, 1], [128, 1], [128, 2]];
  let sc = 3;
  for (const [cout, stride] of scnn) {
    s = n.conv(s, sc, cout, [3, 3], { pad: [1, 1], stride });
    sc = cout;
  }
  // bilinear pooling: X [N, 512, HW] Y^T [N, HW, 128] / HW -> [N, 512 * 128]
  const hw = 24 * 32;
  const xf = n.op('Reshape', [vgg, n.shape([0, 512, -1])]);
  const yf = n.op('Reshape', [s, n.shape([0, 128, -1])]);
  let b = n.op('Div', [n.op('MatMul', [xf, n.op('Transpose', [yf], [ints('perm', [0, 2, 1])])]), n.scalar(hw)]);
  b = n.op('Reshape', [b, n.shape([0, 512 * 128])]);
  b = n.op('Mul', [n.op('Sign', [b]), n.op('Sqrt', [n.op('Add', [n.op('Abs', [b]), n.scalar(1e-8)])])]);
  const norm = n.op('Sqrt', [n.op('Add', [n.op('ReduceSumSquare', [b], [ints('axes', [1]), { name: 'keepdims', type: 2, i: 1 }]), n.scalar(1e-12)])]);
  b = n.op('Div', [b, norm]);
  return { model: n.model('dbcnn_style', [384, 512], n.linear(b, 512 * 128, 1)), edge, input: [384, 512] };
}

function resnet50(n: Net, x: string): { layer3: string; layer4: string } {
  x = n.conv(x, 3, 64, [7, 7], { stride: 2, pad: [3, 3] });
  x = n.maxPool(x, 3, 2, 1);
  let c = 64;
  let layer3 = '';
  const layers: [number, number, number][] = [[64, 3, 1], [128, 4, 2], [256, 6, 2], [512, 3, 2]];
  layers.forEach(([mid, blocks, stride], li) => {
    for (let b = 0; b < blocks; b++) {
      const s = b === 0 ? stride : 1;
      const out = mid * 4;
      let y = n.conv(x, c, mid, [1, 1]);
      y = n.conv(y, mid, mid, [3, 3], { stride: s, pad: [1, 1] });
      y = n.conv(y, mid, out, [1, 1], { relu: false });
      const short = b === 0 ? n.conv(x, c, out, [1, 1], { stride: s, relu: false }) : x;
      x = n.op('Relu', [n.op('Add', [y, short])], [], li === 2 && b === blocks - 1 ? 'layer3_out' : undefined);
      c = out;
    }
    if (li === 2) layer3 = x;
  });
  return { layer3, layer4: x };
}

/** TReS at 224 x 224: ResNet-50 and a transformer encoder on layer4; the edge after layer3 is `layer3_out`. */
export function tres(): { model: ModelProto; edge: string; input: [number, number] } {
  const n = new Net(13);
  const { layer3, layer4 } = resnet50(n, 'input');
  const d = 512;
  const heads = 8;
  let t = n.conv(layer4, 2048, d, [1, 1], { relu: false });
  t = n.op('Transpose', [n.op('Reshape', [t, n.shape([0, d, -1])])], [ints('perm', [0, 2, 1])]); // [N, 49, 512]
  const layerNorm = (x: string): string => {
    const mu = n.op('ReduceMean', [x], [ints('axes', [-1])]);
    const c = n.op('Sub', [x, mu]);
    const v = n.op('ReduceMean', [n.op('Mul', [c, c])], [ints('axes', [-1])]);
    return n.op('Div', [c, n.op('Sqrt', [n.op('Add', [v, n.scalar(1e-5)])])]);
  };
  const split = (x: string): string => n.op('Transpose', [n.op('Reshape', [x, n.shape([0, -1, heads, d / heads])])], [ints('perm', [0, 2, 1, 3])]);
  for (let l = 0; l < 2; l++) {
    const h = layerNorm(t);
    const q = split(n.linear(h, d, d));
    const k = split(n.linear(h, d, d));
    const v = split(n.linear(h, d, d));
    const att = n.op('Softmax', [n.op('Div', [n.op('MatMul', [q, n.op('Transpose', [k], [ints('perm', [0, 1, 3, 2])])]), n.scalar(Math.sqrt(d / heads))])], [{ name: 'axis', type: 2, i: -1 }]);
    const o = n.op('Reshape', [n.op('Transpose', [n.op('MatMul', [att, v])], [ints('perm', [0, 2, 1, 3])]), n.shape([0, -1, d])]);
    t = n.op('Add', [t, n.linear(o, d, d)]);
    const f = n.linear(n.op('Relu', [n.linear(layerNorm(t), d, 4 * d)]), 4 * d, d);
    t = n.op('Add', [t, f]);
  }
  const pooled = n.op('ReduceMean', [t], [ints('axes', [1]), { name: 'keepdims', type: 2, i: 0 }]);
  return { model: n.model('tres_style', [224, 224], n.linear(pooled, d, 1)), edge: layer3, input: [224, 224] };
}
