/**
 * Float32 tensors as NumPy `.npy` files (format version 1.0, little-endian, C order): the UAP
 * perturbation and attacked float images are saved this way so they load with `numpy.load` as
 * well as back into the toolkit. Only '<f4' arrays are read; anything else is refused naming it.
 */
import { UserError } from '../errors.js';

const MAGIC = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]); // \x93NUMPY

export function encodeNpy(dims: readonly number[], data: Float32Array): Uint8Array {
  if (dims.reduce((a, b) => a * b, 1) !== data.length) throw new RangeError(`npy: ${data.length} values do not fill shape [${dims.join(',')}]`);
  const shape = dims.length === 1 ? `(${dims[0]},)` : `(${dims.join(', ')})`;
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': ${shape}, }`;
  // pad so that magic + version + length + header is a multiple of 64, ending in a newline
  const total = MAGIC.length + 2 + 2 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const out = Buffer.alloc(MAGIC.length + 4 + header.length + data.byteLength);
  MAGIC.copy(out, 0);
  out[6] = 1;
  out[7] = 0;
  out.writeUInt16LE(header.length, 8);
  out.write(header, 10, 'latin1');
  Buffer.from(data.buffer, data.byteOffset, data.byteLength).copy(out, 10 + header.length);
  return out;
}

export function decodeNpy(bytes: Uint8Array, what = 'npy file'): { dims: number[]; data: Float32Array } {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (b.length < 10 || !b.subarray(0, 6).equals(MAGIC)) throw new UserError('npy', `${what} is not a NumPy .npy file`);
  const major = b[6]!;
  const headerLen = major === 1 ? b.readUInt16LE(8) : b.readUInt32LE(8);
  const start = major === 1 ? 10 : 12;
  if (start + headerLen > b.length) throw new UserError('npy', `${what}: truncated header`);
  const header = b.subarray(start, start + headerLen).toString('latin1');
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  if (descr !== '<f4') throw new UserError('npy', `${what}: dtype '${descr}' is not float32 ('<f4')`);
  if (/'fortran_order':\s*True/.test(header)) throw new UserError('npy', `${what}: Fortran order is not supported`);
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  if (shapeText === undefined) throw new UserError('npy', `${what}: no shape in the header`);
  const dims = shapeText.split(',').map((s) => s.trim()).filter(Boolean).map(Number);
  if (dims.some((d) => !Number.isSafeInteger(d) || d < 0)) throw new UserError('npy', `${what}: bad shape (${shapeText})`);
  const n = dims.reduce((a, d) => a * d, 1);
  const offset = start + headerLen;
  if (b.length - offset !== n * 4) throw new UserError('npy', `${what}: ${b.length - offset} data bytes for shape (${shapeText}), expected ${n * 4}`);
  const data = new Float32Array(n);
  Buffer.from(data.buffer).set(b.subarray(offset));
  return { dims, data };
}
