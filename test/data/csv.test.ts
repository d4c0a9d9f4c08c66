import { expect } from 'chai';
import { formatCsv, parseCsv } from '../../src/data/csv.js';

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
});
