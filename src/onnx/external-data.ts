/**
 * External tensor data (TensorProto.data_location = EXTERNAL): parsing and validating the
 * key/value entries, resolving the side file safely, and reading its bytes.
 *
 * Defended (ONNX's own advisories are the test list):
 * - CVE-2022-25882, CVE-2024-27318: a location that is absolute or has a `..` component anywhere;
 * - CVE-2026-27489: a location that resolves, through a symlink, outside the model's folder;
 * - CVE-2026-34445: unknown, duplicate or non-numeric keys, and a length that disagrees with the
 *   tensor's dims and data type (no allocation is ever sized from a key alone);
 * - CVE-2024-27319: offset/length past the end of the file.
 */
import { createHash } from 'node:crypto';
import { closeSync, constants, fstatSync, openSync, readSync, realpathSync, statSync } from 'node:fs';
import path from 'node:path';
import { ExternalDataError } from '../errors.js';
import { requireDataType, rawByteLength } from './data-types.js';
import type { TensorProto } from './proto-types.js';

export const EXTERNAL_REF: unique symbol = Symbol('onnx.externalRef');

export interface ExternalRef {
  /** The location as written in the file. */
  location: string;
  /** Absolute, symlink-resolved path of the data file. */
  file: string;
  offset: number;
  length: number;
  checksum?: string;
}

export type TensorWithRef = TensorProto & { [EXTERNAL_REF]?: ExternalRef };

const KNOWN_KEYS = new Set(['location', 'offset', 'length', 'checksum']);

function tensorLabel(t: TensorProto): string {
  return t.name ? `tensor '${t.name}'` : 'an unnamed tensor';
}

function parseCount(key: string, value: string, t: TensorProto): number {
  if (!/^\d{1,16}$/.test(value)) {
    throw new ExternalDataError('external-data-key', `external data of ${tensorLabel(t)}: ${key} '${value.slice(0, 40)}' is not a non-negative integer`);
  }
  const n = Number(value);
  if (!Number.isSafeInteger(n)) {
    throw new ExternalDataError('external-data-key', `external data of ${tensorLabel(t)}: ${key} ${value} is too large`);
  }
  return n;
}

/** Checks a location string alone (no file system access). */
export function checkLocationSyntax(location: string, t: TensorProto): void {
  const label = tensorLabel(t);
  if (location.length === 0) throw new ExternalDataError('external-data-location', `external data of ${label} has an empty location`);
  if (location.includes('\0')) throw new ExternalDataError('external-data-location', `external data location of ${label} contains a NUL byte`);
  if (path.posix.isAbsolute(location) || path.win32.isAbsolute(location) || /^[a-zA-Z]:/.test(location)) {
    throw new ExternalDataError(
      'external-data-absolute',
      `external data location '${location}' of ${label} is an absolute path; locations must be relative to the model's folder`,
    );
  }
  const parts = location.split(/[\\/]+/);
  if (parts.includes('..')) {
    throw new ExternalDataError(
      'external-data-traversal',
      `external data location '${location}' of ${label} contains '..'; locations must stay inside the model's folder`,
    );
  }
}

/** Parse and validate the external_data entries of `t`, against the file they name. */
export function resolveExternalRef(t: TensorProto, modelDir: string): ExternalRef {
  const label = tensorLabel(t);
  const seen = new Map<string, string>();
  for (const e of t.external_data ?? []) {
    const key = e.key ?? '';
    if (!KNOWN_KEYS.has(key)) {
      throw new ExternalDataError('external-data-key', `external data of ${label} has an unknown key '${key.slice(0, 40)}' (allowed: location, offset, length, checksum)`);
    }
    if (seen.has(key)) throw new ExternalDataError('external-data-key', `external data of ${label} repeats the key '${key}'`);
    seen.set(key, e.value ?? '');
  }
  const location = seen.get('location');
  if (location === undefined) throw new ExternalDataError('external-data-location', `external data of ${label} has no location`);
  checkLocationSyntax(location, t);

  let realDir: string;
  try {
    realDir = realpathSync(modelDir);
  } catch {
    throw new ExternalDataError('external-data-missing', `cannot resolve the model folder '${modelDir}'`);
  }
  const joined = path.join(realDir, location);
  let file: string;
  try {
    file = realpathSync(joined);
  } catch {
    throw new ExternalDataError('external-data-missing', `external data file '${location}' of ${label} does not exist beside the model`);
  }
  if (file !== realDir && !file.startsWith(realDir + path.sep)) {
    throw new ExternalDataError(
      'external-data-symlink',
      `external data location '${location}' of ${label} resolves (through a symbolic link) to '${file}', outside the model's folder`,
    );
  }
  const st = statSync(file);
  if (!st.isFile()) throw new ExternalDataError('external-data-missing', `external data location '${location}' of ${label} is not a regular file`);

  const offset = seen.has('offset') ? parseCount('offset', seen.get('offset')!, t) : 0;
  if (offset > st.size) {
    throw new ExternalDataError('external-data-bounds', `external data of ${label}: offset ${offset} is past the end of '${location}' (${st.size} bytes)`);
  }
  const length = seen.has('length') ? parseCount('length', seen.get('length')!, t) : st.size - offset;
  if (offset + length > st.size) {
    throw new ExternalDataError(
      'external-data-bounds',
      `external data of ${label}: offset ${offset} + length ${length} runs past the end of '${location}' (${st.size} bytes)`,
    );
  }
  const expected = expectedByteLength(t);
  if (expected !== undefined && expected !== length) {
    throw new ExternalDataError(
      'external-data-length',
      `external data of ${label}: length ${length} does not match its dims and data type (${expected} bytes)`,
    );
  }
  const ref: ExternalRef = { location, file, offset, length };
  const checksum = seen.get('checksum');
  if (checksum !== undefined) ref.checksum = checksum;
  return ref;
}

/** Bytes the tensor's payload must have, from dims and data type (undefined for strings). */
export function expectedByteLength(t: TensorProto): number | undefined {
  const info = requireDataType(t.data_type, tensorLabel(t));
  if (info.bits === 0) return undefined;
  let count = 1;
  for (const d of t.dims ?? []) {
    const n = Number(d);
    if (!Number.isSafeInteger(n) || n < 0) {
      throw new ExternalDataError('external-data-length', `${tensorLabel(t)} has an invalid dimension ${String(d)}`);
    }
    count *= n;
    if (!Number.isSafeInteger(count)) throw new ExternalDataError('external-data-length', `${tensorLabel(t)} has too many elements`);
  }
  return rawByteLength(info, count);
}

/** Read the bytes a validated reference points to (exactly `length` bytes, checksum verified). */
export function readExternal(ref: ExternalRef, tensorName = '?'): Uint8Array {
  // without blocking, and checked on the descriptor: the file may have been swapped for a FIFO
  // or a device since the model was loaded
  const fd = openSync(ref.file, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new ExternalDataError('external-data-missing', `external data file '${ref.location}' is no longer a regular file`);
    const size = st.size;
    if (ref.offset + ref.length > size) {
      throw new ExternalDataError('external-data-bounds', `external data file '${ref.location}' shrank since the model was loaded`);
    }
    const out = Buffer.allocUnsafe(ref.length);
    let got = 0;
    while (got < ref.length) {
      const n = readSync(fd, out, got, ref.length - got, ref.offset + got);
      if (n === 0) throw new ExternalDataError('external-data-bounds', `unexpected end of '${ref.location}'`);
      got += n;
    }
    if (ref.checksum !== undefined) verifyChecksum(out, ref, tensorName);
    return out;
  } finally {
    closeSync(fd);
  }
}

function verifyChecksum(data: Uint8Array, ref: ExternalRef, tensorName: string): void {
  const want = ref.checksum!.toLowerCase();
  const algo = want.length === 64 ? 'sha256' : want.length === 32 ? 'md5' : 'sha1';
  const got = createHash(algo).update(data).digest('hex');
  if (got !== want) {
    throw new ExternalDataError(
      'external-data-checksum',
      `external data of tensor '${tensorName}' in '${ref.location}' fails its ${algo} checksum (file ${got.slice(0, 12)}…, recorded ${want.slice(0, 12)}…)`,
    );
  }
}
