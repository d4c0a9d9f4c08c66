/** Small text-formatting helpers for CLI output. */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(v < 10 ? 2 : 1)} ${units[i]}`;
}

/** 1234567 -> "1.23M". */
export function formatCount(n: number): string {
  if (n < 1000) return String(n);
  const units = ['K', 'M', 'G', 'T'];
  let v = n / 1000;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${v.toFixed(v < 10 ? 2 : 1)}${units[i]}`;
}

export function formatShape(shape: readonly (number | string | null)[] | null): string {
  if (!shape) return '?';
  return `[${shape.map((d) => (d === null ? '?' : String(d))).join(',')}]`;
}

/** Left-aligned columns. */
export function table(rows: string[][], indent = '  '): string {
  if (rows.length === 0) return '';
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  return rows.map((r) => indent + r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]!))).join('  ') + '\n').join('');
}

/**
 * Control characters (C0 but newline and tab, DEL, C1) escaped so that names taken from a model
 * cannot drive the terminal: `\x1b` in human-readable text; in JSON text (which escapes C0
 * itself but leaves DEL and C1 raw) the JSON escape `\u009b`, which parses back to the same
 * string. `keepNewlines: false` escapes newlines too (one-line messages).
 */
export function escapeControls(s: string, opts: { json?: boolean; keepNewlines?: boolean } = {}): string {
  const re = opts.keepNewlines === false ? /[\u0000-\u001f\u007f-\u009f]/g : /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g;
  return s.replace(re, (c) => {
    const hex = c.charCodeAt(0).toString(16).padStart(2, '0');
    return opts.json ? `\\u00${hex}` : `\\x${hex}`;
  });
}

/** What a command prints on stdout, made safe: JSON documents (they start with `{` or `[` and end with a newline after `}`/`]`) keep valid JSON. */
export function safeStdout(s: string): string {
  const json = /^[[{]/.test(s) && /[\]}]\n?$/.test(s);
  return escapeControls(s, { json });
}
