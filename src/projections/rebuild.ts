import { sql } from 'kysely';
import type { Logger } from 'pino';
import type { Db, Tx } from '../db/database.js';
import type { EventLog, LogPosition } from '../store/event-log.js';
import { GROUP_STREAM_PREFIX, GROUP_STREAMS_LIKE, groupIdOf, streamIdOf, type EventEnvelope } from '../events/index.js';
import { envelopeColumns, toEnvelope } from '../store/event-store.js';
import { readLogInStreamOrder } from '../store/read-log.js';
import { allRows, emptyRows, projectEvent, type GroupRows } from './projector.js';
import { writeRows } from './write-rows.js';

export interface RebuildOptions {
  /** Rebuild only this group. */
  groupId?: string | undefined;
  /** Events per swap transaction (a group is never split); default 5,000. */
  batchEvents?: number | undefined;
  onProgress?: ((progress: { events: number; groups: number }) => void) | undefined;
  /** Runs after a batch is built and before it is swapped in; tests write meanwhile. */
  beforeSwap?: ((groupIds: readonly string[]) => Promise<void>) | undefined;
  logger?: Logger | undefined;
  /**
   * An event log outside PostgreSQL (KurrentDB) to rebuild from. Its group streams are
   * listed by one pass over `$all` (filtered to `group-` by the server), then read one
   * stream at a time in id order, so memory stays flat as in the PostgreSQL rebuild.
   */
  eventLog?: EventLog | undefined;
  /** The log subscriber's checkpoint a full rebuild from `eventLog` moves up to the log's head. */
  checkpointName?: string | undefined;
}

export interface RebuildReport {
  /** Groups whose rows were rebuilt from their events. */
  groups: number;
  /** Events read while building beside the serving tables. */
  events: number;
  /** Events that committed during the build and were applied at swap time. */
  tailEvents: number;
  /** Projected groups that had no events at all, removed. */
  removedGroups: number;
  /** Rows written. */
  rows: number;
}

/**
 * Rebuilds the read model from the event log while the service keeps running.
 *
 * The log is read in stream order without locks and each group's rows are built in
 * memory (the "beside" copy). A batch of finished groups is then swapped in by one
 * short transaction that locks those groups' rows (the lock every command takes first,
 * so writers to those groups queue and lose nothing; other groups and all readers
 * carry on), applies any events committed since the build read them, and replaces the
 * rows. Readers see a group's old rows until that commit and its new rows after it,
 * never a mix. Interrupting the rebuild rolls back the batch in flight: every group is
 * either still on its old rows or on complete rebuilt rows.
 */
export async function rebuildProjection(db: Db, options: RebuildOptions = {}): Promise<RebuildReport> {
  const report: RebuildReport = { groups: 0, events: 0, tailEvents: 0, removedGroups: 0, rows: 0 };
  const batchEvents = options.batchEvents ?? 5_000;
  // Announcements of earlier rebuilds were read by every tail within moments of their commit.
  await sql`delete from projection_changes where rebuilt and recorded_at < now() - interval '1 day'`.execute(db);
  const started = await sql<{ xmin: string }>`select pg_snapshot_xmin(pg_current_snapshot())::text as xmin`.execute(db);
  const startXmin = (started.rows[0] as { xmin: string }).xmin;

  let batch: Building[] = [];
  let batchSize = 0;
  const swap = async () => {
    if (batch.length === 0) return;
    await swapIn(db, batch, report, options);
    batch = [];
    batchSize = 0;
    options.onProgress?.({ events: report.events, groups: report.groups });
  };
  const build = async (events: AsyncIterable<EventEnvelope>) => {
    let current: Building | undefined;
    for await (const event of events) {
      if (event.streamId !== current?.streamId) {
        if (batchSize >= batchEvents) await swap();
        current = { ...emptyRows(groupIdOf(event.streamId) ?? event.streamId), streamId: event.streamId };
        batch.push(current);
      }
      projectEvent(current, event);
      batchSize += 1;
      report.events += 1;
    }
    await swap();
  };

  const only = options.groupId === undefined ? undefined : streamIdOf(options.groupId);
  if (options.eventLog) {
    const log = options.eventLog;
    const head = only ? undefined : await log.head();
    const streams = only ? [only] : await groupStreamsOf(log);
    for (const streamId of streams) await build(toAsync(await log.readStream(streamId)));
    // Every event up to the head noted before the pass is now projected: the log
    // subscriber need not read them again.
    if (head !== undefined) await advanceCheckpoint(db, log, options.checkpointName ?? 'projector', head);
    // Groups created meanwhile were projected by the commands that created them.
    report.removedGroups = await removeOrphanGroups(db, options.groupId, { log, known: new Set(streams) });
    options.logger?.info({ ...report }, 'projection rebuilt from the external event log');
    return report;
  }
  await build(readLogInStreamOrder(db, { streamId: only }));

  // Groups created while the pass ran may sit behind its cursor: rebuild them too.
  const late = await sql<{ stream_id: string }>`
    select stream_id from events
     where transaction_id >= ${startXmin}::xid8 and version = 1 and stream_id like ${GROUP_STREAMS_LIKE}
       and (${only ?? null}::text is null or stream_id = ${only ?? null})
     order by stream_id`.execute(db);
  for (const { stream_id } of late.rows) await build(readLogInStreamOrder(db, { streamId: stream_id }));

  report.removedGroups = await removeOrphanGroups(db, options.groupId);
  options.logger?.info({ ...report }, 'projection rebuilt');
  return report;
}

type Building = GroupRows & { streamId: string };

/** Stream reads in flight at once while a swap holds its groups' locks. */
const TAIL_READS_AT_ONCE = 16;

/** Moves the named checkpoint forward to `to` (never back), by compare-and-set. */
async function advanceCheckpoint(db: Db, log: EventLog, name: string, to: LogPosition): Promise<void> {
  await db.transaction().execute(async (tx) => {
    const current = await tx.selectFrom('log_checkpoints').select('position').where('name', '=', name).forUpdate().executeTakeFirst();
    if (current && log.compare(current.position as LogPosition, to) >= 0) return;
    await sql`insert into log_checkpoints (name, position) values (${name}, ${to})
              on conflict (name) do update set position = excluded.position, updated_at = now()`.execute(tx);
  });
}

/** Every group stream id in the external log, sorted: one pass over `$all`, keeping only the ids. */
async function groupStreamsOf(log: EventLog): Promise<string[]> {
  const streams = new Set<string>();
  let after: LogPosition | undefined;
  for (;;) {
    const page = await log.readAll({ after, limit: 5_000 });
    for (const { event } of page) streams.add(event.streamId);
    if (page.length < 5_000) break;
    after = page.at(-1)?.position;
  }
  // The order the PostgreSQL rebuild uses, so batches are alike; any order would do.
  return [...streams].sort();
}

async function* toAsync<T>(items: readonly T[]): AsyncIterable<T> {
  yield* items;
}

/**
 * Events committed to the batch's streams after what the build read (in `tx`, which holds
 * the groups' row locks). From an external log only for groups whose projection has gone
 * past what was built (`stored`: their locked versions): commands projected those events
 * and the swap must keep them. Events logged but not projected are left to the log
 * subscriber, which applies whatever is beyond a group's version.
 */
async function tailOf(tx: Tx, batch: Building[], log: EventLog | undefined, stored: Map<string, number>): Promise<EventEnvelope[]> {
  if (log) {
    const moved = batch.filter((g) => (stored.get(g.groupId) ?? 0) > (g.group?.version ?? 0));
    // A few reads at a time, while the locks are held.
    const tails: EventEnvelope[][] = [];
    for (let i = 0; i < moved.length; i += TAIL_READS_AT_ONCE) {
      const slice = moved.slice(i, i + TAIL_READS_AT_ONCE);
      tails.push(...(await Promise.all(slice.map((g) => log.readStream(g.streamId, { after: g.group?.version ?? 0 })))));
    }
    return tails.flat();
  }
  const tail = await sql<Parameters<typeof toEnvelope>[0]>`
    select ${envelopeColumns('e')}
      from events e
      join unnest(${batch.map((g) => g.streamId)}::text[], ${batch.map((g) => g.group?.version ?? 0)}::int[]) as b(stream_id, version)
        on e.stream_id = b.stream_id and e.version > b.version
     order by e.stream_id, e.version`.execute(tx);
  return tail.rows.map(toEnvelope);
}

async function swapIn(db: Db, batch: Building[], report: RebuildReport, options: RebuildOptions): Promise<void> {
  const groupIds = batch.map((g) => g.groupId).sort();
  await options.beforeSwap?.(groupIds);
  await db.transaction().execute(async (tx) => {
    // The lock every command takes first; groups not yet projected have no row to lock,
    // and no command can append to them (commands need the row), except a create,
    // which would collide with the existing first event.
    const locked = await tx.selectFrom('groups').select(['group_id', 'version']).where('group_id', 'in', groupIds).orderBy('group_id').forUpdate().execute();
    const stored = new Map(locked.map((g) => [g.group_id, g.version]));

    const tail = await tailOf(tx, batch, options.eventLog, stored);
    const byStream = new Map(batch.map((g) => [g.streamId, g]));
    for (const event of tail) projectEvent(byStream.get(event.streamId) as Building, event);
    report.tailEvents += tail.length;

    // The built rows replace whatever the projection holds for these groups, drift included.
    for (const table of ['group_members', 'user_balances', 'expenses'] as const) {
      await tx.deleteFrom(table).where('group_id', 'in', groupIds).execute();
    }
    const rows = await writeRows(
      tx,
      batch.map((g) => allRows(g, stored.get(g.groupId) ?? 0)),
      { bumpEpoch: true },
    );
    // Open live streams, in every server process, hear of the repair through the log tail.
    await tx
      .insertInto('projection_changes')
      .values(batch.map((g) => ({ group_id: g.groupId, version: g.group?.version ?? 0, rebuilt: true })))
      .execute();
    report.rows += rows;
    options.logger?.debug({ groups: batch.length, from: groupIds[0], to: groupIds.at(-1), tailEvents: tail.length, rows }, 'rebuilt groups swapped in');
  });
  report.groups += batch.length;
}

/** Deletes projected groups that have no events behind them (in `log` when given); returns how many. */
async function removeOrphanGroups(db: Db, groupId: string | undefined, external?: { log: EventLog; known: Set<string> }): Promise<number> {
  // With an external log: candidates are projected groups the pass did not list, found
  // without locks and checked against the log (created since?) before any lock is taken.
  let candidates: string[] | undefined;
  if (external) {
    const projected = await sql<{ group_id: string }>`
      select group_id from groups where (${groupId ?? null}::text is null or group_id = ${groupId ?? null}) order by group_id`.execute(db);
    const unlisted = projected.rows.map((r) => r.group_id).filter((id) => !external.known.has(streamIdOf(id)));
    candidates = [];
    for (const id of unlisted) if ((await external.log.readStream(streamIdOf(id), { limit: 1 })).length === 0) candidates.push(id);
    if (candidates.length === 0) return 0;
  }
  return db.transaction().execute(async (tx) => {
    const orphans = await sql<{ group_id: string }>`
      select g.group_id from groups g
       where (${groupId ?? null}::text is null or g.group_id = ${groupId ?? null})
         and (${candidates ?? null}::text[] is null or g.group_id = any(${candidates ?? null}::text[]))
         and (${external !== undefined} or not exists (select 1 from events e where e.stream_id = ${GROUP_STREAM_PREFIX} || g.group_id))
       order by g.group_id
         for update of g`.execute(tx);
    const ids = orphans.rows.map((r) => r.group_id);
    if (ids.length === 0) return 0;
    for (const table of ['group_members', 'user_balances', 'expenses', 'groups'] as const) {
      await tx.deleteFrom(table).where('group_id', 'in', ids).execute();
    }
    return ids.length;
  });
}
