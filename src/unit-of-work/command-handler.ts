import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import {
  decide,
  DomainError,
  fold,
  type ExpenseState,
  type GroupCommand,
  type GroupState,
} from '../commands/index.js';
import type { Db, Tx } from '../db/database.js';
import { streamIdOf, type EventEnvelope } from '../events/index.js';
import { applyGroupEvents, type ProjectedBalance } from '../projections/apply-events.js';
import { appendToStream, StreamVersionConflict } from '../store/event-store.js';
import { findGroup, findMembersAndExpense } from '../read-model/group-reads.js';

export interface CommandContext {
  groupId: string;
  actorUserId: string;
  requestId: string;
  /** From `If-Match`: refuse with 412 unless the group is still at this version. */
  expectedVersion?: number | undefined;
  idempotencyKey?: string | undefined;
  /** What the request asked for, to tell a true retry from a reused key. */
  requestFingerprint?: unknown;
}

export interface CommandOutcome {
  events: EventEnvelope[];
  /** The group's version after the command (unchanged when nothing was appended). */
  version: number;
  /** The decider's state after the command: the group, its members in order, and the expense it named. */
  state: GroupState;
  /** Every member's balance as the projection left it; only when events were appended. */
  balances?: ProjectedBalance[];
}

export interface Response {
  status: number;
  body: unknown;
}

/**
 * Builds the HTTP answer inside the committing transaction, from what the command
 * already knows (outcome) or, when it changed nothing, from the projection.
 */
export type Present = (tx: Tx, outcome: CommandOutcome) => Promise<Response>;

export interface HandlerDeps {
  db: Db;
  logger: Logger;
}

const RETRYABLE = new Set(['40001', '40P01']); // serialization failure, deadlock
const UNIQUE_VIOLATION = '23505';

/**
 * The one unit of work: lock the group, decide, append, project, notify and build the
 * response in ONE transaction. Either all of it commits or none of it does; the
 * notification goes out only on commit. Commands on one group queue on its row lock;
 * commands on different groups never wait on each other.
 */
export async function handleGroupCommand(
  deps: HandlerDeps,
  ctx: CommandContext,
  command: GroupCommand,
  present: Present,
): Promise<Response> {
  const streamId = streamIdOf(ctx.groupId);
  const log = deps.logger.child({ reqId: ctx.requestId, actor: ctx.actorUserId, command: command.type, stream: streamId });
  const started = process.hrtime.bigint();
  for (let attempt = 1; ; attempt++) {
    let fromVersion = 0;
    let appended: EventEnvelope[] = [];
    let rowsProjected = 0;
    try {
      const response = await deps.db.transaction().execute(async (tx) => {
        const state = await loadState(tx, ctx, command);
        fromVersion = state.group?.version ?? 0;

        const replay = await findIdempotentReplay(tx, ctx);
        if (replay) return replay;

        if (ctx.expectedVersion !== undefined && ctx.expectedVersion !== fromVersion) {
          throw new DomainError(412, 'VERSION_CONFLICT', `the group is at version ${fromVersion}, not ${ctx.expectedVersion}`);
        }
        const events = decide(command, state);
        appended = await appendToStream(tx, streamId, fromVersion, events, {
          requestId: ctx.requestId,
          actorUserId: ctx.actorUserId,
          ...(ctx.idempotencyKey ? { idempotencyKey: ctx.idempotencyKey } : {}),
        });
        // The projector's last statement also announces the new version (on commit).
        const projected = await applyGroupEvents(tx, ctx.groupId, appended);
        rowsProjected = projected.rows;
        const version = appended.at(-1)?.version ?? fromVersion;

        const result = await present(tx, {
          events: appended,
          version,
          state: fold(appended, state),
          ...(appended.length > 0 ? { balances: projected.balances } : {}),
        });
        await rememberIdempotentResponse(tx, ctx, result);
        return result;
      });
      log.info(
        {
          fromVersion,
          toVersion: appended.at(-1)?.version ?? fromVersion,
          events: appended.map((e) => e.type),
          rowsProjected,
          outcome: appended.length > 0 ? 'commit' : 'no-op',
          ms: Number(process.hrtime.bigint() - started) / 1e6,
        },
        appended.length > 0 ? 'command committed' : 'command changed nothing',
      );
      return response;
    } catch (error) {
      const code = (error as { code?: string }).code;
      const retry =
        attempt < 5 &&
        (RETRYABLE.has(code ?? '') ||
          // A concurrent first append (create group) or same-key request won the race:
          // run again and the decider / idempotency store sees what it wrote.
          error instanceof StreamVersionConflict ||
          (code === UNIQUE_VIOLATION && ctx.idempotencyKey !== undefined));
      log[error instanceof DomainError ? 'info' : retry ? 'warn' : 'error'](
        {
          fromVersion,
          outcome: 'rollback',
          attempt,
          ...(error instanceof DomainError ? { code: error.code } : { err: error }),
        },
        retry ? 'command rolled back, retrying' : 'command rolled back',
      );
      if (!retry) throw error;
    }
  }
}

async function loadState(tx: Tx, ctx: CommandContext, command: GroupCommand): Promise<GroupState> {
  if (command.type === 'CreateGroup') {
    const existing = await findGroup(tx, ctx.groupId);
    return {
      group: existing ? { ...existing } : null,
      members: [],
      expenses: new Map(),
    };
  }
  // Lock first, then read: a statement that waited for the lock would still see the
  // members as of its start, so members and the expense come in a second statement.
  const group = await findGroup(tx, ctx.groupId, true);
  const loaded = group && (await findMembersAndExpense(tx, ctx.groupId, 'expenseId' in command ? command.expenseId : undefined));
  // To anyone who is not a member, the group does not exist.
  if (!group || !loaded?.members.some((m) => m.userId === ctx.actorUserId)) {
    throw new DomainError(404, 'GROUP_NOT_FOUND', 'group not found');
  }
  const expenses = new Map<string, ExpenseState>();
  const row = loaded.expense;
  if (row) {
    expenses.set(row.expenseId, {
      deleted: row.deleted,
      data: {
        expenseId: row.expenseId,
        kind: row.kind,
        description: row.description,
        currency: row.currency,
        amountMinor: Number(row.amountMinor),
        payers: row.payers,
        shares: row.shares,
        split: row.split as ExpenseState['data']['split'],
        occurredAt: row.occurredAt.toISOString(),
      },
    });
  }
  return { group, members: loaded.members, expenses };
}

const fingerprint = (ctx: CommandContext): string =>
  createHash('sha256').update(JSON.stringify(ctx.requestFingerprint ?? null)).digest('hex');

async function findIdempotentReplay(tx: Tx, ctx: CommandContext): Promise<Response | undefined> {
  if (!ctx.idempotencyKey) return undefined;
  const stored = await tx
    .selectFrom('idempotency_keys')
    .select(['request_hash', 'status', 'response'])
    .where('actor_user_id', '=', ctx.actorUserId)
    .where('key', '=', ctx.idempotencyKey)
    .executeTakeFirst();
  if (!stored) return undefined;
  if (stored.request_hash !== fingerprint(ctx)) {
    throw new DomainError(422, 'IDEMPOTENCY_KEY_REUSED', 'this Idempotency-Key was used for a different request');
  }
  return { status: stored.status, body: stored.response };
}

async function rememberIdempotentResponse(tx: Tx, ctx: CommandContext, response: Response): Promise<void> {
  if (!ctx.idempotencyKey) return;
  await tx
    .insertInto('idempotency_keys')
    .values({
      actor_user_id: ctx.actorUserId,
      key: ctx.idempotencyKey,
      request_hash: fingerprint(ctx),
      status: response.status,
      response: JSON.stringify(response.body),
    })
    .execute();
}
