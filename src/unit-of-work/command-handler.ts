// The one unit of work. A command runs in ONE PostgreSQL transaction of four round
// trips: BEGIN; lock the group's row and load what the command needs (one statement);
// append the events, project them and keep the idempotent outcome (one statement);
// COMMIT. Either all of it commits or none of it does. Commands on one group queue on
// its row lock; commands on different groups never wait on each other. The result is
// a domain outcome: HTTP is the API's business.
import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import { decide, DomainError, groupNotFound, type ExpenseState, type GroupCommand, type GroupState, type MemberState } from '../commands/index.js';
import type { Db, Tx } from '../db/database.js';
import { isTransient, isUniqueViolation } from '../db/errors.js';
import { streamIdOf, type EventEnvelope, type EventMetadata } from '../events/index.js';
import { project, type ExpenseRow, type GroupRows } from '../projections/projector.js';
import { isStreamVersionConflict, newEnvelopes } from '../store/event-store.js';
import { StreamVersionConflict, type EventLog } from '../store/event-log.js';
import type { GroupQueue } from './group-queue.js';
import { appendAndProject, insertKey, lockGroupStream, storeKey, type KeyRecord } from './append-and-project.js';
import { projectLogged } from './project-logged.js';
import { lockAndLoad, type LoadedGroup, type StoredKey } from './lock-and-load.js';

/** A write's `If-Match`: any version (`*`), or the versions (and rebuild epochs) the client holds. */
export type IfMatch = '*' | readonly { version: number; epoch: number }[];

export interface CommandContext {
  groupId: string;
  actorUserId: string;
  requestId: string;
  /** From `If-Match`: refuse with 412 unless the group is still at one of these versions (and epochs). */
  ifMatch?: IfMatch | undefined;
  idempotencyKey?: string | undefined;
  /** What the request asked for, to tell a true retry from a reused key. */
  requestFingerprint?: unknown;
  /**
   * Runs in the command's transaction, under the group's lock, before the decision: a
   * check of something outside the group's rows (an invite link still working) or a
   * change that must commit with the command or not at all. Throwing refuses the command.
   */
  withinTransaction?: ((tx: Tx) => Promise<void>) | undefined;
}

export interface BalanceOutcome {
  userId: string;
  name: string;
  balanceMinor: bigint;
}

/** What a command did, and the group as it left it: everything a response is made from. */
export interface CommandOutcome {
  groupId: string;
  /** How many events it appended: 0 when it had already been applied (a retry). */
  appended: number;
  version: number;
  epoch: number;
  name: string;
  currency: string;
  /** Read-only while archived (absent in outcomes stored before archiving existed: false). */
  archived?: boolean;
  /** The members now, in joining order. */
  members: MemberState[];
  /** Those who left or were removed (absent in outcomes stored before they could: none). */
  formerMembers?: MemberState[];
  balances: BalanceOutcome[];
  /** The expense the command named, as the command left it. */
  expense?: (ExpenseRow & { expenseId: string }) | undefined;
}

export type CommandResult =
  /** `replayed`: the outcome stored for this Idempotency-Key, the command itself not run again. */
  | { outcome: CommandOutcome; replayed: boolean }
  /** A key stored before outcomes were: the HTTP answer it was given then. */
  | { storedResponse: { status: number; body: unknown } };

export interface HandlerDeps {
  db: Db;
  logger: Logger;
  /** Called after a command that appended events has committed (this process's live streams). */
  announce?: ((outcome: CommandOutcome) => void) | undefined;
  /**
   * An event log outside PostgreSQL (KurrentDB). Absent: the events go to PostgreSQL's
   * own log in the same statement as the projection. Present: the command appends there
   * (its expected revision is the real concurrency guard) while holding the group's row
   * lock, then projects in the PostgreSQL transaction and answers once that commits.
   */
  eventLog?: EventLog | undefined;
  /** Commands of one group wait here, holding no connection, rather than on its row lock (see GroupQueue). */
  queue?: GroupQueue | undefined;
  /** Runs inside the transaction after the append and projection, before COMMIT (tests hold or fail a command there). */
  beforeCommit?: ((outcome: CommandOutcome) => Promise<void>) | undefined;
}

const MAX_ATTEMPTS = 5;

export async function handleGroupCommand(deps: HandlerDeps, ctx: CommandContext, command: GroupCommand): Promise<CommandResult> {
  return deps.queue ? deps.queue.run(ctx.groupId, () => runGroupCommand(deps, ctx, command)) : runGroupCommand(deps, ctx, command);
}

async function runGroupCommand(deps: HandlerDeps, ctx: CommandContext, command: GroupCommand): Promise<CommandResult> {
  const streamId = streamIdOf(ctx.groupId);
  const log = deps.logger.child({ reqId: ctx.requestId, actor: ctx.actorUserId, command: command.type, stream: streamId });
  const started = process.hrtime.bigint();
  // A log known to be down fails the write before it takes a connection and locks.
  deps.eventLog?.assertAvailable();
  for (let attempt = 1; ; attempt++) {
    let fromVersion = 0;
    let appended: EventEnvelope[] = [];
    let rowsProjected = 0;
    // Set once the external log holds this attempt's events: from then on the command is
    // decided, and only its projection may still be missing.
    let inLog: { outcome: CommandOutcome; key: KeyRecord | undefined } | undefined;
    try {
      const result = await deps.db.transaction().execute(async (tx): Promise<CommandResult> => {
        if (deps.eventLog) await lockGroupStream(tx, ctx.groupId);
        const loaded = await lockAndLoad(tx, ctx.groupId, {
          expenseId: 'expenseId' in command ? command.expenseId : undefined,
          claimedMember: command.type === 'ClaimMember' ? command.nameOnlyId : undefined,
          actorUserId: ctx.actorUserId,
          idempotencyKey: ctx.idempotencyKey,
        });
        fromVersion = loaded.rows.group?.version ?? 0;
        // The caller's own earlier answer first (the key is theirs, the request must match):
        // a retried "leave the group" is answered as the first one was, though they left.
        if (loaded.stored) return replay(ctx, loaded.stored);
        // To anyone who is not a member, the group does not exist.
        // (Joining through an invite is how a non-member gets in: the route checked the link.)
        const joining = command.type === 'CreateGroup' || command.type === 'JoinGroup' || command.type === 'ClaimMember';
        if (!joining && !loaded.rows.members.some((m) => m.userId === ctx.actorUserId && m.removedVersion === null)) {
          throw groupNotFound();
        }
        const ifMatch = ctx.ifMatch;
        if (ifMatch !== undefined && ifMatch !== '*' && !ifMatch.some((tag) => tag.version === fromVersion && tag.epoch === loaded.epoch)) {
          const current = loaded.epoch === 0 ? `"${fromVersion}"` : `"${fromVersion}.${loaded.epoch}"`;
          throw new DomainError(412, 'VERSION_CONFLICT', `the group has changed: its ETag is ${current}, not what If-Match holds`);
        }

        await ctx.withinTransaction?.(tx);
        const events = decide(command, stateOf(loaded.rows));
        const metadata: EventMetadata = {
          requestId: ctx.requestId,
          actorUserId: ctx.actorUserId,
          ...(ctx.idempotencyKey ? { idempotencyKey: ctx.idempotencyKey } : {}),
        };
        appended = newEnvelopes(streamId, fromVersion, events, metadata, loaded.now);
        const projected = appended.length > 0 ? project(loaded.rows, appended) : undefined;
        const outcome = outcomeOf(projected?.rows ?? loaded.rows, loaded, appended.length, 'expenseId' in command ? command.expenseId : undefined);
        const key = ctx.idempotencyKey
          ? { actorUserId: ctx.actorUserId, key: ctx.idempotencyKey, requestHash: fingerprint(ctx), outcome: JSON.stringify(storable(outcome)) }
          : undefined;
        const logElsewhere = deps.eventLog !== undefined && appended.length > 0;
        if (logElsewhere) {
          // The key first: a concurrent request with the same key (on another group, whose
          // lock this one does not hold) waits on it here and is then answered from it,
          // instead of appending its events to the other stream too.
          if (key) await insertKey(tx, key);
          await deps.eventLog?.append(streamId, fromVersion, appended);
          inLog = { outcome, key };
        }
        rowsProjected = await appendAndProject(tx, appended, projected?.changes, logElsewhere ? undefined : key, deps.eventLog !== undefined);
        await deps.beforeCommit?.(outcome);
        return { outcome, replayed: false };
      });
      log.info(
        {
          fromVersion,
          toVersion: appended.at(-1)?.version ?? fromVersion,
          events: appended.map((e) => e.type),
          rowsProjected,
          outcome: 'outcome' in result && result.replayed ? 'replayed' : appended.length > 0 ? 'commit' : 'no-op',
          ms: Number(process.hrtime.bigint() - started) / 1e6,
        },
        appended.length > 0 ? 'command committed' : 'command changed nothing',
      );
      if ('outcome' in result && !result.replayed && result.outcome.appended > 0) announce(deps, log, result.outcome);
      return result;
    } catch (error) {
      if (inLog && isDatabaseError(error)) {
        // The events are in the log; deciding again would answer as if they were someone
        // else's. Project them (unless the log subscriber already did) and answer.
        await projectOwn(deps, log, inLog, appended, error);
        announce(deps, log, inLog.outcome);
        return { outcome: inLog.outcome, replayed: false };
      }
      const retry =
        attempt < MAX_ATTEMPTS &&
        (isTransient(error) ||
          // A concurrent first append (create group) or same-key request won the race:
          // run again, and the decider or the idempotency record sees what it wrote.
          isStreamVersionConflict(error) ||
          (command.type === 'CreateGroup' && isUniqueViolation(error, 'groups_pkey')) ||
          (ctx.idempotencyKey !== undefined && isUniqueViolation(error, 'idempotency_keys_pkey')) ||
          // The external log is ahead of the projection: catch up below, then decide again.
          error instanceof StreamVersionConflict);
      log[error instanceof DomainError ? 'info' : retry ? 'warn' : 'error'](
        { fromVersion, outcome: 'rollback', attempt, ...(error instanceof DomainError ? { code: error.code } : { err: error }) },
        retry ? 'command rolled back, retrying' : 'command rolled back',
      );
      if (!retry) throw error;
      if (error instanceof StreamVersionConflict && deps.eventLog) {
        // A failed catch-up is retried by the next attempt's conflict (or repaired by the log subscriber).
        await catchUp(deps, log, streamId, fromVersion).catch((e: unknown) => log.warn({ err: e }, 'catching up with the event log failed'));
      }
    }
  }
}

/** An error PostgreSQL reported (it carries a SQLSTATE). */
const isDatabaseError = (error: unknown): boolean =>
  typeof (error as { code?: unknown } | null)?.code === 'string' && /^[0-9A-Z]{5}$/.test((error as { code: string }).code);

/**
 * A command whose events the external log holds but whose projection failed on a
 * PostgreSQL error: projects those very events in a fresh transaction (skipped if the
 * log subscriber got there first) with the Idempotency-Key record, and answers with
 * the outcome decided. If this fails too, the log subscriber repairs the projection
 * and a retry finds the events there.
 */
async function projectOwn(
  deps: HandlerDeps,
  log: Logger,
  inLog: { outcome: CommandOutcome; key: KeyRecord | undefined },
  appended: EventEnvelope[],
  cause: unknown,
): Promise<void> {
  const projected = await deps.db.transaction().execute(async (tx) => {
    const result = await projectLogged(tx, appended);
    if (inLog.key) await storeKey(tx, inLog.key);
    return result;
  });
  log.warn({ err: cause, toVersion: inLog.outcome.version, ...projected }, 'command appended; its projection failed once and was applied again');
}

/**
 * Applies the events the external log has beyond the projection's `fromVersion` (a
 * command's append found the stream further on: an earlier append whose projection did
 * not commit, not yet repaired by the log subscriber).
 */
async function catchUp(deps: HandlerDeps, log: Logger, streamId: string, fromVersion: number): Promise<void> {
  const missing = await (deps.eventLog as EventLog).readStream(streamId, { after: fromVersion });
  const projected = await deps.db.transaction().execute((tx) => projectLogged(tx, missing));
  log.warn({ fromVersion, ...projected }, 'projection was behind the event log: caught up');
}

/** Tells this process's live streams; the command has committed, so nothing here may fail it. */
function announce(deps: HandlerDeps, log: Logger, outcome: CommandOutcome): void {
  try {
    deps.announce?.(outcome);
  } catch (error) {
    log.error({ err: error, toVersion: outcome.version }, 'announcing a committed change failed');
  }
}

/** What `decide` needs, from the loaded rows (which hold only the expense the command names). */
function stateOf(rows: GroupRows): GroupState {
  const expenses = new Map<string, ExpenseState>();
  for (const [expenseId, e] of rows.expenses) {
    const { kind, description, currency, amountMinor, payers, shares, occurredAt } = e;
    expenses.set(expenseId, {
      deleted: e.deleted,
      data: { expenseId, kind, description, currency, amountMinor, payers, shares, split: e.split as ExpenseState['data']['split'], occurredAt },
    });
  }
  return {
    group: rows.group && {
      groupId: rows.groupId,
      name: rows.group.name,
      currency: rows.group.currency,
      version: rows.group.version,
      archived: rows.group.archived,
    },
    members: rows.members.filter((m) => m.removedVersion === null).map((m) => ({ userId: m.userId, name: m.name, nameOnly: m.nameOnly })),
    former: new Set(rows.members.filter((m) => m.removedVersion !== null).map((m) => m.userId)),
    claimed: new Map(rows.members.flatMap((m) => (m.claimedFrom === null ? [] : [[m.claimedFrom, m.userId] as const]))),
    balances: rows.balances,
    expenses,
  };
}

function outcomeOf(rows: GroupRows, loaded: LoadedGroup, appended: number, expenseId: string | undefined): CommandOutcome {
  if (!rows.group) throw groupNotFound();
  const expense = expenseId === undefined ? undefined : rows.expenses.get(expenseId);
  const current = rows.members.filter((m) => m.removedVersion === null);
  return {
    groupId: rows.groupId,
    appended,
    version: rows.group.version,
    epoch: loaded.epoch,
    name: rows.group.name,
    currency: rows.group.currency,
    archived: rows.group.archived,
    members: current.map((m) => ({ userId: m.userId, name: m.name, ...(m.nameOnly ? { nameOnly: true } : {}) })),
    formerMembers: rows.members
      .filter((m) => m.removedVersion !== null)
      .map((m) => ({ userId: m.userId, name: m.name, ...(m.nameOnly ? { nameOnly: true } : {}) })),
    balances: current.map((m) => ({ userId: m.userId, name: m.name, balanceMinor: rows.balances.get(m.userId) ?? 0n })),
    ...(expense && expenseId !== undefined ? { expense: { expenseId, ...expense } } : {}),
  };
}

const fingerprint = (ctx: CommandContext): string =>
  createHash('sha256')
    .update(JSON.stringify(ctx.requestFingerprint ?? null))
    .digest('hex');

/** The outcome as JSON (balances as decimal strings of minor units). */
const storable = (outcome: CommandOutcome) => ({ ...outcome, balances: outcome.balances.map((b) => ({ ...b, balanceMinor: b.balanceMinor.toString() })) });

function replay(ctx: CommandContext, stored: StoredKey): CommandResult {
  if (stored.requestHash !== fingerprint(ctx)) {
    throw new DomainError(422, 'IDEMPOTENCY_KEY_REUSED', 'this Idempotency-Key was used for a different request');
  }
  if (stored.outcome === null) return { storedResponse: { status: stored.status ?? 200, body: stored.response } };
  const outcome = stored.outcome as ReturnType<typeof storable>;
  return { outcome: { ...outcome, balances: outcome.balances.map((b) => ({ ...b, balanceMinor: BigInt(b.balanceMinor) })) }, replayed: true };
}
