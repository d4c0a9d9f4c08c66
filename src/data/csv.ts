/**
 * A small RFC 4180 CSV reader: comma-separated fields, double-quoted fields may hold commas,
 * newlines and doubled quotes; CRLF or LF line ends; a UTF-8 byte-order mark is ignored. Each row
 * keeps the 1-based line number where it starts so that errors can name it.
 */
import { UserError } from '../errors.js';

export interface CsvRow {
  line: number;
  fields: string[];
}

export class CsvError extends UserError {
  constructor(message: string) {
    super('csv', message);
  }
}

/**
 * Longest field and longest record (a line, or the lines a quoted field spans) accepted, in
 * characters. The fields are image paths, scores and split names; a 50 MB field used to take over
 * 30 s and 1.6 GB, and is now refused after at most this many characters.
 */
export const MAX_CSV_FIELD_CHARS = 64 * 1024;
export const MAX_CSV_LINE_CHARS = 1024 * 1024;

/** Parse CSV text into rows (blank lines are skipped). `source` names the file in errors. */
export function parseCsv(text: string, source = 'CSV', limits: { maxField?: number; maxLine?: number } = {}): CsvRow[] {
  const maxField = limits.maxField ?? MAX_CSV_FIELD_CHARS;
  const maxLine = limits.maxLine ?? MAX_CSV_LINE_CHARS;
  const rows: CsvRow[] = [];
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  let rowStart = i;
  let line = 1;
  let fields: string[] = [];
  let field = '';
  let rowLine = 1;
  let quoted = false;
  let fieldStarted = false;
  const endRow = () => {
    fields.push(field);
    if (!(fields.length === 1 && fields[0] === '' && !fieldStarted)) rows.push({ line: rowLine, fields });
    fields = [];
    field = '';
    fieldStarted = false;
  };
  while (i < text.length) {
    if (field.length > maxField) throw new CsvError(`'${source}' line ${rowLine}: a field is longer than ${maxField} characters`);
    if (i - rowStart > maxLine) throw new CsvError(`'${source}' line ${rowLine}: the line is longer than ${maxLine} characters`);
    const c = text[i]!;
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i += 2;
          continue;
        }
        quoted = false;
        i++;
        continue;
      }
      if (c === '\n') line++;
      field += c;
      i++;
      continue;
    }
    if (c === '"') {
      if (field.trim() !== '') throw new CsvError(`'${source}' line ${line}: a quote inside an unquoted field; quote the whole field and double inner quotes`);
      field = '';
      quoted = true;
      fieldStarted = true;
      i++;
    } else if (c === ',') {
      fields.push(field);
      field = '';
      fieldStarted = true;
      i++;
    } else if (c === '\r' || c === '\n') {
      endRow();
      if (c === '\r' && text[i + 1] === '\n') i++;
      i++;
      line++;
      rowLine = line;
      rowStart = i;
    } else {
      field += c;
      fieldStarted = true;
      i++;
    }
  }
  if (quoted) throw new CsvError(`'${source}' line ${rowLine}: a quoted field is not closed before the end of the file`);
  if (field !== '' || fields.length > 0 || fieldStarted) endRow();
  return rows;
}

/** Quote a field for writing when it needs it. */
export function csvField(s: string): string {
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** Rows to CSV text (LF line ends, trailing newline). */
export function formatCsv(rows: readonly (readonly (string | number)[])[]): string {
  return rows.map((r) => r.map((f) => csvField(String(f))).join(',')).join('\n') + '\n';
}
