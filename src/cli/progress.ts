/**
 * Progress of long loops (fine-tuning, attacks, evaluation): a bar with the loss, images per second
 * and ETA on a terminal (cli-progress, on stderr), plain lines otherwise, nothing with --json.
 */
import cliProgress from 'cli-progress';

export interface Progress {
  start(total: number, label: string): void;
  update(done: number, values: { loss?: number; imagesPerSecond?: number }): void;
  stop(): void;
  /** A line of its own (an epoch summary). */
  line(text: string): void;
}

export function makeProgress(opts: { json?: boolean; err: (s: string) => void; tty?: boolean }): Progress {
  if (opts.json) return { start() {}, update() {}, stop() {}, line() {} };
  const tty = opts.tty ?? (process.stderr.isTTY === true);
  if (!tty) {
    let label = '';
    let total = 0;
    return {
      start(t, l) {
        total = t;
        label = l;
      },
      update(done, v) {
        if (done === total) opts.err(`${label}: ${done}/${total}${v.loss !== undefined ? ` loss ${v.loss.toFixed(4)}` : ''}${v.imagesPerSecond !== undefined ? ` ${v.imagesPerSecond.toFixed(1)} img/s` : ''}\n`);
      },
      stop() {},
      line(text) {
        opts.err(`${text}\n`);
      },
    };
  }
  const bar = new cliProgress.SingleBar(
    { format: '{label} [{bar}] {value}/{total} | loss {loss} | {ips} img/s | ETA {eta_formatted}', hideCursor: true, stream: process.stderr, clearOnComplete: true },
    cliProgress.Presets.shades_classic,
  );
  return {
    start(total, label) {
      bar.start(total, 0, { label, loss: '-', ips: '-' });
    },
    update(done, v) {
      bar.update(done, { ...(v.loss !== undefined ? { loss: v.loss.toFixed(4) } : {}), ...(v.imagesPerSecond !== undefined ? { ips: v.imagesPerSecond.toFixed(1) } : {}) });
    },
    stop() {
      bar.stop();
    },
    line(text) {
      opts.err(`${text}\n`);
    },
  };
}
