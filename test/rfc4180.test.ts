import t from 'tap';
import { CsvSyntaxError, readCsv, writeCsv } from '../src/csv/rfc4180.js';

// The small RFC 4180 reader and writer the CSV import and export use.

const cells = (text: string) => readCsv(text).map((r) => r.cells);

t.test('fields, quotes, doubled quotes, line breaks inside quotes, CRLF or LF, a BOM, no final newline', async (t) => {
  t.same(cells('a,b,c\r\n1,2,3\r\n'), [
    ['a', 'b', 'c'],
    ['1', '2', '3'],
  ]);
  t.same(cells('\uFEFFa,"b, c","say ""hi"""\n"two\r\nlines",,""'), [
    ['a', 'b, c', 'say "hi"'],
    ['two\r\nlines', '', ''],
  ]);
  t.same(cells('x'), [['x']]);
  t.same(cells(''), []);
  t.same(cells('a,\n,b\n'), [
    ['a', ''],
    ['', 'b'],
  ]);
  t.same(
    readCsv('a\n"b\nc"\nd').map((r) => r.line),
    [1, 2, 4],
    'each record knows the line it starts on',
  );
});

t.test('broken quoting is an error naming the line', async (t) => {
  t.throws(() => readCsv('a\n"open,b\n'), new CsvSyntaxError(2, 'a quoted field opened on line 2 is never closed'));
  t.throws(() => readCsv('a\n"x"y,b\n'), { line: 2, message: /text after a closing quote/ });
  t.throws(() => readCsv('a\nx"y,b\n'), { line: 2, message: /quote inside an unquoted field/ });
});

t.test('what the writer writes, the reader reads back the same', async (t) => {
  const records = [
    ['plain', 'with, comma', 'with "quote"', 'two\r\nlines', '', ' padded '],
    ['ünïcödé', '€', "'=1+1"],
  ];
  const text = writeCsv(records);
  t.ok(text.startsWith('plain,"with, comma","with ""quote""","two\r\nlines",," padded "\r\n'), text);
  t.ok(text.endsWith("\r\nünïcödé,€,'=1+1\r\n"));
  t.same(cells(text), records);
});
