import { sql } from 'kysely';
import { readSnapshot, type Db } from '../db/database.js';
import { groupIdOf, streamIdOf } from '../events/index.js';
import type { EventLog, LogPosition } from '../store/event-log.js';
import { foldEvent, newFold, type FoldedGroup } from './fold-group.js';
import { compareGroups, projectedVersions, type VerifyOptions, type VerifyReport } from './verify.js';

/** A group the projection has not caught up with: behind the log, which is lag, not drift. */
export interface LaggingGroup {
  groupId: string;
  projectedVersion: number;
  loggedVersion: number;
}

export interface LogVerifyReport extends VerifyReport {
  /** Where the log ended when the check began. */
  head: string | undefined;
  /** Where the log subscriber's checkpoint stood when the check compared. */
  checkpoint: string | undefined;
  lagging: LaggingGroup[];
  /** Groups written (or created) after the head while the check ran: folded on from the log and compared at their projected version. */
  movedOn: number;
}

export interface LogVerifyOptions extends VerifyOptions {
  /** The log subscriber's checkpoint (see LogSubscriber). */
  checkpointName?: string;
  /** How long to wait for the checkpoint to reach the log's head before comparing anyway. */
  waitMs?: number;
}

/**
 * `replay verify` with an event log outside PostgreSQL (KurrentDB). Notes where the
 * log ends, waits (a while) for the log subscriber's checkpoint to get there, then folds
 * the log up to that point on its own path (fold-group.ts) and compares each group with
 * the projection. A group the projection has not reached yet is reported as lag, apart
 * from drift; a group written again meanwhile (projected past the head) is folded on from
 * the log to its projected version and compared there, so a projection that claims more
 * than its log holds is drift too.
 * Unlike the PostgreSQL check it cannot see log and projection in one snapshot, and it
 * keeps one fold per group in memory while it reads the log in its global order.
 */
export async function verifyFromLog(db: Db, eventLog: EventLog, options: LogVerifyOptions = {}): Promise<LogVerifyReport> {
  const name = options.checkpointName ?? 'projector';
  const head = await eventLog.head();
  const deadline = Date.now() + (options.waitMs ?? 30_000);
  let checkpoint: LogPosition | undefined;
  for (;;) {
    const row = await db.selectFrom('log_checkpoints').select('position').where('name', '=', name).executeTakeFirst();
    checkpoint = row?.position as LogPosition | undefined;
    if (head === undefined || (checkpoint !== undefined && eventLog.compare(checkpoint, head) >= 0) || Date.now() >= deadline) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }

  const folds = new Map<string, FoldedGroup>();
  let events = 0;
  const fold = (streamId: string, version: number, event: Parameters<typeof foldEvent>[2]) => {
    const groupId = groupIdOf(streamId) ?? streamId;
    let folded = folds.get(groupId);
    if (!folded) folds.set(groupId, (folded = newFold(groupId)));
    foldEvent(folded, version, event);
    events += 1;
  };
  if (options.groupId !== undefined) {
    // Only what the log held at the head, as for the whole log (a later append may not be projected yet).
    const bound = head === undefined ? undefined : eventLog.globalPositionOf(head);
    for (const e of await eventLog.readStream(streamIdOf(options.groupId))) {
      if (bound === undefined || e.globalPosition > bound) break;
      fold(e.streamId, e.version, e);
    }
  } else if (head !== undefined) {
    let after: LogPosition | undefined;
    for (let done = false; !done;) {
      const page = await eventLog.readAll({ after, limit: 1_000 });
      for (const { event, position } of page) {
        if (eventLog.compare(position, head) > 0) {
          done = true;
          break;
        }
        fold(event.streamId, event.version, event);
      }
      if (page.length < 1_000) done = true;
      after = page.at(-1)?.position;
      options.onProgress?.({ events, groups: folds.size });
    }
  }

  return readSnapshot(db, async (tx) => {
    const report: LogVerifyReport = { groups: folds.size, events, mismatches: [], head, checkpoint, lagging: [], movedOn: 0 };
    const ids = [...folds.keys()];
    const projected = await projectedVersions(tx, ids);
    const comparable: FoldedGroup[] = [];
    // Behind the log while the subscriber has not reached the head is lag; behind it after
    // the subscriber passed those events is drift (compared below, as a version mismatch).
    const subscriberBehind = head !== undefined && (checkpoint === undefined || eventLog.compare(checkpoint, head) < 0);
    for (const folded of folds.values()) {
      const version = projected.get(folded.groupId) ?? 0;
      if (version < folded.version && subscriberBehind) {
        report.lagging.push({ groupId: folded.groupId, projectedVersion: version, loggedVersion: folded.version });
      } else {
        if (version > folded.version) {
          // Projected past the head: written again while the check ran, or a projection
          // ahead of its log. Fold on to the projected version from the log as it is now
          // and compare there; a log that does not reach it shows as drift.
          for (const e of await eventLog.readStream(streamIdOf(folded.groupId), { after: folded.version, limit: version - folded.version })) {
            fold(e.streamId, e.version, e);
          }
          report.movedOn += 1;
        }
        comparable.push(folded);
      }
    }

    // Projected groups with no events in the log up to the head: orphans, unless the log
    // has them after it (created while the check ran: compared at their projected version).
    const others = await sql<{ group_id: string; version: number }>`
      select group_id, version from groups
       where (${options.groupId ?? null}::text is null or group_id = ${options.groupId ?? null})
         and not (group_id = any(${ids}))`.execute(tx);
    for (const { group_id, version } of others.rows) {
      const later = await eventLog.readStream(streamIdOf(group_id), { limit: Math.max(1, version) });
      if (later.length === 0) {
        report.mismatches.push({ groupId: group_id, kind: 'orphan-group', expected: 'no group (no events)', actual: 'a projected group' });
        continue;
      }
      for (const e of later) fold(e.streamId, e.version, e);
      comparable.push(folds.get(group_id) as FoldedGroup);
      report.movedOn += 1;
    }
    report.events = events;
    report.groups = folds.size;
    for (let i = 0; i < comparable.length; i += 500) report.mismatches.push(...(await compareGroups(tx, comparable.slice(i, i + 500))));
    return report;
  });
}
