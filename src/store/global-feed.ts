import { sql } from 'kysely';
import type { Db } from '../db/database.js';
import type { EventEnvelope } from '../events/index.js';
import { toEnvelope, type StoredEventRow } from './event-store.js';

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
    select global_position, transaction_id::text as transaction_text, stream_id, version, event_id, type,
           schema_version, data, metadata, recorded_at
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
