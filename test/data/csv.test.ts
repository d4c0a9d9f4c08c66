import { expect } from 'chai';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { CsvError, formatCsv, MAX_CSV_FIELD_CHARS, MAX_CSV_LINE_CHARS, parseCsv } from '../../src/data/csv.js';
import { runCliMeasured } from '../../src/reliability/child-run.js';
import { TempDirs } from '../helpers/temp-dir.js';
import { requireBuild } from '../helpers/test-data.js';

const tmp = new TempDirs('iqa-csv');

describe('data/csv', () => {
  it('reads quoted fields, doubled quotes, CRLF and a BOM, with line numbers', () => {
    const rows = parseCsv('\ufeff"a","b"\r\n"x,1","say ""hi"""\r\n\r\nplain,2\r\n"multi\nline",3');
    expect(rows.map((r) => r.fields)).to.deep.equal([['a', 'b'], ['x,1', 'say "hi"'], ['plain', '2'], ['multi\nline', '3']]);
    expect(rows.map((r) => r.line)).to.deep.equal([1, 2, 4, 5]);
  });

  it('keeps empty fields', () => {
    expect(parseCsv('a,,c\n,\n').map((r) => r.fields)).to.deep.equal([['a', '', 'c'], ['', '']]);
  });

  it('refuses an unclosed quote naming the line', () => {
    expect(() => parseCsv('a,b\n"open,1\n', 'f.csv')).to.throw(/'f\.csv' line 2: a quoted field is not closed/);
  });

  it('writes what it reads', () => {
    const rows = [['path', 'mos'], ['a,b.png', 3.5], ['q"uote.png', 1]];
    expect(parseCsv(formatCsv(rows)).map((r) => r.fields)).to.deep.equal(rows.map((r) => r.map(String)));
  });

  describe('field and line caps (issue 11, defect 5: a 50 MB field took over 30 s and 1.6 GB)', () => {
    after(() => tmp.cleanup());

    it('refuses a field over the cap naming its line, quoted or not', () => {
      const big = 'x'.repeat(MAX_CSV_FIELD_CHARS + 1);
      expect(() => parseCsv(`path,mos\n${big},1\n`, 'f.csv')).to.throw(CsvError, /'f\.csv' line 2: a field is longer than 65536 characters/);
      expect(() => parseCsv(`path,mos\na.png,1\n"${big}",1\n`, 'f.csv')).to.throw(CsvError, /'f\.csv' line 3: a field is longer than 65536 characters/);
      expect(parseCsv(`path,mos\n${'x'.repeat(MAX_CSV_FIELD_CHARS)},1\n`)[1]!.fields[0]!.length).to.equal(MAX_CSV_FIELD_CHARS);
    });

    it('refuses a line over the cap (many short fields) naming it', () => {
      const line = Array.from({ length: MAX_CSV_LINE_CHARS / 8 + 1 }, () => 'abcdefg').join(',');
      expect(() => parseCsv(`path,mos\n${line}\n`, 'f.csv')).to.throw(CsvError, /'f\.csv' line 2: the line is longer than 1048576 characters/);
    });

    it('dataset info on a CSV with one 50 MB field: exit 1, one line naming the line, bounded memory', async () => {
      requireBuild();
      const dir = tmp.make('big');
      const csv = path.join(dir, 'scores.csv');
      writeFileSync(csv, `path,mos\na.png,1\n${'y'.repeat(50 * 1024 * 1024)},2\n`);
      // a generous hang bound: the test checks the outcome and the memory, not the time
      const r = await runCliMeasured(['dataset', 'info', '--data', `csv:${csv}`], { timeoutMs: 240_000, scratch: dir });
      expect(r.timedOut, 'hung').to.equal(false);
      expect(r.status, r.stderr).to.equal(1);
      expect(r.stderr).to.match(/^iqa-surgeon: error: .*scores\.csv' line 3: a field is longer than 65536 characters\n$/);
      // the file's text (50 MB, 100 MB as a UTF-16 string at worst) plus the runtime: far below the 1.6 GB it took
      if (Number.isFinite(r.maxRssKiB)) expect(r.maxRssKiB / 1024, 'peak RSS, MiB').to.be.below(450);
    });
  });
});

