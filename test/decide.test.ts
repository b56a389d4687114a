import t from 'tap';
import { decide, DomainError, emptyState, fold, type GroupCommand, type GroupState } from '../src/commands/index.js';
import type { ExpenseAdded, GroupEvent } from '../src/events/index.js';

// Given events → when command → then events (or a refusal). No database involved.
const NOW = '2026-11-24T10:00:00.000Z';
const created = (currency = 'USD', members = ['a', 'b', 'c']): GroupEvent => ({
  type: 'GroupCreated',
  data: { groupId: 'g', name: 'Trip', currency, members: members.map((userId) => ({ userId, name: userId.toUpperCase() })) },
});
const given = (...events: GroupEvent[]): GroupState => fold(events, emptyState());
const add = (input: Partial<Extract<GroupCommand, { type: 'AddExpense' }>['input']>, expenseId = 'e1'): GroupCommand => ({
  type: 'AddExpense',
  expenseId,
  now: NOW,
  input: { description: 'Dinner', amount: '10.00', paidBy: 'a', split: { mode: 'equal' }, ...input },
});
const added = (events: GroupEvent[]): ExpenseAdded => {
  const event = events.find((e) => e.type === 'ExpenseAdded');
  if (!event || event.type !== 'ExpenseAdded') throw new Error('no ExpenseAdded');
  return event.data;
};
const shares = (events: GroupEvent[]) => added(events).shares.map((s) => [s.userId, s.amountMinor]);
const refusal = (fn: () => unknown): { status: number; code: string; path?: string } => {
  try {
    fn();
  } catch (error) {
    if (error instanceof DomainError) return { status: error.status, code: error.code, path: error.errors[0]?.path };
    throw error;
  }
  return { status: 0, code: 'ACCEPTED' };
};

t.test('equal split of 10.00 among three: 3.34 / 3.33 / 3.33, leftover to the first', async (t) => {
  const events = decide(add({}), given(created()));
  t.equal(events.length, 1);
  t.same(shares(events), [
    ['a', 334],
    ['b', 333],
    ['c', 333],
  ]);
  t.same(added(events).payers, [{ userId: 'a', amountMinor: 1000 }]);
  t.same(added(events).split, { mode: 'equal', among: ['a', 'b', 'c'] }, 'the default "all members" is recorded');
  t.equal(added(events).occurredAt, NOW, 'occurredAt defaults to the command clock');
  t.same(
    shares(decide(add({ split: { mode: 'equal', among: ['c', 'a', 'b'] } }), given(created()))),
    [
      ['c', 334],
      ['a', 333],
      ['b', 333],
    ],
    'ties follow request order',
  );
});

t.test('JPY has no minor digits; KWD has three', async (t) => {
  t.same(shares(decide(add({ amount: '1000' }), given(created('JPY')))), [
    ['a', 334],
    ['b', 333],
    ['c', 333],
  ]);
  t.match(
    refusal(() => decide(add({ amount: '1000.5' }), given(created('JPY')))),
    { status: 400, code: 'TOO_MANY_DECIMALS', path: 'amount' },
  );
  t.same(shares(decide(add({ amount: '1.000' }), given(created('KWD')))), [
    ['a', 334],
    ['b', 333],
    ['c', 333],
  ]);
  t.same(shares(decide(add({ amount: '0.010' }), given(created('KWD')))), [
    ['a', 4],
    ['b', 3],
    ['c', 3],
  ]);
  t.match(
    refusal(() => decide(add({ amount: '1.0001' }), given(created('KWD')))),
    { code: 'TOO_MANY_DECIMALS' },
  );
});

t.test('percent: up to two decimals, exactly 100 in total, largest remainder', async (t) => {
  const split = {
    mode: 'percent' as const,
    shares: [
      { userId: 'a', percent: '33.33' },
      { userId: 'b', percent: '33.33' },
      { userId: 'c', percent: '33.34' },
    ],
  };
  t.same(shares(decide(add({ amount: '100.00', split }), given(created()))), [
    ['a', 3333],
    ['b', 3333],
    ['c', 3334],
  ]);
  t.same(shares(decide(add({ amount: '0.01', split }), given(created()))), [
    ['a', 0],
    ['b', 0],
    ['c', 1],
  ]);
  const half = {
    mode: 'percent' as const,
    shares: [
      { userId: 'a', percent: '50' },
      { userId: 'b', percent: '50.00' },
    ],
  };
  t.same(shares(decide(add({ amount: '0.03', split: half }), given(created()))), [
    ['a', 2],
    ['b', 1],
  ]);
  t.match(
    refusal(() =>
      decide(
        add({
          split: {
            mode: 'percent',
            shares: [
              { userId: 'a', percent: '50' },
              { userId: 'b', percent: '49.99' },
            ],
          },
        }),
        given(created()),
      ),
    ),
    { code: 'SPLIT_SUM_MISMATCH' },
  );
  t.match(
    refusal(() => decide(add({ split: { mode: 'percent', shares: [{ userId: 'a', percent: '100.001' }] } }), given(created()))),
    { code: 'TOO_MANY_DECIMALS', path: 'split/shares/0/percent' },
  );
});

t.test('shares: integer weights', async (t) => {
  const split = {
    mode: 'shares' as const,
    shares: [
      { userId: 'a', weight: 1 },
      { userId: 'b', weight: 2 },
    ],
  };
  t.same(shares(decide(add({ amount: '10.00', split }), given(created()))), [
    ['a', 333],
    ['b', 667],
  ]);
  const three = {
    mode: 'shares' as const,
    shares: [
      { userId: 'a', weight: 2 },
      { userId: 'b', weight: 1 },
      { userId: 'c', weight: 1 },
    ],
  };
  t.same(shares(decide(add({ amount: '1.01', split: three }), given(created()))), [
    ['a', 51],
    ['b', 25],
    ['c', 25],
  ]);
});

t.test('exact amounts must add up to the total', async (t) => {
  const split = {
    mode: 'exact' as const,
    shares: [
      { userId: 'a', amount: '2.50' },
      { userId: 'c', amount: '7.50' },
    ],
  };
  t.same(shares(decide(add({ split }), given(created()))), [
    ['a', 250],
    ['c', 750],
  ]);
  t.match(
    refusal(() => decide(add({ split: { mode: 'exact', shares: [{ userId: 'a', amount: '2.50' }] } }), given(created()))),
    { status: 400, code: 'SPLIT_SUM_MISMATCH' },
  );
});

t.test('several payers', async (t) => {
  const payers = [
    { userId: 'a', amount: '6.00' },
    { userId: 'b', amount: '4.00' },
  ];
  const events = decide(add({ paidBy: undefined, payers }), given(created()));
  t.same(added(events).payers, [
    { userId: 'a', amountMinor: 600 },
    { userId: 'b', amountMinor: 400 },
  ]);
  t.match(
    refusal(() => decide(add({ paidBy: undefined, payers: [{ userId: 'a', amount: '6.00' }] }), given(created()))),
    { code: 'PAYERS_SUM_MISMATCH' },
  );
  t.match(
    refusal(() => decide(add({ payers }), given(created()))),
    { code: 'VALIDATION_FAILED', path: 'paidBy' },
    'not both paidBy and payers',
  );
  t.match(
    refusal(() =>
      decide(
        add({
          paidBy: undefined,
          payers: [
            { userId: 'a', amount: '5' },
            { userId: 'a', amount: '5' },
          ],
        }),
        given(created()),
      ),
    ),
    { code: 'DUPLICATE_MEMBER' },
  );
});

t.test('unknown members, bad amounts and huge amounts are refused', async (t) => {
  const state = given(created());
  t.match(
    refusal(() => decide(add({ paidBy: 'zed' }), state)),
    { status: 400, code: 'UNKNOWN_MEMBER', path: 'paidBy/0' },
  );
  t.match(
    refusal(() => decide(add({ split: { mode: 'equal', among: ['a', 'zed'] } }), state)),
    { code: 'UNKNOWN_MEMBER', path: 'split/among/1' },
  );
  t.match(
    refusal(() => decide(add({ amount: '-1.00' }), state)),
    { code: 'INVALID_AMOUNT' },
  );
  t.match(
    refusal(() => decide(add({ amount: '0' }), state)),
    { code: 'AMOUNT_OUT_OF_RANGE' },
  );
  t.match(
    refusal(() => decide(add({ amount: '10000000000.01' }), state)),
    { code: 'AMOUNT_OUT_OF_RANGE' },
  );
  t.same(shares(decide(add({ amount: '10000000000.00', split: { mode: 'equal', among: ['a'] } }), state)), [['a', 1e12]], '10^12 minor units is the limit');
  t.match(
    refusal(() => decide(add({ occurredAt: '2026-02-30T10:00:00Z' }), state)),
    { code: 'VALIDATION_FAILED', path: 'occurredAt' },
  );
});

t.test('payments move money from one member to one other', async (t) => {
  const state = given(created());
  const payment = decide(add({ kind: 'payment', amount: '5.00', paidBy: 'b', split: { mode: 'equal', among: ['a'] } }), state);
  t.equal(added(payment).kind, 'payment');
  t.same(shares(payment), [['a', 500]]);
  t.match(
    refusal(() => decide(add({ kind: 'payment', paidBy: 'a', split: { mode: 'equal', among: ['a'] } }), state)),
    { code: 'INVALID_PAYMENT' },
  );
  t.match(
    refusal(() => decide(add({ kind: 'payment', paidBy: 'a', split: { mode: 'equal', among: ['b', 'c'] } }), state)),
    { code: 'INVALID_PAYMENT' },
  );
  t.match(
    refusal(() =>
      decide(
        add({
          kind: 'payment',
          paidBy: undefined,
          payers: [
            { userId: 'a', amount: '5' },
            { userId: 'b', amount: '5' },
          ],
          split: { mode: 'equal', among: ['c'] },
        }),
        state,
      ),
    ),
    { code: 'INVALID_PAYMENT' },
  );
});

t.test('retries and conflicts on an expense id', async (t) => {
  const first = decide(add({ occurredAt: '2026-11-20T12:00:00Z' }), given(created()));
  const state = given(created(), ...first);
  t.same(decide(add({ occurredAt: '2026-11-20T12:00:00Z' }), state), [], 'same id, same content: nothing to append');
  t.same(decide(add({}), state), [], 'same id, occurredAt omitted on retry: still the same expense');
  t.match(
    refusal(() => decide(add({ amount: '11.00' }), state)),
    { status: 409, code: 'EXPENSE_ID_CONFLICT' },
  );
});

t.test('edit appends ExpenseDeleted + ExpenseAdded; delete once', async (t) => {
  const state = given(created(), ...decide(add({}), given(created())));
  const edit: GroupCommand = {
    type: 'EditExpense',
    expenseId: 'e1',
    now: NOW,
    input: { description: 'Dinner', amount: '12.00', paidBy: 'b', split: { mode: 'equal' } },
  };
  const events = decide(edit, state);
  t.same(
    events.map((e) => e.type),
    ['ExpenseDeleted', 'ExpenseAdded'],
  );
  t.same(shares(events), [
    ['a', 400],
    ['b', 400],
    ['c', 400],
  ]);
  const edited = given(created(), ...decide(add({}), given(created())), ...events);
  t.same(decide(edit, edited), [], 'the same edit again changes nothing');

  const del: GroupCommand = { type: 'DeleteExpense', expenseId: 'e1' };
  const deleted = fold(decide(del, edited), edited);
  t.match(
    refusal(() => decide(del, deleted)),
    { status: 409, code: 'EXPENSE_ALREADY_DELETED' },
  );
  t.match(
    refusal(() => decide(edit, deleted)),
    { status: 409, code: 'EXPENSE_ALREADY_DELETED' },
  );
  t.match(
    refusal(() => decide({ type: 'DeleteExpense', expenseId: 'nope' }, deleted)),
    { status: 404, code: 'EXPENSE_NOT_FOUND' },
  );
  t.match(
    refusal(() => decide({ ...edit, expenseId: 'nope' }, deleted)),
    { status: 404, code: 'EXPENSE_NOT_FOUND' },
  );
});

t.test('groups and members', async (t) => {
  t.match(
    refusal(() => decide({ type: 'CreateGroup', groupId: 'g', name: 'x', currency: 'USD', members: [] }, given(created()))),
    { status: 409, code: 'GROUP_ALREADY_EXISTS' },
  );
  t.match(
    refusal(() => decide({ type: 'AddMember', member: { userId: 'd', name: 'D' } }, emptyState())),
    { status: 404 },
  );
  t.same(decide({ type: 'AddMember', member: { userId: 'a', name: 'A' } }, given(created())), [], 'already a member');
  const joined = given(created(), ...decide({ type: 'AddMember', member: { userId: 'd', name: 'D' } }, given(created())));
  t.equal(joined.group?.version, 2);
  t.same(
    shares(decide(add({ amount: '1.00' }), joined)),
    [
      ['a', 25],
      ['b', 25],
      ['c', 25],
      ['d', 25],
    ],
    'equal split defaults to every current member',
  );
});

t.test('the group life cycle: rename, archive, open again, remove and leave', async (t) => {
  const group = created('EUR');
  t.same(decide({ type: 'UpdateGroup', name: 'Rome' }, given(group)), [{ type: 'GroupRenamed', data: { name: 'Rome' } }]);
  t.same(decide({ type: 'UpdateGroup', name: 'Trip' }, given(group)), [], 'the same name: nothing to append');
  t.same(decide({ type: 'UpdateGroup', name: 'Rome', archived: true }, given(group)), [
    { type: 'GroupRenamed', data: { name: 'Rome' } },
    { type: 'GroupArchived', data: {} },
  ]);

  const archived = given(group, { type: 'GroupArchived', data: {} });
  t.same(
    refusal(() => decide(add({}), archived)),
    { status: 409, code: 'GROUP_ARCHIVED', path: undefined },
    'an archived group is read-only',
  );
  t.same(
    refusal(() => decide({ type: 'AddMember', member: { userId: 'd', name: 'D' } }, archived)),
    { status: 409, code: 'GROUP_ARCHIVED', path: undefined },
  );
  t.same(
    refusal(() => decide({ type: 'RemoveMember', userId: 'b', actorUserId: 'a' }, archived)),
    { status: 409, code: 'GROUP_ARCHIVED', path: undefined },
  );
  t.same(
    refusal(() => decide({ type: 'UpdateGroup', name: 'Rome' }, archived)),
    { status: 409, code: 'GROUP_ARCHIVED', path: undefined },
  );
  t.same(decide({ type: 'UpdateGroup', archived: true }, archived), [], 'archiving again changes nothing');
  t.same(decide({ type: 'UpdateGroup', name: 'Rome', archived: false }, archived), [
    { type: 'GroupUnarchived', data: {} },
    { type: 'GroupRenamed', data: { name: 'Rome' } },
  ]);

  const owing = given(group, { type: 'ExpenseAdded', data: added(decide(add({ amount: '9.00' }), given(group))) });
  const removeB = { type: 'RemoveMember', userId: 'b', actorUserId: 'a' } as const;
  const messageOf = (command: GroupCommand): string | undefined => {
    try {
      decide(command, owing);
    } catch (error) {
      return error instanceof DomainError ? `${error.status} ${error.code}: ${error.message}` : String(error);
    }
    return undefined;
  };
  t.equal(messageOf(removeB), '409 MEMBER_HAS_BALANCE: B cannot be removed while their balance is not zero: B owes 3.00 EUR; settle up first');
  t.equal(
    messageOf({ type: 'RemoveMember', userId: 'a', actorUserId: 'a' }),
    '409 MEMBER_HAS_BALANCE: you cannot leave while your balance is not zero: you are owed 6.00 EUR; settle up first',
  );

  t.same(decide(removeB, given(group)), [{ type: 'MemberRemoved', data: { userId: 'b' } }], 'a zero balance: removed');
  t.same(decide({ type: 'RemoveMember', userId: 'c', actorUserId: 'c' }, given(group)), [{ type: 'MemberRemoved', data: { userId: 'c' } }], 'leaving');
  const withoutB = given(group, { type: 'MemberRemoved', data: { userId: 'b' } });
  t.same(
    refusal(() => decide(removeB, withoutB)),
    { status: 404, code: 'MEMBER_NOT_FOUND', path: undefined },
  );
  t.same(
    refusal(() => decide(add({ paidBy: 'b' }), withoutB)),
    { status: 400, code: 'UNKNOWN_MEMBER', path: 'paidBy/0' },
    'no longer in new expenses',
  );
  t.same(
    added(decide(add({}), withoutB)).shares.map((s) => s.userId),
    ['a', 'c'],
    'nor in the default equal split',
  );
  t.same(
    decide({ type: 'AddMember', member: { userId: 'b', name: 'B' } }, withoutB),
    [{ type: 'MemberAdded', data: { userId: 'b', name: 'B' } }],
    'and can come back',
  );
  // An expense that names someone who left cannot change: it would move their balance.
  const dinner = added(decide(add({ amount: '9.00' }), given(group)));
  const settled = given(
    group,
    { type: 'ExpenseAdded', data: dinner },
    {
      type: 'ExpenseAdded',
      data: added(decide({ ...add({ kind: 'payment', amount: '3.00', paidBy: 'b', split: { mode: 'equal', among: ['a'] } }, 'p1') }, given(group))),
    },
  );
  t.same(decide(removeB, settled), [{ type: 'MemberRemoved', data: { userId: 'b' } }], 'b settled up: removable');
  const afterRemoval = given(
    group,
    { type: 'ExpenseAdded', data: dinner },
    {
      type: 'ExpenseAdded',
      data: added(decide({ ...add({ kind: 'payment', amount: '3.00', paidBy: 'b', split: { mode: 'equal', among: ['a'] } }, 'p1') }, given(group))),
    },
    { type: 'MemberRemoved', data: { userId: 'b' } },
  );
  t.same(
    refusal(() => decide({ type: 'DeleteExpense', expenseId: 'e1' }, afterRemoval)),
    { status: 409, code: 'EXPENSE_NAMES_FORMER_MEMBER', path: undefined },
  );
  t.same(
    refusal(() =>
      decide(
        { type: 'EditExpense', expenseId: 'e1', now: NOW, input: { description: 'Dinner', amount: '6.00', paidBy: 'a', split: { mode: 'equal' } } },
        afterRemoval,
      ),
    ),
    {
      status: 409,
      code: 'EXPENSE_NAMES_FORMER_MEMBER',
      path: undefined,
    },
  );
  t.equal(afterRemoval.balances.get('b'), 0n, 'so the balance of the one who left stays zero');

  const alone = given(created('EUR', ['a']));
  t.same(
    refusal(() => decide({ type: 'RemoveMember', userId: 'a', actorUserId: 'a' }, alone)),
    { status: 409, code: 'LAST_MEMBER', path: undefined },
  );
});

t.test('name-only members: in expenses like anyone; claimed through a link by an account that takes their place', async (t) => {
  const group = created('EUR', ['a', 'b']);
  const addDan = decide({ type: 'AddMember', member: { userId: 'guest_1', name: 'Dan', nameOnly: true }, invitedBy: 'a' }, given(group));
  t.same(addDan, [{ type: 'MemberAdded', data: { userId: 'guest_1', name: 'Dan', invitedBy: 'a', nameOnly: true } }]);
  const withDan = given(group, ...addDan);
  const taxi = decide(add({ amount: '9.00', paidBy: 'guest_1' }), withDan);
  t.same(shares(taxi), [
    ['a', 300],
    ['b', 300],
    ['guest_1', 300],
  ]);
  const before = given(group, ...addDan, ...taxi);
  const claim = (userId: string, nameOnlyId = 'guest_1', invitedBy = 'a'): GroupCommand => ({
    type: 'ClaimMember',
    nameOnlyId,
    member: { userId, name: userId.toUpperCase() },
    invitedBy,
  });
  const claimed = decide(claim('d'), before);
  t.same(claimed, [{ type: 'MemberClaimed', data: { nameOnlyId: 'guest_1', userId: 'd', name: 'D', invitedBy: 'a' } }], 'one event records the claim');
  const after = given(group, ...addDan, ...taxi, ...claimed);
  t.same(
    after.members.map((m) => m.userId),
    ['a', 'b', 'd'],
    'the account has the same place',
  );
  t.equal(after.balances.get('d'), 600n, 'and what Dan was owed');
  t.notOk(after.balances.has('guest_1'));
  t.same(
    after.expenses.get('e1')?.data.payers.map((p) => p.userId),
    ['d'],
    'and his history',
  );
  t.same(decide(claim('d'), after), [], 'claiming again is a retry: nothing appended');
  t.same(
    decide({ type: 'DeleteExpense', expenseId: 'e1' }, after),
    [{ type: 'ExpenseDeleted', data: { expenseId: 'e1' } }],
    'his expenses can be changed: they name a member',
  );

  t.same(
    refusal(() => decide(claim('e'), after)),
    { status: 409, code: 'ALREADY_CLAIMED', path: undefined },
    'a place is claimed once',
  );
  t.same(
    refusal(() => decide(claim('b'), before)),
    { status: 409, code: 'ALREADY_MEMBER', path: undefined },
    'a member cannot take a second place',
  );
  t.same(
    refusal(() => decide(claim('d', 'b'), before)),
    { status: 404, code: 'PLACE_NOT_FOUND', path: undefined },
    "Bob's place is his, and the answer does not say he is a member",
  );
  t.same(
    refusal(() => decide(claim('d', 'guest_9'), before)),
    { status: 404, code: 'PLACE_NOT_FOUND', path: undefined },
  );
  const dLeft = given(group, ...addDan, ...taxi, ...claimed, { type: 'MemberRemoved', data: { userId: 'd' } });
  t.same(
    refusal(() => decide(claim('d'), dLeft)),
    { status: 409, code: 'FORMER_MEMBER', path: undefined },
    'removed after claiming: no retry answer',
  );
  t.same(
    shares(decide(add({ amount: '3.00', paidBy: 'guest_1', split: { mode: 'equal', among: ['a', 'guest_1'] } }, 'e2'), after)),
    [
      ['a', 150],
      ['d', 150],
    ],
    'the old id after the claim means the account',
  );
  t.same(decide(add({ amount: '9.00', paidBy: 'guest_1' }), after), [], 'and a retry sent before the claim is answered as applied');
  t.same(
    refusal(() => decide(claim('d', 'guest_1', 'z'), before)),
    { status: 404, code: 'INVITE_NOT_FOUND', path: undefined },
    "the link's maker left",
  );
  const bLeft = given(group, ...addDan, ...taxi, { type: 'MemberRemoved', data: { userId: 'b' } });
  t.same(
    refusal(() => decide(claim('b'), bLeft)),
    { status: 409, code: 'FORMER_MEMBER', path: undefined },
  );
  const archived = given(group, ...addDan, { type: 'GroupArchived', data: {} });
  t.same(
    refusal(() => decide(claim('d'), archived)),
    { status: 409, code: 'GROUP_ARCHIVED', path: undefined },
  );

  // Name-only members cannot open the group: the last account stays.
  const annAndDan = given(
    created('EUR', ['a']),
    ...decide({ type: 'AddMember', member: { userId: 'guest_1', name: 'Dan', nameOnly: true } }, given(created('EUR', ['a']))),
  );
  t.same(
    refusal(() => decide({ type: 'RemoveMember', userId: 'a', actorUserId: 'a' }, annAndDan)),
    { status: 409, code: 'LAST_MEMBER', path: undefined },
  );
  t.same(
    decide({ type: 'RemoveMember', userId: 'guest_1', actorUserId: 'a' }, annAndDan),
    [{ type: 'MemberRemoved', data: { userId: 'guest_1' } }],
    'Dan can be removed at zero',
  );
});

t.test('a retried AddExpense gets the first answer though the group changed since: archived, or someone in it gone', async (t) => {
  const group = created('EUR');
  const dinner = add({ amount: '9.00' });
  const first = decide(dinner, given(group));
  const settled = [
    ...first,
    ...decide(add({ kind: 'payment', amount: '3.00', paidBy: 'b', split: { mode: 'equal', among: ['a'] } }, 'p1'), given(group, ...first)),
  ];
  const bGone = given(group, ...settled, { type: 'MemberRemoved', data: { userId: 'b' } });
  t.same(decide(dinner, bGone), [], 'b left: the retry still names him, and is answered as applied');
  t.same(decide(dinner, given(group, ...first, { type: 'GroupArchived', data: {} })), [], 'archived: the same');
  t.same(
    refusal(() => decide(add({ amount: '8.00' }), bGone)),
    { status: 409, code: 'EXPENSE_ID_CONFLICT', path: undefined },
    'other content under the same id is still refused',
  );
});
