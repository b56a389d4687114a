import t from 'tap';
import type { EventEnvelope, GroupEvent } from '../src/events/index.js';
import { emptyRows, project, ProjectionError, type GroupRows, type RowChanges } from '../src/projections/projector.js';

// The one projector, pure: given these rows and these events, then these row changes.
// No database involved; the writer's SQL is covered by every test that writes.

const AT = new Date('2026-11-25T12:00:00.000Z');
let nextVersion = 1;
const envelope = (event: GroupEvent): EventEnvelope =>
  ({
    ...event,
    eventId: `e-${nextVersion}`,
    streamId: 'group-g',
    version: nextVersion++,
    schemaVersion: 1,
    metadata: {},
    recordedAt: AT,
    globalPosition: 0n,
  }) as EventEnvelope;

const created: GroupEvent = {
  type: 'GroupCreated',
  data: {
    groupId: 'g',
    name: 'Trip',
    currency: 'EUR',
    members: [
      { userId: 'a', name: 'Ann' },
      { userId: 'b', name: 'Bob' },
    ],
  },
};
const dinner = (expenseId = 'd', amountMinor = 900): GroupEvent => ({
  type: 'ExpenseAdded',
  data: {
    expenseId,
    kind: 'expense',
    description: 'Dinner',
    currency: 'EUR',
    amountMinor,
    payers: [{ userId: 'a', amountMinor }],
    shares: [
      { userId: 'a', amountMinor: amountMinor - Math.floor(amountMinor / 2) },
      { userId: 'b', amountMinor: Math.floor(amountMinor / 2) },
    ],
    split: { mode: 'equal' },
    occurredAt: '2026-11-24T19:00:00.000Z',
  },
});

/** Given these events (projected from nothing), when these events, then these changes. */
function given(...history: GroupEvent[]) {
  nextVersion = 1;
  const rows = history.length === 0 ? emptyRows('g') : project(emptyRows('g'), history.map(envelope)).rows;
  return {
    rows,
    when: (...events: GroupEvent[]) => project(rows, events.map(envelope)),
  };
}

const balances = (changes: RowChanges) => changes.balances.map((b) => [b.userId, b.balance, b.previous]);

t.test('given nothing, when GroupCreated: a group row, two members at positions 0 and 1, zero balances', async (t) => {
  const { changes } = given().when(created);
  t.same(changes.group, { row: { name: 'Trip', currency: 'EUR', version: 1, archived: false, createdAt: AT, updatedAt: AT }, expectedVersion: 0 });
  t.same(changes.newMembers, [
    { userId: 'a', name: 'Ann', joinedVersion: 1, position: 0, removedVersion: null, nameOnly: false, claimedFrom: null },
    { userId: 'b', name: 'Bob', joinedVersion: 1, position: 1, removedVersion: null, nameOnly: false, claimedFrom: null },
  ]);
  t.same(balances(changes), [
    ['a', 0n, undefined],
    ['b', 0n, undefined],
  ]);
  t.same(changes.expenses, []);
});

t.test('given a group, when MemberAdded: the next position, a zero balance, nothing else moves', async (t) => {
  const { changes } = given(created).when({ type: 'MemberAdded', data: { userId: 'c', name: 'Cat' } });
  t.same(changes.newMembers, [{ userId: 'c', name: 'Cat', joinedVersion: 2, position: 2, removedVersion: null, nameOnly: false, claimedFrom: null }]);
  t.same(changes.changedMembers, []);
  t.same(balances(changes), [['c', 0n, undefined]]);
  t.equal(changes.group.expectedVersion, 1);
  t.equal(changes.group.row.version, 2);
});

t.test('given a group, when ExpenseAdded: the expense row and only the balances that moved, each with its previous value', async (t) => {
  const { changes, rows } = given(created).when(dinner());
  t.same(balances(changes), [
    ['a', 450n, 0n],
    ['b', -450n, 0n],
  ]);
  t.match(changes.expenses, [{ expenseId: 'd', previousLastVersion: undefined, row: { amountMinor: 900, deleted: false, firstVersion: 2, lastVersion: 2 } }]);
  t.equal(
    [...rows.balances.values()].reduce((a, b) => a + b, 0n),
    0n,
    'balances sum to zero',
  );
});

t.test('given an expense, when an edit (ExpenseDeleted + ExpenseAdded): one row change, its first version kept, net balance moves', async (t) => {
  const { changes } = given(created, dinner()).when({ type: 'ExpenseDeleted', data: { expenseId: 'd' } }, dinner('d', 1000));
  t.equal(changes.expenses.length, 1, 'the row is written once, as the edit leaves it');
  t.match(changes.expenses[0], { expenseId: 'd', previousLastVersion: 2, row: { amountMinor: 1000, deleted: false, firstVersion: 2, lastVersion: 4 } });
  t.same(balances(changes), [
    ['a', 500n, 450n],
    ['b', -500n, -450n],
  ]);
  t.same(changes.group, { row: { name: 'Trip', currency: 'EUR', version: 4, archived: false, createdAt: AT, updatedAt: AT }, expectedVersion: 2 });
});

t.test('given an expense, when ExpenseDeleted: the row is marked deleted and the balances go back to zero', async (t) => {
  const { changes } = given(created, dinner()).when({ type: 'ExpenseDeleted', data: { expenseId: 'd' } });
  t.match(changes.expenses, [{ expenseId: 'd', previousLastVersion: 2, row: { deleted: true, lastVersion: 3, firstVersion: 2 } }]);
  t.same(balances(changes), [
    ['a', 0n, 450n],
    ['b', 0n, -450n],
  ]);
});

t.test('the group life cycle: renamed, archived and opened again, a member removed and back in the same row', async (t) => {
  const renamed = given(created).when({ type: 'GroupRenamed', data: { name: 'Trip to Rome' } }, { type: 'GroupArchived', data: {} });
  t.same(renamed.changes.group, {
    row: { name: 'Trip to Rome', currency: 'EUR', version: 3, archived: true, createdAt: AT, updatedAt: AT },
    expectedVersion: 1,
  });
  t.same(renamed.changes.newMembers, []);
  t.same(renamed.changes.balances, [], 'no balance moves');
  const opened = given(created, { type: 'GroupArchived', data: {} }).when({ type: 'GroupUnarchived', data: {} });
  t.equal(opened.changes.group.row.archived, false);

  const removed = given(created).when({ type: 'MemberRemoved', data: { userId: 'b' } });
  t.same(removed.changes.changedMembers, [
    {
      row: { userId: 'b', name: 'Bob', joinedVersion: 1, position: 1, removedVersion: 2, nameOnly: false, claimedFrom: null },
      previous: { userId: 'b', name: 'Bob', joinedVersion: 1, position: 1, removedVersion: null, nameOnly: false, claimedFrom: null },
    },
  ]);
  t.same(removed.changes.balances, [], 'their (zero) balance row stays');
  const back = given(created, { type: 'MemberRemoved', data: { userId: 'b' } }).when({ type: 'MemberAdded', data: { userId: 'b', name: 'Bobby' } });
  t.same(back.changes.newMembers, [], 'no second row');
  t.same(back.changes.changedMembers, [
    {
      row: { userId: 'b', name: 'Bobby', joinedVersion: 3, position: 1, removedVersion: null, nameOnly: false, claimedFrom: null },
      previous: { userId: 'b', name: 'Bob', joinedVersion: 1, position: 1, removedVersion: 2, nameOnly: false, claimedFrom: null },
    },
  ]);
});

t.test('a name-only member claimed: the same row and place under the account, their balance and every expense naming them move', async (t) => {
  const addDan: GroupEvent = { type: 'MemberAdded', data: { userId: 'n', name: 'Dan', nameOnly: true } };
  const taxi: GroupEvent = {
    type: 'ExpenseAdded',
    data: {
      expenseId: 't',
      kind: 'expense',
      description: 'Taxi',
      currency: 'EUR',
      amountMinor: 900,
      payers: [{ userId: 'n', amountMinor: 900 }],
      shares: [
        { userId: 'a', amountMinor: 300 },
        { userId: 'b', amountMinor: 300 },
        { userId: 'n', amountMinor: 300 },
      ],
      split: { mode: 'equal', among: ['a', 'b', 'n'] },
      occurredAt: '2026-11-24T20:00:00.000Z',
    },
  };
  const added = given(created, addDan);
  t.same(added.rows.members.at(-1), { userId: 'n', name: 'Dan', joinedVersion: 2, position: 2, removedVersion: null, nameOnly: true, claimedFrom: null });
  const { changes, rows } = given(created, addDan, dinner(), taxi).when({ type: 'MemberClaimed', data: { nameOnlyId: 'n', userId: 'd', name: 'Daniel' } });
  t.same(changes.newMembers, [], 'no new row: the account takes the same one');
  t.same(changes.changedMembers, [
    {
      row: { userId: 'd', name: 'Daniel', joinedVersion: 2, position: 2, removedVersion: null, nameOnly: false, claimedFrom: 'n' },
      previous: { userId: 'n', name: 'Dan', joinedVersion: 2, position: 2, removedVersion: null, nameOnly: true, claimedFrom: null },
    },
  ]);
  t.same(balances(changes), [['d', 600n, undefined]], "the account's balance row holds what Dan was owed");
  t.same(changes.droppedBalances, [{ userId: 'n', previous: 600n }], "and Dan's goes");
  t.equal(changes.expenses.length, 1, 'only the expense that names Dan is rewritten');
  t.same(changes.expenses[0], {
    expenseId: 't',
    previousLastVersion: 4,
    row: {
      kind: 'expense',
      description: 'Taxi',
      currency: 'EUR',
      amountMinor: 900,
      occurredAt: '2026-11-24T20:00:00.000Z',
      deleted: false,
      firstVersion: 4,
      payers: [{ userId: 'd', amountMinor: 900 }],
      shares: [
        { userId: 'a', amountMinor: 300 },
        { userId: 'b', amountMinor: 300 },
        { userId: 'd', amountMinor: 300 },
      ],
      split: { mode: 'equal', among: ['a', 'b', 'd'] },
      lastVersion: 4,
    },
  });
  t.equal(
    [...rows.balances.values()].reduce((a, b) => a + b, 0n),
    0n,
    'balances still sum to zero',
  );
  t.throws(
    () => given(created).when({ type: 'MemberClaimed', data: { nameOnlyId: 'b', userId: 'd', name: 'Daniel' } }),
    /not a name-only member/,
    'Bob has an account',
  );
  t.throws(
    () => given(created, addDan).when({ type: 'MemberClaimed', data: { nameOnlyId: 'n', userId: 'a', name: 'Ann' } }),
    /they already have/,
    'Ann is in already',
  );
});

t.test('the projector refuses events that cannot apply to the rows it was given', async (t) => {
  const refuses = (rows: GroupRows, event: GroupEvent, pattern: RegExp, version = (rows.group?.version ?? 0) + 1) => {
    let thrown: unknown;
    try {
      project(rows, [{ ...envelope(event), version }]);
    } catch (error) {
      thrown = error;
    }
    t.ok(thrown instanceof ProjectionError && pattern.test(thrown.message), `refused: ${pattern.source} (${String(thrown)})`);
  };
  const withDinner = given(created, dinner()).rows;
  refuses(withDinner, dinner(), /already live/);
  refuses(withDinner, { type: 'ExpenseDeleted', data: { expenseId: 'nope' } }, /not live/);
  refuses(withDinner, { type: 'MemberAdded', data: { userId: 'a', name: 'Ann again' } }, /joins group g twice/);
  refuses(withDinner, { type: 'MemberRemoved', data: { userId: 'zed' } }, /leaves group g without being a member/);
  refuses(given(created, { type: 'MemberRemoved', data: { userId: 'b' } }).rows, { type: 'MemberRemoved', data: { userId: 'b' } }, /without being a member/);
  refuses(
    withDinner,
    { ...dinner('x'), data: { ...(dinner('x').data as object), shares: [{ userId: 'zed', amountMinor: 900 }] } } as GroupEvent,
    /not a member/,
  );
  refuses(given().rows, dinner(), /before GroupCreated/);
  refuses(withDinner, dinner('late'), /expected version 3, the log has 7/, 7);
  t.equal(withDinner.expenses.get('d')?.deleted, false, 'the rows given are never changed');
});
