import t from 'tap';
import type { LogEvent } from '../src/web/api.js';
import { activityLines } from '../src/web/history.js';

// The activity view's words for each kind of event (the browser test shows them on the
// page; these are the cases a two-person story does not reach).

let version = 0;
const ev = (type: string, data: LogEvent['data'], actor: string, requestId = `r${version + 1}`): LogEvent => ({
  version: ++version,
  type,
  data,
  metadata: { actorUserId: actor, requestId },
  recordedAt: `2026-11-26T10:00:${String(version).padStart(2, '0')}.000Z`,
});
const names = new Map([
  ['ann', 'Ann'],
  ['bob', 'Bob'],
  ['cy', 'Cy'],
  ['daniel', 'Daniel'],
]);
const nameOf = (u: string) => names.get(u) ?? u;
const expense = (expenseId: string, description: string, amountMinor: number, payer = 'ann', recipient?: string) => ({
  expenseId,
  kind: recipient ? ('payment' as const) : ('expense' as const),
  description,
  amountMinor,
  payers: [{ userId: payer, amountMinor }],
  shares: [{ userId: recipient ?? payer, amountMinor }],
});

t.test('every event type in words, newest first; an edit is one line', async (t) => {
  version = 0;
  const log = [
    ev('GroupCreated', { name: 'Lisbon', currency: 'EUR', members: [{ userId: 'ann', name: 'Ann' }] }, 'ann'),
    ev('MemberAdded', { userId: 'bob', name: 'Bob', invitedBy: 'ann' }, 'bob'),
    ev('MemberAdded', { userId: 'dan', name: 'Dan', nameOnly: true }, 'ann'),
    ev('MemberClaimed', { nameOnlyId: 'dan', userId: 'daniel', name: 'Daniel', invitedBy: 'ann' }, 'daniel'),
    ev('ExpenseAdded', expense('e1', 'Dinner', 3000), 'ann'),
    ev('ExpenseDeleted', { expenseId: 'e2' }, 'bob', 'edit'),
    ev('ExpenseAdded', expense('e2', 'Taxi', 1200, 'bob'), 'bob', 'edit'),
    ev('ExpenseDeleted', { expenseId: 'e1' }, 'ann'),
    ev('ExpenseAdded', expense('p1', 'Cy paid Ann', 500, 'cy', 'ann'), 'cy'),
    ev('ExpenseAdded', expense('p2', 'Bob paid Ann', 250, 'bob', 'ann'), 'ann'),
    ev('GroupRenamed', { name: 'Lisbon 2026' }, 'ann'),
    ev('MemberRemoved', { userId: 'cy' }, 'ann'),
    ev('MemberRemoved', { userId: 'bob' }, 'bob'),
    ev('GroupArchived', {}, 'ann'),
    ev('GroupUnarchived', {}, 'daniel'),
    ev('ExpenseDeleted', { expenseId: 'old' }, 'ann'),
  ];
  const lines = activityLines(log, 'EUR', nameOf);
  t.same(
    lines.map((l) => l.text),
    [
      'Ann deleted an expense',
      'Daniel opened the group again',
      'Ann archived the group',
      'Bob left',
      'Ann removed Cy',
      'Ann renamed the group to Lisbon 2026',
      'Bob paid Ann €2.50 (recorded by Ann)',
      'Cy paid Ann €5.00',
      'Ann deleted Dinner',
      'Bob edited Taxi (€12.00)',
      'Ann added Dinner (€30.00)',
      "Daniel took Dan's place",
      'Ann added Dan (without an account)',
      'Bob joined (invited by Ann)',
      'Ann created the group Lisbon',
    ],
  );
  t.equal(
    activityLines(log, 'EUR', nameOf, new Map([['old', 'Old lunch']]))[0]?.text,
    'Ann deleted Old lunch',
    'an expense added before the loaded events, by the description the page read',
  );
  t.same(
    lines.map((l) => l.at),
    lines.map((l) => log.find((e) => e.version === l.version)?.recordedAt),
    'each line has the time its event was recorded',
  );
});

t.test('the oldest event loaded, if it may be the second half of an edit, waits for the older events', async (t) => {
  version = 10;
  const window = [ev('ExpenseAdded', expense('e3', 'Lunch', 900), 'bob', 'x'), ev('ExpenseAdded', expense('e4', 'Bus', 300), 'ann')];
  t.same(
    activityLines(window, 'EUR', nameOf).map((l) => l.text),
    ['Ann added Bus (€3.00)'],
  );
  version = 9;
  const withOlder = [ev('ExpenseDeleted', { expenseId: 'e3' }, 'bob', 'x'), ...window];
  t.same(
    activityLines(withOlder, 'EUR', nameOf).map((l) => l.text),
    ['Ann added Bus (€3.00)', 'Bob edited Lunch (€9.00)'],
  );
  version = 0;
  t.same(
    activityLines([ev('ExpenseAdded', expense('y', 'Yen', 700), 'ann')], 'JPY', nameOf).map((l) => l.text),
    ['Ann added Yen (¥700)'],
    'the first event of a group is never waited on; amounts in the group currency',
  );
});
