/**
 * The one reader of user-supplied files (patch files, CSV and split files, images, models): the
 * path is opened without blocking (a FIFO would otherwise wait forever for a writer), the opened
 * descriptor is checked to be a regular file (directories, FIFOs, character and block devices and
 * sockets are refused: `/dev/zero` would otherwise be read until the process aborts), its size is
 * checked against a cap before anything is allocated, and then exactly that many bytes are read.
 * Checking the descriptor, not the path, leaves no window for the file to be swapped.
 */
import { constants as bufferConstants } from 'node:buffer';
import { closeSync, constants, fstatSync, openSync, readSync, type Stats } from 'node:fs';
import { PathError, UserError } from '../errors.js';

export interface SafeReadOptions {
  /** What the file is, for messages ("patch file", "score file"...). */
  what: string;
  /** Refuse files larger than this many bytes. */
  maxBytes: number;
  /** The flag that raises `maxBytes`, named in the message when there is one. */
  maxBytesFlag?: string;
}

/** Caps of the small text inputs (patch files, CSV and split files). */
export const MAX_TEXT_FILE_BYTES = 64 * 1024 ** 2;
/** Cap of one image file (compressed bytes; decoded pixels are capped by --max-image-pixels). */
export const MAX_IMAGE_FILE_BYTES = 512 * 1024 ** 2;

function kindOf(st: Stats): string {
  if (st.isDirectory()) return 'a folder';
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

/** Describe why a stat result is not a regular file (null when it is one). */
export function notRegularReason(st: Stats): string | null {
  return st.isFile() ? null : kindOf(st);
}

/** Open `file` for reading and check it is a regular file within the cap; returns the fd and its size. */
export function openRegularFile(file: string, opts: SafeReadOptions): { fd: number; size: number } {
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK | (constants.O_NOCTTY ?? 0));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new PathError('missing-file', `${opts.what} '${file}' does not exist`);
    if (code === 'ENXIO') throw new PathError('not-a-file', `${opts.what} '${file}' is not a regular file (a socket or a device)`);
    throw new PathError('unreadable', `${opts.what} '${file}' cannot be read (${code ?? 'error'})`);
  }
  try {
    const st = fstatSync(fd);
    const reason = notRegularReason(st);
    if (reason) throw new PathError('not-a-file', `${opts.what} '${file}' is not a regular file but ${reason}`);
    if (st.size > opts.maxBytes) {
      throw new UserError(
        'limit-file-size',
        `${opts.what} '${file}' is ${st.size} bytes, over the limit of ${opts.maxBytes}${opts.maxBytesFlag ? ` (raise it with ${opts.maxBytesFlag})` : ''}`,
      );
    }
    return { fd, size: st.size };
  } catch (e) {
    closeSync(fd);
    throw e;
  }
}

/** Read a regular file whole (see the module comment for what is refused). */
export function readRegularFile(file: string, opts: SafeReadOptions): Buffer {
  const { fd, size } = openRegularFile(file, opts);
  try {
    if (size > bufferConstants.MAX_LENGTH) {
      throw new UserError('limit-file-size', `${opts.what} '${file}' is ${size} bytes, more than this process can hold in one buffer (${bufferConstants.MAX_LENGTH})`);
    }
    const out = Buffer.allocUnsafe(size);
    let got = 0;
    while (got < size) {
      let n: number;
      try {
        n = readSync(fd, out, got, size - got, got);
      } catch (e) {
        throw new PathError('unreadable', `${opts.what} '${file}' cannot be read (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
      }
      if (n === 0) break; // shrank while being read: what is there
      got += n;
    }
    return got === size ? out : out.subarray(0, got);
  } finally {
    closeSync(fd);
  }
}

/** Read a regular text file (UTF-8) whole, capped at `maxBytes` (default MAX_TEXT_FILE_BYTES). */
export function readRegularTextFile(file: string, what: string, maxBytes = MAX_TEXT_FILE_BYTES): string {
  return readRegularFile(file, { what, maxBytes }).toString('utf8');
}
