import { AmountFormatError, formatMinor, parseDecimal } from '../money/decimal.js';
import type { ExpenseInput } from '../commands/expense-input.js';
import { CsvSyntaxError, readCsv, writeCsv } from './rfc4180.js';

// Splitwise's CSV export, read and written (issue #14 item 6). The file:
//   Date,Description,Category,Cost,Currency,<member>,<member>,…
//   one row per expense: each member column holds that member's net for the row (what
//   they paid minus their share; positive: they are owed), Category "Payment" for a
//   settle-up, and last a "Total balance" row (no category, no cost; dated or not) with every member's balance.
// Blank lines are skipped. Amounts are decimal strings in the currency's minor digits,
// a net may carry a leading "-".
//
// A row's nets say what it did to balances, not who paid and who shared. Imported rows
// reproduce every member's balance exactly, and keep the Cost where the nets allow it:
// - Payment: exactly one positive net (the payer) and one negative (the recipient), equal
//   in size: a payment of that amount.
// - Expense with one positive net p and Cost ≥ p: paid by that member for the whole Cost;
//   each negative-net member's share is minus their net, the payer's own share is what
//   is left (Cost − p, left out when 0). This is how Splitwise itself records an expense
//   one person paid, and what a FairShare export of such an expense writes.
// - Any other expense (several positive nets, or a Cost below them): amount = the sum of
//   the positive nets, each positive-net member paid their net, each negative-net member's
//   share is minus their net. Who paid for their own share is not in the file.
// - Nets that do not sum to zero, a non-zero net in an unmapped column, or a Payment of
//   another shape is a problem of that row; a row whose nets are all zero changes no
//   balance and is skipped.

export const FIXED_COLUMNS = ['Date', 'Description', 'Category', 'Cost', 'Currency'] as const;
const MEMBER_FROM = FIXED_COLUMNS.length;
const DATE = /^\d{4}-\d{2}-\d{2}$/;
// Text a spreadsheet would run as a formula is written with a leading apostrophe (and read
// back without it): an exported file opened in a spreadsheet runs nothing.
const FORMULA = /^[=+\-@\t\r]/;

/** A file that cannot be read as a Splitwise export: where (row = line, column) and why. */
export class SplitwiseFileError extends Error {
  constructor(
    readonly path: string,
    message: string,
  ) {
    super(message);
  }
}

export interface SplitwiseRow {
  /** The line of the file the row starts on. */
  line: number;
  date: string;
  description: string;
  category: string;
  costMinor: bigint;
  currency: string;
  /** One per member column, in the header's order. */
  nets: bigint[];
  /** The same row, in a form that names it: equal rows (same cells in the same columns) have equal keys. */
  key: string;
}

export interface SplitwiseFile {
  /** The member columns' headings, in order (column index = MEMBER_FROM + position). */
  columns: string[];
  rows: SplitwiseRow[];
  /** The "Total balance" row's nets, when the file has one. */
  totals: bigint[] | undefined;
}

export interface Limits {
  maxRows: number;
  maxColumns: number;
  maxMinor: bigint;
}

const at = (line: number, column?: string) => (column === undefined ? `row ${line}` : `row ${line}/${column}`);

function money(text: string, digits: number, path: string, signed: boolean, max: bigint): bigint {
  const trimmed = text.trim();
  if (trimmed === '') return 0n;
  const negative = signed && trimmed.startsWith('-');
  try {
    const minor = parseDecimal(negative ? trimmed.slice(1) : trimmed, digits, { allowZero: true, max });
    return negative ? -minor : minor;
  } catch (error) {
    if (error instanceof AmountFormatError) throw new SplitwiseFileError(path, error.message);
    throw error;
  }
}

const unguard = (text: string) => (text.startsWith("'") && FORMULA.test(text.slice(1)) ? text.slice(1) : text);
const guard = (text: string) => (FORMULA.test(text) ? `'${text}` : text);

/** Reads a Splitwise export; amounts in `digits` minor digits. Throws SplitwiseFileError naming row and column. */
export function readSplitwise(text: string, digits: number, limits: Limits): SplitwiseFile {
  let records;
  try {
    records = readCsv(text).filter((r) => r.cells.some((c) => c.trim() !== ''));
  } catch (error) {
    if (error instanceof CsvSyntaxError) throw new SplitwiseFileError(at(error.line), error.message);
    throw error;
  }
  const header = records.shift();
  if (!header) throw new SplitwiseFileError('row 1', 'the file is empty');
  const names = header.cells.map((c) => unguard(c.trim()));
  FIXED_COLUMNS.forEach((name, i) => {
    if (names[i]?.toLowerCase() !== name.toLowerCase()) {
      throw new SplitwiseFileError(
        at(header.line, String(i + 1)),
        `column ${i + 1} must be "${name}" (Date,Description,Category,Cost,Currency, then one column per member)`,
      );
    }
  });
  const columns = names.slice(MEMBER_FROM);
  if (columns.length === 0) throw new SplitwiseFileError(at(header.line), 'the header names no member columns after Currency');
  if (columns.length > limits.maxColumns) throw new SplitwiseFileError(at(header.line), `at most ${limits.maxColumns} member columns`);
  columns.forEach((c, i) => {
    if (c === '') throw new SplitwiseFileError(at(header.line, String(MEMBER_FROM + i + 1)), 'a member column has no name');
  });

  const rows: SplitwiseRow[] = [];
  let totals: bigint[] | undefined;
  for (const record of records) {
    const { line, cells } = record;
    if (cells.length !== names.length) throw new SplitwiseFileError(at(line), `has ${cells.length} fields; the header has ${names.length}`);
    const cell = (i: number) => cells[i] as string;
    const nets = columns.map((name, i) => money(cell(MEMBER_FROM + i), digits, at(line, name), true, limits.maxMinor));
    const description = unguard(cell(1).trim());
    // The totals row: Splitwise may date it (the day of the export) or not; what marks it
    // is its description with no category and no cost, which no expense row has.
    if (description.toLowerCase() === 'total balance' && cell(2).trim() === '' && cell(3).trim() === '') {
      totals = nets;
      continue;
    }
    if (rows.length >= limits.maxRows) throw new SplitwiseFileError(at(line), `a file may hold at most ${limits.maxRows} rows`);
    const date = cell(0).trim();
    const time = Date.parse(`${date}T00:00:00.000Z`);
    const valid = DATE.test(date) && !Number.isNaN(time) && new Date(time).toISOString().startsWith(date);
    if (!valid) throw new SplitwiseFileError(at(line, 'Date'), 'must be a date such as 2026-11-26');
    const category = unguard(cell(2).trim());
    const costMinor = money(cell(3), digits, at(line, 'Cost'), false, limits.maxMinor);
    const currency = cell(4).trim().toUpperCase();
    const named = columns.flatMap((name, i) => (nets[i] === 0n ? [] : [[name, String(nets[i])]]));
    const key = JSON.stringify([date, description, category, String(costMinor), currency, named]);
    rows.push({ line, date, description, category, costMinor, currency, nets, key });
  }
  return { columns, rows, totals };
}

/** What an imported row becomes: an expense input, a reason it cannot be, or nothing to record. */
export type RowMapping = { input: ExpenseInput } | { problem: string } | { skip: string };

/**
 * A row as a FairShare expense, by the rule at the top of this file. `users[i]` is the
 * member the i-th member column is mapped to (null: not mapped); two columns mapped to
 * one member add up.
 */
export function expenseOfRow(row: SplitwiseRow, columns: readonly string[], users: readonly (string | null)[], digits: number): RowMapping {
  const byUser = new Map<string, bigint>();
  for (const [i, net] of row.nets.entries()) {
    if (net === 0n) continue;
    const user = users[i];
    if (user === null || user === undefined) return { problem: `column "${columns[i]}" is mapped to no member but holds ${formatMinor(net, digits)}` };
    byUser.set(user, (byUser.get(user) ?? 0n) + net);
  }
  const entries = [...byUser].filter(([, net]) => net !== 0n);
  const sum = entries.reduce((s, [, net]) => s + net, 0n);
  if (sum !== 0n) return { problem: `the members' nets add up to ${formatMinor(sum, digits)}, not 0` };
  if (entries.length === 0) return { skip: 'changes no balance' };
  const positive = entries.filter(([, n]) => n > 0n);
  const negative = entries.filter(([, n]) => n < 0n);
  const positiveSum = positive.reduce((s, [, n]) => s + n, 0n);
  const amount = (minor: bigint) => formatMinor(minor, digits);
  const occurredAt = `${row.date}T12:00:00.000Z`;
  const description = row.description;
  if (row.category.toLowerCase() === 'payment') {
    const [payer] = positive;
    const [recipient] = negative;
    if (positive.length !== 1 || negative.length !== 1 || !payer || !recipient) {
      return { problem: 'a Payment must move money from one member to one other' };
    }
    return {
      input: {
        kind: 'payment',
        description,
        amount: amount(payer[1]),
        paidBy: payer[0],
        split: { mode: 'exact', shares: [{ userId: recipient[0], amount: amount(payer[1]) }] },
        occurredAt,
      },
    };
  }
  const shares = negative.map(([userId, n]) => ({ userId, amount: amount(-n) }));
  const [onlyPayer] = positive;
  if (positive.length === 1 && onlyPayer && row.costMinor >= positiveSum) {
    const own = row.costMinor - positiveSum;
    return {
      input: {
        kind: 'expense',
        description,
        amount: amount(row.costMinor),
        paidBy: onlyPayer[0],
        split: { mode: 'exact', shares: own > 0n ? [...shares, { userId: onlyPayer[0], amount: amount(own) }] : shares },
        occurredAt,
      },
    };
  }
  return {
    input: {
      kind: 'expense',
      description,
      amount: amount(positiveSum),
      payers: positive.map(([userId, n]) => ({ userId, amount: amount(n) })),
      split: { mode: 'exact', shares },
      occurredAt,
    },
  };
}

export interface ExportedExpense {
  kind: 'expense' | 'payment';
  description: string;
  amountMinor: bigint;
  occurredAt: Date;
  payers: readonly { userId: string; amountMinor: number }[];
  shares: readonly { userId: string; amountMinor: number }[];
}

/**
 * A group's expenses (oldest first) as a Splitwise export: one column per member in
 * `members`' order, each row's nets, and the "Total balance" row of their sums.
 */
export function writeSplitwise(
  currency: string,
  digits: number,
  members: readonly { userId: string; name: string }[],
  expenses: readonly ExportedExpense[],
): string {
  const index = new Map(members.map((m, i) => [m.userId, i]));
  const totals = members.map(() => 0n);
  const rows = expenses.map((e) => {
    const nets = members.map(() => 0n);
    const add = (userId: string, minor: bigint) => {
      const i = index.get(userId) as number;
      nets[i] = (nets[i] as bigint) + minor;
    };
    for (const p of e.payers) add(p.userId, BigInt(p.amountMinor));
    for (const s of e.shares) add(s.userId, -BigInt(s.amountMinor));
    nets.forEach((n, i) => (totals[i] = (totals[i] as bigint) + n));
    const category = e.kind === 'payment' ? 'Payment' : 'General';
    return [
      e.occurredAt.toISOString().slice(0, 10),
      guard(e.description),
      category,
      formatMinor(e.amountMinor, digits),
      currency,
      ...nets.map((n) => formatMinor(n, digits)),
    ];
  });
  return writeCsv([
    [...FIXED_COLUMNS, ...members.map((m) => guard(m.name))],
    ...rows,
    ['', 'Total balance', '', '', currency, ...totals.map((n) => formatMinor(n, digits))],
  ]);
}
