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
  /** A name-only member's place, claimed by this account at this version: its balance and entries are the account's from there on. */
  claimedBy?: { userId: string; version: number };
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
    // The user's entries, and those of every name-only member: if the user claims one's
    // place (MemberClaimed), that member's entries are where the balance they took came from.
    const entriesOf = new Map<string, AuditEntry[]>();
    let claimedBy: AuditReport['claimedBy'];
    let digits = 2;
    for await (const { version, event } of external ?? readFactsInStreamOrder(tx, { streamId: streamIdOf(groupId) })) {
      const before = [...new Set([userId, ...fold.nameOnly])].map((id) => [id, balanceOf(fold, id)] as const);
      foldEvent(fold, version, event);
      if (event.type === 'GroupCreated') digits = minorDigits(event.data.currency);
      if (event.type === 'ExpenseAdded') descriptions.set(event.data.expenseId, { description: event.data.description, kind: event.data.kind });
      if (event.type === 'MemberClaimed' && event.data.userId === userId) {
        entriesOf.set(userId, [...(entriesOf.get(event.data.nameOnlyId) ?? []), ...(entriesOf.get(userId) ?? [])]);
      }
      if (event.type === 'MemberClaimed' && event.data.nameOnlyId === userId) claimedBy = { userId: event.data.userId, version };
      if (event.type !== 'ExpenseAdded' && event.type !== 'ExpenseDeleted') continue;
      for (const [id, was] of before) {
        const after = balanceOf(fold, id);
        if (after === was) continue;
        const about = descriptions.get(event.data.expenseId);
        const entries = entriesOf.get(id) ?? [];
        entriesOf.set(id, entries);
        entries.push({
          version,
          type: event.type,
          expenseId: event.data.expenseId,
          description: about?.description ?? '',
          kind: about?.kind ?? '',
          delta: formatMinor(after - was, digits),
          balance: formatMinor(after, digits),
        });
      }
    }
    const entries = entriesOf.get(userId) ?? [];
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
      // A claimed place's balance went to the account (audit that one): nothing is served for it.
      matches: claimedBy ? served === undefined : served !== undefined && BigInt(served.balance_minor) === balance,
      ...(claimedBy ? { claimedBy } : {}),
    };
  });
}
