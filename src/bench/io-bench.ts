/**
 * Load/save benchmark: a ~100 MB ResNet-50 export, loaded and saved by the toolkit, against
 * reading and writing the same bytes with `fs` in the same process (write + fsync, as the
 * toolkit's atomic save does). Peak memory is measured in a fresh child process per operation.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, fsyncSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Model } from '../ir/model.js';
import { widenResnet } from './make-large-model.js';
import { median } from './measure.js';

export interface IoBenchResult {
  fileBytes: number;
  rawReadMs: number;
  rawWriteMs: number;
  loadMs: number;
  saveMs: number;
  loadRatio: number;
  saveRatio: number;
  peakLoadSaveBytes: number;
  peakRatio: number;
  byteIdentical: boolean;
}


function time(fn: () => void, reps: number): number {
  const ts: number[] = [];
  for (let i = 0; i < reps; i++) {
    (globalThis as { gc?: () => void }).gc?.();
    const t0 = performance.now();
    fn();
    ts.push(performance.now() - t0);
  }
  return median(ts);
}

function writeRaw(file: string, bytes: Uint8Array): void {
  const fd = openSync(file, 'w');
  try {
    let off = 0;
    while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

export function runIoBench(repoRoot: string, reps = 5): IoBenchResult {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'iqa-bench-'));
  try {
    const src = path.join(dir, 'resnet50_full.onnx');
    widenResnet(path.join(repoRoot, 'fixtures/models/resnet50_iqa.onnx'), 8).save(src, { externalData: false });
    const fileBytes = statSync(src).size;
    const bytes = readFileSync(src);

    const rawReadMs = time(() => readFileSync(src), reps);
    const rawWriteMs = time(() => writeRaw(path.join(dir, 'raw.bin'), bytes), reps);
    let model: Model | undefined;
    const loadMs = time(() => {
      model = Model.load(src);
    }, reps);
    const out = path.join(dir, 'saved.onnx');
    const saveMs = time(() => model!.save(out), reps);
    const byteIdentical = Buffer.compare(readFileSync(out), bytes) === 0;

    // peak memory of load + save in a fresh process
    const script = fileURLToPath(new URL('./io-peak-child.js', import.meta.url));
    const child = JSON.parse(execFileSync(process.execPath, [script, src, path.join(dir, 'child.onnx')], { encoding: 'utf8' })) as { peakBytes: number };
    return {
      fileBytes,
      rawReadMs,
      rawWriteMs,
      loadMs,
      saveMs,
      loadRatio: loadMs / rawReadMs,
      saveRatio: saveMs / rawWriteMs,
      peakLoadSaveBytes: child.peakBytes,
      peakRatio: child.peakBytes / fileBytes,
      byteIdentical,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
