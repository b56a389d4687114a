import { readSnapshot, type Db } from '../db/database.js';
import { minorDigits } from '../money/currency.js';
import { formatMinor } from '../money/decimal.js';
import { balanceOf, foldEvent, newFold } from './fold-group.js';
import { readFactsInStreamOrder } from '../store/read-log.js';
import { streamIdOf, type GroupEvent } from '../events/index.js';
import type { EventLog } from '../store/event-log.js';

export interface AuditEntry {
  version: number;
  type: string;
  expenseId: string;
  description: string;
  kind: string;
  delta: string;
  balance: string;
}

export interface AuditReport {
  groupId: string;
  userId: string;
  currency: string;
  entries: AuditEntry[];
  /** What the event log implies. */
  balance: string;
  /** What the projection serves. */
  served: string | null;
  matches: boolean;
}

/**
 * Every event that moved one user's balance, in order, with the change and the
 * running total: the answer to "why do I owe 12.34?". Ends with the balance the
 * projection serves, read in the same snapshot, and whether the two agree.
 */
export async function auditUser(db: Db, groupId: string, userId: string, options: { eventLog?: EventLog | undefined } = {}): Promise<AuditReport | undefined> {
  // With an external log (KurrentDB) its events are read first, then the served balance:
  // a write in between can make them differ (run it again), never hide a difference.
  const external = options.eventLog
    ? (await options.eventLog.readStream(streamIdOf(groupId))).map((e) => ({ version: e.version, event: { type: e.type, data: e.data } as GroupEvent }))
    : undefined;
  return readSnapshot(db, async (tx) => {
    const fold = newFold(groupId);
    const descriptions = new Map<string, { description: string; kind: string }>();
    const entries: AuditEntry[] = [];
    let digits = 2;
    for await (const { version, event } of external ?? readFactsInStreamOrder(tx, { streamId: streamIdOf(groupId) })) {
      const before = balanceOf(fold, userId);
      foldEvent(fold, version, event);
      if (event.type === 'GroupCreated') digits = minorDigits(event.data.currency);
      if (event.type === 'ExpenseAdded') descriptions.set(event.data.expenseId, { description: event.data.description, kind: event.data.kind });
      const after = balanceOf(fold, userId);
      if (after !== before && (event.type === 'ExpenseAdded' || event.type === 'ExpenseDeleted')) {
        const about = descriptions.get(event.data.expenseId);
        entries.push({
          version,
          type: event.type,
          expenseId: event.data.expenseId,
          description: about?.description ?? '',
          kind: about?.kind ?? '',
          delta: formatMinor(after - before, digits),
          balance: formatMinor(after, digits),
        });
      }
    }
    if (fold.version === 0) return undefined;
    const served = await tx
      .selectFrom('user_balances')
      .select('balance_minor')
      .where('group_id', '=', groupId)
      .where('user_id', '=', userId)
      .executeTakeFirst();
    const balance = balanceOf(fold, userId);
    return {
      groupId,
      userId,
      currency: fold.currency,
      entries,
      balance: formatMinor(balance, digits),
      served: served ? formatMinor(BigInt(served.balance_minor), digits) : null,
      matches: served !== undefined && BigInt(served.balance_minor) === balance,
    };
  });
}
