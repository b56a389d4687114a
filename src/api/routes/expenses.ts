import { createHash } from 'node:crypto';
import { uuidFrom } from '../ids.js';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { listExpenses, readGroupWithMembers } from '../../read-model/group-reads.js';
import { resolveExpense } from '../../commands/resolve-expense.js';
import { groupNotFound, invalid, notFound } from '../../commands/errors.js';
import type { ExpenseInput } from '../../commands/expense-input.js';
import { handleGroupCommand, type CommandOutcome } from '../../unit-of-work/command-handler.js';
import { authenticate, currentUser, principal, unauthenticated } from '../auth.js';
import { commandContext, sendResult, type ApiDeps } from '../context.js';
import { money, presentBalances, presentExpense } from '../present.js';
import { ExpenseParams, GroupParams, Problem, WriteHeaders } from '../schemas/common.js';
import { DeleteResult, Expense, ExpenseBody, ExpenseList, ExpenseListQuery, PreviewResult, WriteResult } from '../schemas/expenses.js';

const toInput = (body: ExpenseBody): ExpenseInput => ({
  kind: body.kind,
  description: body.description,
  amount: body.amount,
  paidBy: body.paidBy,
  payers: body.payers,
  split: body.split,
  occurredAt: body.occurredAt,
});

/** A write's answer: the expense as the command left it, the new version and every balance. */
const presentWrite = (created: number) => (o: CommandOutcome) => {
  if (!o.expense) throw new Error('an expense command without its expense');
  return {
    status: o.appended > 0 ? created : 200,
    body: { expense: presentExpense(o.expense), version: o.version, balances: presentBalances(o.balances, o.currency) },
  };
};

const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/**
 * A cursor names the last expense of a page and the search it belongs to (a hash of the
 * filters): continuing it under other filters would skip or repeat expenses without
 * saying so, so that is a 400. A cursor without the hash (made before filters existed)
 * continues only the unfiltered list.
 */
interface ListFilters {
  q?: string | undefined;
  member?: string | undefined;
  includeDeleted: boolean;
}
const filterKey = (f: ListFilters) =>
  createHash('sha256')
    .update(JSON.stringify([f.q ?? null, f.member ?? null, f.includeDeleted]))
    .digest('base64url')
    .slice(0, 16);

const encodeCursor = (occurredAt: Date, firstVersion: number, filters: ListFilters) =>
  Buffer.from(JSON.stringify([occurredAt.toISOString(), firstVersion, filterKey(filters)])).toString('base64url');

function decodeCursor(cursor: string, filters: ListFilters): { occurredAt: string; firstVersion: number } {
  let parts: unknown[] | undefined;
  try {
    const parsed: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(parsed)) parts = parsed;
  } catch {
    // fall through to the 400 below
  }
  const [occurredAt, firstVersion, key] = parts ?? [];
  // Exactly what encodeCursor writes: an ISO instant that round-trips, and a version
  // PostgreSQL's integer holds (a forged one must not reach the query).
  if (
    parts &&
    (parts.length === 2 || parts.length === 3) &&
    typeof occurredAt === 'string' &&
    ISO_INSTANT.test(occurredAt) &&
    !Number.isNaN(Date.parse(occurredAt)) &&
    new Date(occurredAt).toISOString() === occurredAt &&
    Number.isInteger(firstVersion) &&
    (firstVersion as number) >= 0 &&
    (firstVersion as number) <= 2_147_483_647
  ) {
    const sameFilters = parts.length === 3 ? key === filterKey(filters) : filters.q === undefined && filters.member === undefined;
    if (!sameFilters) throw invalid('INVALID_CURSOR', 'query/cursor', 'belongs to another search or filter: start again without a cursor');
    return { occurredAt, firstVersion: firstVersion as number };
  }
  throw invalid('INVALID_CURSOR', 'query/cursor', 'is not a cursor this API returned');
}

export const expenseRoutes =
  (deps: ApiDeps): FastifyPluginAsyncZod =>
  async (app) => {
    app.addHook('onRequest', authenticate(deps.db));
    const security = [{ bearer: [] }];

    app.post(
      '/groups/:groupId/expenses/preview',
      {
        schema: {
          summary: 'Resolve an expense as the server would store it (who pays and owes what, after rounding), without saving it',
          description: "Lets a form show the resolved split, and the server's own error next to the field, before anything is saved.",
          tags: ['expenses'],
          security,
          params: GroupParams,
          body: ExpenseBody,
          response: { 200: PreviewResult, 400: Problem, 401: Problem, 404: Problem },
        },
      },
      async (request) => {
        const { groupId } = request.params;
        const found = await readGroupWithMembers(deps.db, groupId, { userId: currentUser(request).userId });
        if (!found || found === 'unknown-user') throw groupNotFound();
        const state = { group: found.group, members: found.members, former: new Set<string>(), claimed: new Map(), balances: new Map(), expenses: new Map() };
        const resolved = resolveExpense(request.body.expenseId ?? 'preview', toInput(request.body), state, deps.clock().toISOString());
        const amount = (minor: number) => money(minor, resolved.currency);
        return {
          expense: {
            kind: resolved.kind,
            description: resolved.description,
            currency: resolved.currency,
            amount: amount(resolved.amountMinor),
            payers: resolved.payers.map((p) => ({ userId: p.userId, amount: amount(p.amountMinor) })),
            shares: resolved.shares.map((s) => ({ userId: s.userId, amount: amount(s.amountMinor) })),
            split: resolved.split,
          },
          version: state.group.version,
        };
      },
    );

    app.post(
      '/groups/:groupId/expenses',
      {
        onRequest: deps.rateLimits.writes,
        schema: {
          summary: 'Add an expense or a payment. Same expenseId and same body again: 200, nothing appended.',
          tags: ['expenses'],
          security,
          params: GroupParams,
          headers: WriteHeaders,
          body: ExpenseBody,
          response: { 200: WriteResult, 201: WriteResult, 400: Problem, 401: Problem, 404: Problem, 409: Problem, 412: Problem, 422: Problem },
        },
      },
      async (request, reply) => {
        const { groupId } = request.params;
        const context = commandContext(request, groupId);
        // With an Idempotency-Key and no expenseId, the id comes from the key: a retry after
        // an unanswered write names the same expense and so cannot add it twice, even where
        // the key's stored answer is gone with the write's projection (KurrentDB mode, a
        // crash between the append and the projection).
        const expenseId =
          request.body.expenseId ?? (context.idempotencyKey ? idFromKey(groupId, context.actorUserId, context.idempotencyKey, request.body) : deps.newId());
        const result = await handleGroupCommand(deps, context, {
          type: 'AddExpense',
          expenseId,
          input: toInput(request.body),
          now: deps.clock().toISOString(),
        });
        return sendResult(reply, result, presentWrite(201));
      },
    );

    app.put(
      '/groups/:groupId/expenses/:expenseId',
      {
        onRequest: deps.rateLimits.writes,
        schema: {
          summary: 'Replace an expense (appends ExpenseDeleted + ExpenseAdded in one append)',
          tags: ['expenses'],
          security,
          params: ExpenseParams,
          headers: WriteHeaders,
          body: ExpenseBody,
          response: { 200: WriteResult, 400: Problem, 401: Problem, 404: Problem, 409: Problem, 412: Problem, 422: Problem },
        },
      },
      async (request, reply) => {
        const { groupId, expenseId } = request.params;
        if (request.body.expenseId !== undefined && request.body.expenseId !== expenseId) {
          throw invalid('VALIDATION_FAILED', 'expenseId', 'must match the expense id in the path');
        }
        const result = await handleGroupCommand(deps, commandContext(request, groupId), {
          type: 'EditExpense',
          expenseId,
          input: toInput(request.body),
          now: deps.clock().toISOString(),
        });
        return sendResult(reply, result, presentWrite(200));
      },
    );

    app.delete(
      '/groups/:groupId/expenses/:expenseId',
      {
        onRequest: deps.rateLimits.writes,
        schema: {
          summary: 'Delete an expense',
          tags: ['expenses'],
          security,
          params: ExpenseParams,
          headers: WriteHeaders,
          response: { 200: DeleteResult, 401: Problem, 404: Problem, 409: Problem, 412: Problem, 422: Problem },
        },
      },
      async (request, reply) => {
        const { groupId, expenseId } = request.params;
        const result = await handleGroupCommand(deps, commandContext(request, groupId), { type: 'DeleteExpense', expenseId });
        return sendResult(reply, result, (o) => ({ status: 200, body: { version: o.version, balances: presentBalances(o.balances, o.currency) } }));
      },
    );

    app.get(
      '/groups/:groupId/expenses/:expenseId',
      {
        schema: {
          summary: 'One expense as it stands now, deleted or not (`deleted`; `version` is the event that last changed it)',
          tags: ['expenses'],
          security,
          params: ExpenseParams,
          response: { 200: Expense, 400: Problem, 401: Problem, 404: Problem },
        },
        config: { userFromRead: true },
      },
      async (request, reply) => {
        const { groupId, expenseId } = request.params;
        const found = await listExpenses(deps.db, groupId, principal(request), { limit: 1, includeDeleted: true, expenseId });
        if (found === 'unknown-user') return unauthenticated(reply, true);
        if (!found) throw groupNotFound();
        const [expense] = found;
        if (!expense) throw notFound('EXPENSE_NOT_FOUND', `expense ${expenseId} not found`);
        return presentExpense(expense);
      },
    );

    app.get(
      '/groups/:groupId/expenses',
      {
        schema: {
          summary: 'Expenses, newest first (by occurredAt), keyset-paginated; `q` searches descriptions, `member` keeps what a user paid or shares',
          description:
            'A `nextCursor` continues only the search it came from (same `q`, `member` and `includeDeleted`): under other filters it is a 400 INVALID_CURSOR.',
          tags: ['expenses'],
          security,
          params: GroupParams,
          querystring: ExpenseListQuery,
          response: { 200: ExpenseList, 400: Problem, 401: Problem, 404: Problem },
        },
        config: { userFromRead: true },
      },
      async (request, reply) => {
        const { groupId } = request.params;
        const { limit, cursor, includeDeleted, q, member } = request.query;
        const filters = { q, member, includeDeleted };
        const after = cursor === undefined ? undefined : decodeCursor(cursor, filters);
        const page = await listExpenses(deps.db, groupId, principal(request), { limit, after, ...filters });
        if (page === 'unknown-user') return unauthenticated(reply, true);
        if (!page) throw groupNotFound();
        const last = page.at(-1);
        return {
          items: page.map(presentExpense),
          nextCursor: page.length === limit && last ? encodeCursor(last.occurredAt, last.firstVersion, filters) : null,
        };
      },
    );
  };

/**
 * A UUID (version 5 layout) named by the group, the caller, their Idempotency-Key and
 * the request: a retry names the same expense; another request under a key that has
 * since been forgotten (after its lifetime) names another.
 */
const idFromKey = (groupId: string, actorUserId: string, key: string, body: unknown): string =>
  uuidFrom(`fairshare-expense\0${groupId}\0${actorUserId}\0${key}\0${JSON.stringify(body)}`);
