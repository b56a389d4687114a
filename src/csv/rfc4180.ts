// A small RFC 4180 reader and writer. No CSV library is installed in the shared
// node_modules and none may be added there, and the format is small: fields separated by
// commas, records by CRLF (LF alone is accepted on reading), a field in double quotes may
// hold commas, line breaks and doubled quotes ("").

export class CsvSyntaxError extends Error {
  constructor(
    readonly line: number,
    message: string,
  ) {
    super(message);
  }
}

export interface CsvRecord {
  /** The line of the file the record starts on, from 1. */
  line: number;
  cells: string[];
}

/** Every record of `text`, a leading byte-order mark dropped; throws CsvSyntaxError on a broken quote. */
export function readCsv(text: string): CsvRecord[] {
  const source = text.startsWith('\uFEFF') ? text.slice(1) : text;
  const records: CsvRecord[] = [];
  let cells: string[] = [];
  let cell = '';
  // The current field was quoted: it is complete, and only a separator may follow.
  let quoted = false;
  let line = 1;
  let recordLine = 1;
  let i = 0;
  const endRecord = () => {
    cells.push(cell);
    records.push({ line: recordLine, cells });
    cells = [];
    cell = '';
    quoted = false;
  };
  while (i < source.length) {
    const c = source[i] as string;
    if (quoted && c !== ',' && c !== '\r' && c !== '\n')
      throw new CsvSyntaxError(line, `line ${line}: text after a closing quote (a quote inside a field must be doubled)`);
    if (c === '"' && cell === '') {
      const opened = line;
      i++;
      for (;;) {
        if (i >= source.length) throw new CsvSyntaxError(opened, `a quoted field opened on line ${opened} is never closed`);
        const q = source[i] as string;
        if (q === '"') {
          if (source[i + 1] === '"') {
            cell += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        if (q === '\n') line++;
        cell += q;
        i++;
      }
      quoted = true;
      continue;
    }
    if (c === '"') throw new CsvSyntaxError(line, `line ${line}: a quote inside an unquoted field (quote the field and double the quote)`);
    if (c === ',') {
      cells.push(cell);
      cell = '';
      quoted = false;
      i++;
      continue;
    }
    if (c === '\r' || c === '\n') {
      endRecord();
      i += c === '\r' && source[i + 1] === '\n' ? 2 : 1;
      line++;
      recordLine = line;
      continue;
    }
    cell += c;
    i++;
  }
  if (cell !== '' || quoted || cells.length > 0) endRecord();
  return records;
}

/** One field as RFC 4180 writes it: quoted when it holds a comma, a quote or a line break. */
export const csvField = (value: string): string => (/[",\r\n]/.test(value) || /^\s|\s$/.test(value) ? `"${value.replaceAll('"', '""')}"` : value);

/** Records as CSV text, CRLF after each. */
export const writeCsv = (records: readonly (readonly string[])[]): string => records.map((r) => `${r.map(csvField).join(',')}\r\n`).join('');
