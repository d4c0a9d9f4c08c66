/**
 * Temporary folders for tests: one root per test file, removed after the file's tests.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export class TempDirs {
  private readonly dirs: string[] = [];
  constructor(private readonly prefix: string) {}

  /** A fresh empty folder (real path, so symlink checks compare like with like). */
  make(label = 'case'): string {
    const d = mkdtempSync(path.join(os.tmpdir(), `${this.prefix}-${label}-`));
    this.dirs.push(d);
    return d;
  }

  cleanup(): void {
    for (const d of this.dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  }
}
