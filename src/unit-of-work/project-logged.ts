import type { Tx } from '../db/database.js';
import { groupIdOf, type EventEnvelope } from '../events/index.js';
import { project, ProjectionError } from '../projections/projector.js';
import { appendAndProject, lockGroupStream } from './append-and-project.js';
import { lockAndLoad } from './lock-and-load.js';

export interface ProjectedLogged {
  /** Events applied to the projection. */
  applied: number;
  /** Events the projection already had (version at or below the group's). */
  skipped: number;
  rows: number;
}

/**
 * Projects events that are already in an external event log (KurrentDB), in order,
 * inside `tx`: the write path's catch-up after a conflict and the log subscriber's
 * repair. Each event locks its group's row and loads what it touches, as a command
 * does; one the projection already has is skipped, so applying an event twice (the
 * inline write path and the subscriber racing) changes nothing. An event that would
 * leave a gap in a group's versions is refused: something is missing in between.
 */
export async function projectLogged(tx: Tx, events: readonly EventEnvelope[], actorUserId = 'fairshare-log-projector'): Promise<ProjectedLogged> {
  const result: ProjectedLogged = { applied: 0, skipped: 0, rows: 0 };
  for (const event of events) {
    const groupId = groupIdOf(event.streamId);
    if (groupId === undefined) throw new ProjectionError(`${event.streamId} is not a group stream`);
    const expenseId = event.type === 'ExpenseAdded' || event.type === 'ExpenseDeleted' ? event.data.expenseId : undefined;
    await lockGroupStream(tx, groupId);
    const claimedMember = event.type === 'MemberClaimed' ? event.data.nameOnlyId : undefined;
    const loaded = await lockAndLoad(tx, groupId, { expenseId, claimedMember, actorUserId });
    const version = loaded.rows.group?.version ?? 0;
    if (event.version <= version) {
      result.skipped += 1;
      continue;
    }
    if (event.version !== version + 1) {
      throw new ProjectionError(`${event.streamId} version ${event.version} cannot follow the projection's version ${version}`);
    }
    const projected = project(loaded.rows, [event]);
    result.rows += await appendAndProject(tx, [event], projected.changes, undefined, true);
    result.applied += 1;
  }
  return result;
}
