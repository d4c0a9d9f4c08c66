/**
 * Atomic file output: everything is written to a temporary file beside the target, flushed to
 * disk, then renamed over the target. A crash or kill leaves either the old file or the complete
 * new one, never a partial file; the temporary file is removed on failure.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import path from 'node:path';

export interface FileWriter {
  write(bytes: Uint8Array): void;
  readonly bytesWritten: number;
}

export interface PendingFile {
  readonly target: string;
  readonly tmp: string;
  /** Rename into place. */
  commit(): void;
  /** Remove the temporary file (after a failure). */
  abort(): void;
}

export function tempPathFor(target: string): string {
  const dir = path.dirname(target);
  return path.join(dir, `.${path.basename(target)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
}

/** Write a file's content through `fill` into a temporary file; returns a handle to commit it. */
export function writeTemp(target: string, fill: (w: FileWriter) => void): PendingFile {
  const tmp = tempPathFor(target);
  const fd = openSync(tmp, 'wx', 0o644);
  let ok = false;
  try {
    let n = 0;
    const writer: FileWriter = {
      write(bytes: Uint8Array) {
        let off = 0;
        while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
        n += bytes.length;
      },
      get bytesWritten() {
        return n;
      },
    };
    fill(writer);
    fsyncSync(fd);
    ok = true;
  } finally {
    closeSync(fd);
    if (!ok) rmSync(tmp, { force: true });
  }
  return {
    target,
    tmp,
    commit() {
      renameSync(tmp, target);
      fsyncDir(path.dirname(target));
    },
    abort() {
      rmSync(tmp, { force: true });
    },
  };
}

function fsyncDir(dir: string): void {
  try {
    const fd = openSync(dir, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // some file systems do not allow fsync on directories; the rename itself is still atomic
  }
}

/** Write one file atomically. */
export function writeFileAtomic(target: string, fill: (w: FileWriter) => void): void {
  writeTemp(target, fill).commit();
}
