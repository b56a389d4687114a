import { sql } from 'kysely';
import type { Db } from '../db/database.js';
import { groupIdOf, type EventEnvelope } from '../events/index.js';
import { envelopeColumns, toEnvelope, type StoredEventRow } from './event-store.js';

/**
 * A position in the global feed: the writing transaction's id and the event's
 * global_position. Written as `<transactionId>.<globalPosition>`; `0.0` is the start.
 */
export interface Checkpoint {
  transactionId: bigint;
  globalPosition: bigint;
}

export const formatCheckpoint = (c: Checkpoint): string => `${c.transactionId}.${c.globalPosition}`;

export const CHECKPOINT = /^(0|[1-9][0-9]{0,19})\.(0|[1-9][0-9]{0,18})$/;

/** Parses a checkpoint already matched against CHECKPOINT. */
export function parseCheckpoint(text: string): Checkpoint {
  const [transactionId = '0', globalPosition = '0'] = text.split('.');
  return { transactionId: BigInt(transactionId), globalPosition: BigInt(globalPosition) };
}

export type FeedEvent = EventEnvelope & { checkpoint: Checkpoint };

/**
 * Events after `after`, in commit-safe order. global_position alone is not safe: a
 * transaction that took a lower position may commit after one that took a higher
 * position, and a reader who already moved past it would skip it forever. So the feed
 * orders by the writing transaction's id and stops below the oldest transaction still
 * running (pg_snapshot_xmin): anything beyond it may still gain events. A slow writer
 * delays the feed; it never makes it skip.
 */
export async function readGlobalFeed(db: Db, after: Checkpoint, limit: number): Promise<FeedEvent[]> {
  // (Aliases must not shadow transaction_id: ORDER BY would sort the text alias.)
  const { rows } = await sql<StoredEventRow & { transaction_text: string }>`
    select ${envelopeColumns()}, transaction_id::text as transaction_text
      from events
     where (transaction_id, global_position) > (${after.transactionId.toString()}::xid8, ${after.globalPosition.toString()}::bigint)
       and transaction_id < pg_snapshot_xmin(pg_current_snapshot())
     order by transaction_id, global_position
     limit ${limit}`.execute(db);
  return rows.map((row) => ({
    ...toEnvelope(row),
    checkpoint: { transactionId: BigInt(row.transaction_text), globalPosition: row.global_position },
  }));
}

/**
 * Where a tail of the log stands: one checkpoint in the events, one in the projection's
 * change record (rebuilds, and commits of events from an external log).
 */
export interface TailPosition {
  events: Checkpoint;
  projection: Checkpoint;
}

/** One committed change to a group, as the tail sees it: a new version, or a rebuild at a version. */
export interface Change {
  groupId: string;
  version: number;
  rebuilt: boolean;
}

/**
 * The tail's starting point: the end of the log as a reader may safely see it now.
 * Anything committed later (or by a transaction still running) comes after it.
 */
export async function tailHead(db: Db): Promise<TailPosition> {
  const { rows } = await sql<{ events: string | null; projection: string | null }>`
    select (select transaction_id::text || '.' || global_position from events
             where transaction_id < pg_snapshot_xmin(pg_current_snapshot())
             order by transaction_id desc, global_position desc limit 1) as events,
           (select transaction_id::text || '.' || position from projection_changes
             where transaction_id < pg_snapshot_xmin(pg_current_snapshot())
             order by transaction_id desc, position desc limit 1) as projection`.execute(db);
  const head = rows[0];
  return { events: parseCheckpoint(head?.events ?? '0.0'), projection: parseCheckpoint(head?.projection ?? '0.0') };
}

/**
 * The changes committed after `from`, in the feed's gap-safe order, at most `limit` of
 * each kind, in one statement that reads only (stream, version) pairs. Returns them with
 * the position to continue from, and whether either kind filled its limit (then more
 * may be waiting).
 */
export async function readChanges(db: Db, from: TailPosition, limit: number): Promise<{ changes: Change[]; next: TailPosition; full: boolean }> {
  const { rows } = await sql<{ kind: 'event' | 'projection'; tx: string; pos: bigint; stream: string; version: number; rebuilt: boolean }>`
    (select 'event' as kind, transaction_id::text as tx, global_position as pos, stream_id as stream, version, false as rebuilt
       from events
      where (transaction_id, global_position) > (${from.events.transactionId.toString()}::xid8, ${from.events.globalPosition.toString()}::bigint)
        and transaction_id < pg_snapshot_xmin(pg_current_snapshot())
      order by transaction_id, global_position
      limit ${limit})
    union all
    (select 'projection', transaction_id::text, position, group_id, version, rebuilt
       from projection_changes
      where (transaction_id, position) > (${from.projection.transactionId.toString()}::xid8, ${from.projection.globalPosition.toString()}::bigint)
        and transaction_id < pg_snapshot_xmin(pg_current_snapshot())
      order by transaction_id, position
      limit ${limit})`.execute(db);
  const next = { ...from };
  const changes: Change[] = [];
  let events = 0;
  // UNION ALL promises no order of its output: each position moves to the largest of its kind.
  const later = (a: Checkpoint, b: Checkpoint) =>
    a.transactionId > b.transactionId || (a.transactionId === b.transactionId && a.globalPosition > b.globalPosition) ? a : b;
  for (const row of rows) {
    const at = { transactionId: BigInt(row.tx), globalPosition: BigInt(row.pos) };
    if (row.kind === 'event') {
      events += 1;
      next.events = later(at, next.events);
      const groupId = groupIdOf(row.stream);
      if (groupId !== undefined) changes.push({ groupId, version: row.version, rebuilt: false });
    } else {
      next.projection = later(at, next.projection);
      changes.push({ groupId: row.stream, version: row.version, rebuilt: row.rebuilt });
    }
  }
  return { changes, next, full: events === limit || rows.length - events === limit };
}
