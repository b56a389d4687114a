import { sql } from 'kysely';
import type { Db } from '../db/database.js';
import type { EventEnvelope } from '../events/index.js';
import {
  checkAppend,
  compareParts,
  StreamVersionConflict,
  type AppendResult,
  type EventLog,
  type LogPosition,
  type LogSubscription,
  type PositionedEvent,
  type SubscribeOptions,
} from './event-log.js';
import { eventInserts, isStreamVersionConflict, readStream } from './event-store.js';
import { CHECKPOINT, formatCheckpoint, parseCheckpoint, readGlobalFeed, tailHead } from './global-feed.js';

/** How long an idle subscription waits before it looks at the log again. */
const IDLE_POLL_MS = 50;
const SUBSCRIBE_BATCH = 500;

/**
 * The event log in PostgreSQL's `events` table. The write path does not append through
 * this (it appends and projects in one statement, src/unit-of-work); this is the same
 * log behind the EventLog interface, for the readers, the contract tests and anything
 * that must work with either log. Positions are the gap-safe global feed's checkpoints.
 */
export class PostgresEventLog implements EventLog {
  readonly kind = 'postgres';
  /** Transaction ids start at 3 and global positions at 1: nothing sits at 0.0. */
  readonly start = '0.0' as LogPosition;

  constructor(private readonly db: Db) {}

  async append(streamId: string, expectedVersion: number, events: readonly EventEnvelope[]): Promise<AppendResult> {
    checkAppend(streamId, expectedVersion, events);
    // The guard makes an append that expects a version the stream has not reached insert
    // nothing (the primary key alone would let it leave a gap); one that expects a version
    // the stream has passed fails on the primary key.
    const inserts = eventInserts(events, sql<boolean>`(select ok from guard)`);
    try {
      const { rows } = await sql<{ positions: string[]; at: string; ok: boolean }>`
        with guard as (
          select coalesce(max(version), 0) = ${expectedVersion} as ok from events where stream_id = ${streamId}
        ), ${inserts.cte}
        select ${inserts.positions}, pg_current_xact_id()::text as at, (select ok from guard) as ok`.execute(this.db);
      const row = rows[0] as { positions: string[]; at: string; ok: boolean };
      if (row.ok) return { version: expectedVersion + events.length, position: positionOf(row.at, row.positions.at(-1) as string) };
    } catch (error) {
      if (!isStreamVersionConflict(error)) throw error;
    }
    // Not at the expected version: unless these very events are already there, right
    // after it (an append re-sent after its answer was lost), a conflict.
    const stored = await sql<{ event_id: string; at: string; pos: string }>`
      select event_id, transaction_id::text as at, global_position::text as pos
        from events where stream_id = ${streamId} and version > ${expectedVersion} order by version limit ${events.length}`.execute(this.db);
    const last = stored.rows.at(-1);
    if (last && stored.rows.length === events.length && stored.rows.every((r, i) => r.event_id === events[i]?.eventId)) {
      return { version: expectedVersion + events.length, position: positionOf(last.at, last.pos) };
    }
    throw new StreamVersionConflict(streamId, expectedVersion, await this.versionOf(streamId));
  }

  private async versionOf(streamId: string): Promise<number> {
    const { rows } = await sql<{ version: number }>`select coalesce(max(version), 0) as version from events where stream_id = ${streamId}`.execute(this.db);
    return rows[0]?.version ?? 0;
  }

  readStream(streamId: string, options: { after?: number; limit?: number } = {}): Promise<EventEnvelope[]> {
    return readStream(this.db, streamId, options);
  }

  async readAll(options: { after?: LogPosition | undefined; limit: number }): Promise<PositionedEvent[]> {
    const after = parsePosition(options.after ?? this.start);
    const feed = await readGlobalFeed(this.db, after, options.limit);
    // The table holds group streams only (every row decodes as a group event).
    return feed.map(({ checkpoint, ...event }) => ({ event, position: formatCheckpoint(checkpoint) as LogPosition }));
  }

  subscribe(options: SubscribeOptions): LogSubscription {
    return pollingSubscription(this, options);
  }

  async head(): Promise<LogPosition | undefined> {
    const { events } = await tailHead(this.db);
    return events.transactionId === 0n ? undefined : (formatCheckpoint(events) as LogPosition);
  }

  assertAvailable(): void {
    // The database answers for itself (a command that cannot reach it fails as such).
  }

  isPosition(text: string): text is LogPosition {
    if (!CHECKPOINT.test(text)) return false;
    // xid8 is unsigned 64-bit, global_position a bigint.
    const { transactionId, globalPosition } = parseCheckpoint(text);
    return transactionId <= 0xffffffffffffffffn && globalPosition <= 0x7fffffffffffffffn;
  }

  globalPositionOf(position: LogPosition): bigint {
    return parsePosition(position).globalPosition;
  }

  compare(a: LogPosition, b: LogPosition): number {
    const [x, y] = [parsePosition(a), parsePosition(b)];
    return compareParts([x.transactionId, x.globalPosition], [y.transactionId, y.globalPosition]);
  }

  async close(): Promise<void> {
    // The pool belongs to the caller.
  }
}

const positionOf = (transactionId: string, globalPosition: string) => `${transactionId}.${globalPosition}` as LogPosition;

function parsePosition(position: LogPosition) {
  if (!CHECKPOINT.test(position)) throw new RangeError(`not a position of the PostgreSQL log: ${position}`);
  return parseCheckpoint(position);
}

/**
 * A subscription that reads the log a batch at a time: at once again after a full
 * batch, every IDLE_POLL_MS while idle. Caught up the first time a read comes back
 * short.
 */
function pollingSubscription(log: EventLog, options: SubscribeOptions): LogSubscription {
  let closed = false;
  let wake: (() => void) | undefined;
  let markCaughtUp: () => void = () => undefined;
  const caughtUp = new Promise<void>((resolve) => (markCaughtUp = resolve));
  const done = (async () => {
    let after = options.after;
    while (!closed) {
      const batch = await log.readAll({ after, limit: SUBSCRIBE_BATCH });
      if (closed) break;
      if (batch.length > 0) {
        await options.onEvents(batch);
        after = (batch.at(-1) as PositionedEvent).position;
      }
      if (batch.length < SUBSCRIBE_BATCH) {
        markCaughtUp();
        await new Promise<void>((resolve) => {
          wake = resolve;
          setTimeout(resolve, IDLE_POLL_MS).unref();
        });
      }
    }
  })();
  done.catch(() => undefined); // observed by whoever awaits done
  return {
    caughtUp,
    done,
    async close() {
      closed = true;
      wake?.();
      await done.catch(() => undefined);
    },
  };
}
