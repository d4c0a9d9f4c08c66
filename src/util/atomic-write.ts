/**
 * Atomic file output: everything is written to a temporary file beside the target, flushed to
 * disk, then renamed over the target. A crash or kill leaves either the old file or the complete
 * new one, never a partial file; the temporary file is removed on failure.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, openSync, readdirSync, renameSync, rmSync, writeSync } from 'node:fs';
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

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function processAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: it exists but belongs to someone else
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Remove temporary files of `target` left by writers that were killed (SIGKILL, power loss)
 * before they could clean up: only names this module makes, and only when the process that made
 * them is gone.
 */
export function sweepStaleTemps(target: string): string[] {
  const dir = path.dirname(target);
  const re = new RegExp(`^\\.${escapeRegExp(path.basename(target))}\\.(\\d+)\\.[0-9a-f]{8}\\.tmp$`);
  const removed: string[] = [];
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return removed;
  }
  for (const name of names) {
    const m = re.exec(name);
    if (!m || processAlive(Number(m[1]))) continue;
    try {
      rmSync(path.join(dir, name), { force: true });
      removed.push(name);
    } catch {
      // not ours to remove after all (permissions): leave it
    }
  }
  return removed;
}

/** Write a file's content through `fill` into a temporary file; returns a handle to commit it. */
export function writeTemp(target: string, fill: (w: FileWriter) => void): PendingFile {
  sweepStaleTemps(target);
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
