import { z } from 'zod';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { FastifyRequest } from 'fastify';
import { DomainError, groupNotFound, invalid } from '../../commands/errors.js';
import { resolveExpense } from '../../commands/resolve-expense.js';
import type { ExpenseInput } from '../../commands/expense-input.js';
import { expenseOfRow, readSplitwise, SplitwiseFileError, writeSplitwise } from '../../csv/splitwise.js';
import { minorDigits } from '../../money/currency.js';
import { listExpenses, readGroupWithMembers, type ExpenseRow } from '../../read-model/group-reads.js';
import { handleGroupCommand } from '../../unit-of-work/command-handler.js';
import { authenticate, currentUser } from '../auth.js';
import type { ApiDeps } from '../context.js';
import { notModified } from '../http-cache.js';
import { uuidFrom } from '../ids.js';
import { money } from '../present.js';
import { Amount, Balance, GroupParams, Id, Problem, StoredId, text } from '../schemas/common.js';
import { readBalancesView } from './group-views.js';

// CSV export and import in Splitwise's format (issue #14 item 6). The file format and the
// rule that turns a row's nets into an expense are in src/csv/splitwise.ts.
//
// Import is two requests with the same body: preview (writes nothing) and import. Each
// row becomes one AddExpense command through the normal handler, in file order, with an
// id named by the group, the row's content and its occurrence in the file: importing a
// file again appends nothing, and a file half imported (a failure, a crash) is completed
// by importing it again.

/** Largest file accepted (characters of CSV text); the JSON body around it may be twice as large once escaped. */
export const MAX_CSV_CHARS = 1024 * 1024;
export const MAX_IMPORT_ROWS = 1000;
const MAX_COLUMNS = 100;
const MAX_MINOR = 1_000_000_000_000n;

const Description = text(200, { multiline: true });

const ImportBody = z.strictObject({
  csv: z.string().min(1).max(MAX_CSV_CHARS).describe("The file's text, a Splitwise export: Date,Description,Category,Cost,Currency,<member>…"),
  mapping: z
    .array(
      z.strictObject({
        column: z
          .number()
          .int()
          .min(5)
          .max(5 + MAX_COLUMNS)
          .describe('Index of a member column in the header, from 0 (Date): 5 is the first member'),
        userId: Id.nullable().describe('The member the column is; null: none (the column must then hold only zeros)'),
      }),
    )
    .max(MAX_COLUMNS)
    .optional()
    .describe('Columns not listed take the suggested member (by name)'),
});
type ImportBody = z.infer<typeof ImportBody>;

const Allocated = z.array(z.object({ userId: StoredId, amount: Amount }));
const PreviewRow = z.object({
  line: z.number().int(),
  expenseId: z.string(),
  date: z.string(),
  description: z.string(),
  category: z.string(),
  kind: z.enum(['expense', 'payment']).nullable(),
  amount: Amount.nullable(),
  payers: Allocated,
  shares: Allocated,
  status: z
    .enum(['new', 'present', 'skipped', 'problem'])
    .describe('new: importing adds it; present: imported before (and left as it is now, edited or deleted since included); skipped: changes no balance'),
  problems: z.array(z.string()),
});
const ImportPreview = z.object({
  version: z.number().int(),
  columns: z.array(z.object({ column: z.number().int(), name: z.string(), userId: StoredId.nullable() })),
  members: z.array(z.object({ userId: StoredId, name: z.string() })),
  rows: z.array(PreviewRow),
  toImport: z.number().int().describe('Rows importing would add'),
  problems: z.number().int().describe('Rows with problems: import refuses the file while there are any'),
  totalsAgree: z.boolean().nullable().describe("Whether the rows add up to the file's Total balance row (null: the file has none)"),
});
const ImportResult = z.object({
  imported: z.number().int(),
  alreadyPresent: z.number().int(),
  skipped: z.number().int(),
  version: z.number().int(),
  balances: z.array(Balance),
});

const normalName = (name: string) => name.normalize('NFC').trim().toLocaleLowerCase('en');

interface PlannedRow {
  line: number;
  expenseId: string;
  input: ExpenseInput | undefined;
  preview: z.infer<typeof PreviewRow>;
}

/** The file read, mapped and checked against the group as it is now: what preview shows and import runs. */
async function planImport(deps: ApiDeps, request: FastifyRequest, groupId: string, body: ImportBody) {
  const found = await readGroupWithMembers(deps.db, groupId, { userId: currentUser(request).userId });
  if (!found || found === 'unknown-user') throw groupNotFound();
  const { group, members } = found;
  const digits = minorDigits(group.currency);
  let file;
  try {
    file = readSplitwise(body.csv, digits, { maxRows: MAX_IMPORT_ROWS, maxColumns: MAX_COLUMNS, maxMinor: MAX_MINOR });
  } catch (error) {
    if (error instanceof SplitwiseFileError) throw invalid('MALFORMED_CSV', error.path, error.message);
    throw error;
  }

  // Suggested: the member whose name is the column's (ignoring case), when exactly one is
  // and no earlier column took them.
  const users: (string | null)[] = [];
  for (const name of file.columns) {
    const same = members.filter((m) => normalName(m.name) === normalName(name) && !users.includes(m.userId));
    users.push(same.length === 1 && same[0] ? same[0].userId : null);
  }
  const memberIds = new Set(members.map((m) => m.userId));
  for (const [i, entry] of (body.mapping ?? []).entries()) {
    const position = entry.column - 5;
    if (position >= file.columns.length) throw invalid('UNKNOWN_COLUMN', `mapping/${i}/column`, `the file has no member column ${entry.column}`);
    if (entry.userId !== null && !memberIds.has(entry.userId)) throw invalid('UNKNOWN_MEMBER', `mapping/${i}/userId`, 'is not a member of this group');
    users[position] = entry.userId;
  }

  const state = { group, members, former: new Set<string>(), claimed: new Map(), balances: new Map(), expenses: new Map() };
  const now = deps.clock().toISOString();
  const seen = new Map<string, number>();
  const planned: PlannedRow[] = file.rows.map((row) => {
    const occurrence = (seen.get(row.key) ?? 0) + 1;
    seen.set(row.key, occurrence);
    const expenseId = uuidFrom(`fairshare-import\0${groupId}\0${row.key}\0${occurrence}`);
    const preview: z.infer<typeof PreviewRow> = {
      line: row.line,
      expenseId,
      date: row.date,
      description: row.description,
      category: row.category,
      kind: null,
      amount: null,
      payers: [],
      shares: [],
      status: 'new',
      problems: [],
    };
    if (row.currency !== group.currency) preview.problems.push(`the currency is ${row.currency || 'missing'}; the group's is ${group.currency}`);
    const description = Description.safeParse(row.description);
    if (!description.success) preview.problems.push(`the description ${description.error.issues[0]?.message ?? 'is not valid'}`);
    const mapped = expenseOfRow(row, file.columns, users, digits);
    let input: ExpenseInput | undefined;
    if ('problem' in mapped) preview.problems.push(mapped.problem);
    else if ('skip' in mapped) preview.status = 'skipped';
    else {
      input = { ...mapped.input, description: description.success ? description.data : row.description };
      try {
        const resolved = resolveExpense(expenseId, input, state, now);
        const amount = (minor: number) => money(minor, group.currency);
        preview.kind = resolved.kind;
        preview.amount = amount(resolved.amountMinor);
        preview.payers = resolved.payers.map((p) => ({ userId: p.userId, amount: amount(p.amountMinor) }));
        preview.shares = resolved.shares.map((s) => ({ userId: s.userId, amount: amount(s.amountMinor) }));
      } catch (error) {
        if (!(error instanceof DomainError)) throw error;
        preview.problems.push(error.message);
      }
    }
    if (preview.problems.length > 0) preview.status = 'problem';
    return { line: row.line, expenseId, input: preview.status === 'new' ? input : undefined, preview };
  });

  const ids = planned.filter((p) => p.input).map((p) => p.expenseId);
  const present = new Set(
    ids.length === 0
      ? []
      : (await deps.db.selectFrom('expenses').select('expense_id').where('group_id', '=', groupId).where('expense_id', 'in', ids).execute()).map(
          (r) => r.expense_id,
        ),
  );
  for (const p of planned) {
    if (p.preview.status === 'new' && present.has(p.expenseId)) p.preview.status = 'present';
  }
  const sums = file.columns.map((_, i) => file.rows.reduce((s, r) => s + (r.nets[i] ?? 0n), 0n));
  return {
    planned,
    preview: {
      version: group.version,
      columns: file.columns.map((name, i) => ({ column: 5 + i, name, userId: users[i] ?? null })),
      members: members.map((m) => ({ userId: m.userId, name: m.name })),
      rows: planned.map((p) => p.preview),
      toImport: planned.filter((p) => p.preview.status === 'new').length,
      problems: planned.filter((p) => p.preview.status === 'problem').length,
      totalsAgree: file.totals ? file.totals.every((t, i) => t === sums[i]) : null,
    },
  };
}

export const csvRoutes =
  (deps: ApiDeps): FastifyPluginAsyncZod =>
  async (app) => {
    app.addHook('onRequest', authenticate(deps.db));
    const security = [{ bearer: [] }];

    app.get(
      '/groups/:groupId/export.csv',
      {
        schema: {
          summary: "The group's expenses and payments as a Splitwise-format CSV file (one column per member with their net, a Total balance row last)",
          tags: ['csv'],
          security,
          params: GroupParams,
          produces: ['text/csv'],
          response: { 200: z.string().describe('text/csv'), 304: z.null(), 401: Problem, 404: Problem },
        },
      },
      async (request, reply) => {
        const { groupId } = request.params;
        const asker = { userId: currentUser(request).userId };
        // One snapshot: the rows and the version in the ETag belong together.
        const read = await deps.db
          .transaction()
          .setIsolationLevel('repeatable read')
          .execute(async (tx) => {
            const found = await readGroupWithMembers(tx, groupId, asker);
            if (!found || found === 'unknown-user') return undefined;
            const expenses: ExpenseRow[] = [];
            for (;;) {
              const last = expenses.at(-1);
              const after = last ? { occurredAt: last.occurredAt.toISOString(), firstVersion: last.firstVersion } : undefined;
              const page = await listExpenses(tx, groupId, asker, { limit: 500, after, includeDeleted: false });
              if (!page || page === 'unknown-user') return undefined;
              expenses.push(...page);
              if (page.length < 500) break;
            }
            return { ...found, expenses: expenses.reverse() };
          });
        if (!read) throw groupNotFound();
        if (notModified(request, reply, read.group)) return reply;
        const named = new Set(read.expenses.flatMap((e) => [...e.payers, ...e.shares].map((a) => a.userId)));
        const columns = [...read.members, ...read.formerMembers.filter((m) => named.has(m.userId))];
        const csv = writeSplitwise(read.group.currency, minorDigits(read.group.currency), columns, read.expenses);
        const filename = `fairshare-${read.group.name.replace(/[^A-Za-z0-9_-]+/g, '-').slice(0, 60) || 'group'}.csv`;
        return reply
          .type('text/csv; charset=utf-8')
          .header('content-disposition', `attachment; filename="${filename}"`)
          .serializer((payload: unknown) => payload as string)
          .send(csv);
      },
    );

    const importSchema = { tags: ['csv'], security, params: GroupParams, body: ImportBody };

    app.post(
      '/groups/:groupId/import/preview',
      {
        onRequest: deps.rateLimits.writes,
        bodyLimit: 2 * MAX_CSV_CHARS + 64 * 1024,
        schema: {
          ...importSchema,
          summary:
            'Read a Splitwise CSV export: the suggested or given mapping of columns to members, each row as it would be recorded, and its problems. Writes nothing.',
          response: { 200: ImportPreview, 400: Problem, 401: Problem, 404: Problem },
        },
      },
      async (request) => (await planImport(deps, request, request.params.groupId, request.body)).preview,
    );

    app.post(
      '/groups/:groupId/import',
      {
        onRequest: deps.rateLimits.writes,
        bodyLimit: 2 * MAX_CSV_CHARS + 64 * 1024,
        schema: {
          ...importSchema,
          summary:
            'Import a Splitwise CSV export (same body as the preview): each row is added as an expense or payment; rows imported before are not added again.',
          response: { 200: ImportResult, 400: Problem, 401: Problem, 404: Problem, 409: Problem, 422: Problem },
        },
      },
      async (request) => {
        const { groupId } = request.params;
        const { planned } = await planImport(deps, request, groupId, request.body);
        const problems = planned.filter((p) => p.preview.status === 'problem');
        if (problems.length > 0) {
          throw new DomainError(
            422,
            'IMPORT_HAS_PROBLEMS',
            `${problems.length} row(s) cannot be imported; nothing was imported`,
            problems.map((p) => ({ path: `row ${p.line}`, message: p.preview.problems.join('; ') })),
          );
        }
        let imported = 0;
        let alreadyPresent = 0;
        for (const row of planned) {
          // A row whose expense is in the group already is left as it is now: it may have
          // been edited or deleted since it was imported.
          if (row.preview.status === 'present') alreadyPresent++;
          if (!row.input || row.preview.status !== 'new') continue;
          try {
            const result = await handleGroupCommand(
              deps,
              { groupId, actorUserId: currentUser(request).userId, requestId: String(request.id) },
              { type: 'AddExpense', expenseId: row.expenseId, input: row.input, now: deps.clock().toISOString() },
            );
            if ('outcome' in result && result.outcome.appended > 0) imported++;
            else alreadyPresent++;
          } catch (error) {
            if (!(error instanceof DomainError)) throw error;
            throw new DomainError(
              error.status,
              error.code,
              `row ${row.line}: ${error.message} (${imported} row(s) before it were imported; importing the file again completes it)`,
              error.errors.map((e) => ({ path: `row ${row.line}/${e.path}`, message: e.message })),
            );
          }
        }
        const view = await readBalancesView(deps.db, groupId, { userId: currentUser(request).userId });
        if (!view || view === 'unknown-user') throw groupNotFound();
        return {
          imported,
          alreadyPresent,
          skipped: planned.filter((p) => p.preview.status === 'skipped').length,
          version: view.view.version,
          balances: view.view.balances,
        };
      },
    );
  };
