/**
 * Atomic file output: everything is written to a temporary file beside the target, flushed to
 * disk, then renamed over the target. A crash or kill leaves either the old file or the complete
 * new one, never a partial file; the temporary file is removed on failure.
 */
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, linkSync, lstatSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeSync, type Stats } from 'node:fs';
import path from 'node:path';
import { PathError } from '../errors.js';
import { notRegularReason } from './safe-read.js';

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

/** Longest file name (bytes) on the file systems this runs on (NAME_MAX). */
export const NAME_MAX = 255;
/** Longest stem kept whole in a temporary name: `.<stem>.<pid>.<8 hex>.tmp` must stay within NAME_MAX. */
const MAX_STEM_BYTES = 200;

/**
 * The part of a target's name its temporary files and lock carry: the name itself, or, for names
 * too long to take a suffix within NAME_MAX (an output name of 236-255 characters), a prefix of it
 * plus a hash of the whole name (so two long names with one prefix do not share temporaries).
 */
export function tempStem(target: string): string {
  const base = path.basename(target);
  if (Buffer.byteLength(base) <= MAX_STEM_BYTES) return base;
  let prefix = '';
  for (const ch of base) {
    if (Buffer.byteLength(prefix + ch) > MAX_STEM_BYTES - 17) break;
    prefix += ch;
  }
  return `${prefix}~${createHash('sha256').update(base).digest('hex').slice(0, 16)}`;
}

export function tempPathFor(target: string): string {
  const dir = path.dirname(target);
  return path.join(dir, `.${tempStem(target)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
}

/** Matches the temporary names `tempPathFor(target)` makes; group 1 is the writer's process id. */
export function tempNamePattern(target: string): RegExp {
  return new RegExp(`^\\.${escapeRegExp(tempStem(target))}\\.(\\d+)\\.[0-9a-f]{8}\\.tmp$`);
}

/**
 * Refuse to replace anything but a regular file (or nothing): renaming over a FIFO, a device node
 * (`-o /dev/null` as root), a socket or a folder would replace it with a regular file. A symbolic
 * link is judged by what it points to.
 */
export function checkReplaceableTarget(target: string, what = 'output'): void {
  let st: Stats;
  try {
    st = lstatSync(target);
  } catch {
    return; // nothing there (or not reachable: the write itself reports that)
  }
  if (st.isSymbolicLink()) {
    try {
      st = statSync(target);
    } catch {
      return; // a dangling link: the rename replaces the link
    }
  }
  const reason = notRegularReason(st);
  if (reason) throw new PathError('output-not-regular', `${what} '${target}' is ${reason}, not a regular file; refusing to replace it (give the path of a new or regular file)`);
}

/** Refuse a target whose file name is longer than NAME_MAX bytes (the open would fail with ENAMETOOLONG). */
export function checkNameLength(target: string, what = 'output'): void {
  const n = Buffer.byteLength(path.basename(target));
  if (n > NAME_MAX) throw new PathError('name-too-long', `${what} file name '${path.basename(target)}' is ${n} bytes, over the file-system limit of ${NAME_MAX}; give a shorter name`);
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
  const re = tempNamePattern(target);
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
  checkNameLength(target);
  checkReplaceableTarget(target);
  sweepStaleTemps(target);
  const tmp = tempPathFor(target);
  let fd: number;
  try {
    fd = openSync(tmp, 'wx', 0o644);
  } catch (e) {
    throw outputOpenError(target, e);
  }
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
      checkReplaceableTarget(target); // again: something may have appeared there while we wrote
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

function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/** The error for a temporary file that cannot be created beside `target`: the user's doing, one line. */
function outputOpenError(target: string, e: unknown): unknown {
  const code = (e as NodeJS.ErrnoException).code;
  const dir = path.dirname(target);
  switch (code) {
    case 'ENOENT':
    case 'ENOTDIR':
      return isDir(dir)
        ? new PathError('unwritable', `cannot write '${target}': files cannot be created in '${dir}' (${code})`)
        : new PathError('missing-dir', `cannot write '${target}': the folder '${dir}' does not exist`);
    case 'EACCES':
    case 'EPERM':
    case 'EROFS':
      return new PathError('unwritable', `cannot write '${target}': the folder '${dir}' is not writable (${code})`);
    case 'ENAMETOOLONG':
      return new PathError('name-too-long', `cannot write '${target}': the path is too long`);
    case 'ENOSPC':
    case 'EDQUOT':
      return new PathError('no-space', `cannot write '${target}': no space left on the device (${code})`);
    case 'EEXIST':
    case 'EINVAL':
    case 'EISDIR':
      return new PathError('unwritable', `cannot write '${target}': a temporary file cannot be created in '${dir}' (${code})`);
    default:
      return e;
  }
}

// ---------------------------------------------------------------------------------------------
// Locks: one writer at a time commits to a target

/** How long a writer waits for another writer's lock on the same target before refusing. */
export const LOCK_WAIT_MS = 60_000;

export function lockPathFor(target: string): string {
  return path.join(path.dirname(target), `.${tempStem(target)}.lock`);
}

function sleepMs(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/**
 * Test hook: widens a race window. The environment variable IQA_SURGEON_TEST_PAUSE, like
 * `between-renames=3000,before-commit=1500`, makes the writer sleep that many milliseconds at
 * the named point (unset: nothing). The concurrency tests use it to make two writers' renames
 * interleave on every run instead of rarely.
 */
export function pauseForTests(point: 'before-commit' | 'between-renames'): void {
  const spec = process.env.IQA_SURGEON_TEST_PAUSE;
  if (!spec) return;
  for (const part of spec.split(',')) {
    const [name, value] = part.split('=');
    const ms = Number(value);
    if (name === point && Number.isFinite(ms) && ms > 0) sleepMs(Math.min(ms, 10_000));
  }
}

function lockOwner(lock: string): number | null {
  try {
    const text = readFileSync(lock, 'utf8').trim();
    return /^\d+$/.test(text) ? Number(text) : null;
  } catch {
    return null;
  }
}

/** Remove a lock whose writer is gone (killed); false when it is held by a live process. */
function breakStaleLock(lock: string): boolean {
  const owner = lockOwner(lock);
  if (owner === null) {
    // being written this instant, or left empty by a writer killed between create and write
    try {
      if (Date.now() - lstatSync(lock).mtimeMs < 5_000) return false;
    } catch {
      return true; // gone already
    }
  } else if (processAlive(owner)) return false;
  // move it aside, then make sure what we moved is the stale lock and not a fresh one
  const aside = `${lock}.${process.pid}.${randomBytes(4).toString('hex')}.stale`;
  try {
    renameSync(lock, aside);
  } catch {
    return true; // someone else removed it
  }
  const moved = lockOwner(aside);
  if (moved !== owner && moved !== null && processAlive(moved)) {
    try {
      linkSync(aside, lock); // put the live writer's lock back (fails if a newer one exists)
    } catch {
      // a newer lock exists: that one rules
    }
  }
  rmSync(aside, { force: true });
  return true;
}

/**
 * Take the lock of `target` (a file `.<name>.lock` beside it, created exclusively, holding our
 * process id); waits while a live writer holds it, removes one left by a dead writer, and refuses
 * with a one-line error after `waitMs`. Returns the release function.
 */
export function acquireLock(target: string, waitMs = LOCK_WAIT_MS): () => void {
  const lock = lockPathFor(target);
  const deadline = Date.now() + waitMs;
  for (let delay = 5; ; delay = Math.min(delay * 2, 100)) {
    let fd: number | undefined;
    try {
      fd = openSync(lock, 'wx', 0o644);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw outputOpenError(target, e);
    }
    if (fd !== undefined) {
      try {
        writeSync(fd, `${process.pid}\n`);
      } finally {
        closeSync(fd);
      }
      let released = false;
      return () => {
        if (released) return;
        released = true;
        if (lockOwner(lock) === process.pid) rmSync(lock, { force: true });
      };
    }
    if (breakStaleLock(lock)) continue;
    if (Date.now() > deadline) {
      throw new PathError('output-locked', `another iqa-surgeon process (pid ${lockOwner(lock) ?? '?'}) is writing '${target}'; waited ${Math.round(waitMs / 1000)} s for it (lock file ${lock})`);
    }
    sleepMs(delay);
  }
}
