/**
 * One-line notices from the runtime layer (a CUDA request that fell back to the CPU, the memory
 * estimate of a session). The library is quiet by default; the CLI collects them and prints them
 * on stderr when the command succeeds (a failing command prints its one error line only).
 */
export interface Notice {
  kind: 'estimate' | 'fallback';
  line: string;
  /** For estimates: the estimated bytes. */
  bytes?: number;
}

export type NoticeSink = (n: Notice) => void;

let sink: NoticeSink = () => {};

/** Where notices go; returns the previous sink. */
export function setNoticeSink(next: NoticeSink | undefined): NoticeSink {
  const prev = sink;
  sink = next ?? (() => {});
  return prev;
}

export function notice(n: Notice): void {
  sink(n);
}

/**
 * The lines to print for a command's notices: every fallback once, and one estimate line (the
 * largest session the command opened).
 */
export function noticeLines(notices: readonly Notice[]): string[] {
  const lines = [...new Set(notices.filter((n) => n.kind === 'fallback').map((n) => n.line))];
  let top: Notice | undefined;
  for (const n of notices) if (n.kind === 'estimate' && (top === undefined || (n.bytes ?? 0) > (top.bytes ?? 0))) top = n;
  if (top) lines.push(top.line);
  return lines;
}
