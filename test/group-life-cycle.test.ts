import t from 'tap';
import { auditUser } from '../src/replay/audit.js';
import { useTestApp } from './helpers/app.js';

// The group life cycle over HTTP (issue #13 §4): rename, archive and open again, remove
// a member or leave, only at a zero balance. Every change is an event, projected,
// verified and audited like the rest; a removed member is a stranger to the group.

const ctx = useTestApp(t);
const expense = (amount: string, paidBy: string, extra: object = {}) => ({ description: `Paid ${amount}`, amount, paidBy, split: { mode: 'equal' }, ...extra });

t.test('rename, archive (read-only, still listed), open again', async (t) => {
  const ann = await ctx.api.signUp('Ann', 'lc-ann');
  const bob = await ctx.api.signUp('Bob', 'lc-bob');
  t.equal((await ann.api.post('/groups', { groupId: 'lc-trip', name: 'Trip', currency: 'EUR', members: ['lc-bob'] })).status, 201);

  const renamed = await bob.api.patch('/groups/lc-trip', { name: '  Rome 2026 ' });
  t.equal(renamed.status, 200);
  t.match(renamed.body, { name: 'Rome 2026', version: 2, archived: false, formerMembers: [] });
  t.equal((await ann.api.get('/groups/lc-trip')).body.name, 'Rome 2026', 'everyone sees the new name');
  t.equal((await bob.api.patch('/groups/lc-trip', { name: 'Rome 2026' })).body.version, 2, 'the same name again: nothing appended');
  const events = await ctx.env.eventsOf('lc-trip');
  t.match(events.at(-1), { type: 'GroupRenamed', data: { name: 'Rome 2026' }, metadata: { actorUserId: 'lc-bob' } });

  const archived = await ann.api.patch('/groups/lc-trip', { archived: true });
  t.equal(archived.status, 200);
  t.equal(archived.body.archived, true);
  for (const [what, res] of [
    ['an expense', await bob.api.post('/groups/lc-trip/expenses', expense('5.00', 'lc-bob'))],
    ['a member', await ann.api.post('/groups/lc-trip/members', { userId: 'lc-ann' })],
    ['a rename', await ann.api.patch('/groups/lc-trip', { name: 'Other' })],
    ['a removal', await ann.api.delete('/groups/lc-trip/members/lc-bob')],
  ] as const) {
    t.equal(res.status, 409, `${what} is refused`);
    t.equal(res.body.code, 'GROUP_ARCHIVED');
    t.match(res.body.detail, /the group "Rome 2026" is archived/);
  }
  t.equal((await ctx.env.eventsOf('lc-trip')).length, 3, 'nothing appended while archived');
  t.equal((await bob.api.get('/groups/lc-trip/balances')).status, 200, 'still readable');
  t.match((await bob.api.get('/me')).body.groups, [{ groupId: 'lc-trip', name: 'Rome 2026', archived: true }], 'still listed, marked archived');

  const opened = await bob.api.patch('/groups/lc-trip', { archived: false, name: 'Rome again' });
  t.match(opened.body, { archived: false, name: 'Rome again', version: 5 });
  t.equal((await bob.api.post('/groups/lc-trip/expenses', expense('5.00', 'lc-bob'))).status, 201, 'writable again');
  t.equal((await ann.api.patch('/groups/lc-trip', {})).status, 400, 'an empty change is refused');
  t.equal((await ann.api.patch('/groups/lc-trip', { name: '\u200b' })).status, 400, 'an invisible name is refused');
  const report = await ctx.env.verify({ groupId: 'lc-trip' });
  t.same(report.mismatches, []);
});

t.test('a member is removed, or leaves, only at a zero balance; then the group is gone for them', async (t) => {
  const ann = await ctx.api.signUp('Ann', 'rm-ann');
  const bob = await ctx.api.signUp('Bob', 'rm-bob');
  const cy = await ctx.api.signUp('Cy', 'rm-cy');
  await ann.api.post('/groups', { groupId: 'rm-flat', name: 'Flat', currency: 'EUR', members: ['rm-bob', 'rm-cy'] });
  t.equal((await ann.api.post('/groups/rm-flat/expenses', expense('9.00', 'rm-ann', { expenseId: 'rent' }))).status, 201);

  const refused = await ann.api.delete('/groups/rm-flat/members/rm-bob');
  t.equal(refused.status, 409);
  t.equal(refused.body.code, 'MEMBER_HAS_BALANCE');
  t.equal(refused.body.detail, 'Bob cannot be removed while their balance is not zero: Bob owes 3.00 EUR; settle up first');
  const leaving = await ann.api.delete('/groups/rm-flat/members/rm-ann');
  t.equal(leaving.body.detail, 'you cannot leave while your balance is not zero: you are owed 6.00 EUR; settle up first');
  t.equal((await ctx.env.eventsOf('rm-flat')).length, 2, 'refusals append nothing');

  // Bob settles up, then Ann removes him.
  await bob.api.post('/groups/rm-flat/expenses', {
    kind: 'payment',
    description: 'Bob pays Ann',
    amount: '3.00',
    paidBy: 'rm-bob',
    split: { mode: 'equal', among: ['rm-ann'] },
  });
  const removed = await ann.api.delete('/groups/rm-flat/members/rm-bob');
  t.equal(removed.status, 200);
  t.same(
    removed.body.members.map((m: { userId: string }) => m.userId),
    ['rm-ann', 'rm-cy'],
  );
  t.same(removed.body.formerMembers, [{ userId: 'rm-bob', name: 'Bob', nameOnly: false }], 'his name stays for his past expenses');
  t.same(
    (await ann.api.get('/groups/rm-flat/balances')).body.balances.map((b: { userId: string }) => b.userId),
    ['rm-ann', 'rm-cy'],
  );
  const rent = (await cy.api.get('/groups/rm-flat/expenses')).body.items.find((e: { expenseId: string }) => e.expenseId === 'rent');
  t.ok(
    rent.shares.some((s: { userId: string }) => s.userId === 'rm-bob'),
    'his share of the rent is still shown',
  );

  // The rent names Bob: changing or deleting it would move his balance, now that he is out.
  const kept = await ann.api.delete('/groups/rm-flat/expenses/rent');
  t.equal(kept.status, 409);
  t.equal(kept.body.code, 'EXPENSE_NAMES_FORMER_MEMBER');
  t.equal((await ann.api.put('/groups/rm-flat/expenses/rent', expense('6.00', 'rm-ann'))).body.code, 'EXPENSE_NAMES_FORMER_MEMBER');

  // To Bob the group is gone, as it is to a stranger.
  for (const path of [
    '/groups/rm-flat',
    '/groups/rm-flat/balances',
    '/groups/rm-flat/expenses',
    '/groups/rm-flat/settlements',
    '/groups/rm-flat/events',
    '/groups/rm-flat/live',
  ]) {
    const res = await bob.api.get(path);
    t.equal(res.status, 404, `GET ${path}: 404`);
  }
  t.equal((await bob.api.post('/groups/rm-flat/expenses', expense('1.00', 'rm-bob'))).status, 404);
  t.equal((await bob.api.patch('/groups/rm-flat', { name: 'Mine' })).status, 404);
  t.same((await bob.api.get('/me')).body.groups, [], 'and off his list');
  t.equal(
    (await ann.api.post('/groups/rm-flat/expenses', expense('2.00', 'rm-ann', { split: { mode: 'equal', among: ['rm-bob'] } }))).status,
    400,
    'no new expense names him',
  );
  t.equal((await ann.api.delete('/groups/rm-flat/members/rm-bob')).body.code, 'MEMBER_NOT_FOUND');

  // Cy leaves (her balance is zero); a retry with the same Idempotency-Key gets the same answer.
  const key = { 'idempotency-key': 'cy-leaves' };
  const left = await cy.api.delete('/groups/rm-flat/members/rm-cy', key);
  t.equal(left.status, 409, 'Cy owes her share of the rent');
  await cy.api.post('/groups/rm-flat/expenses', {
    kind: 'payment',
    description: 'Cy pays Ann',
    amount: '3.00',
    paidBy: 'rm-cy',
    split: { mode: 'equal', among: ['rm-ann'] },
  });
  const key2 = { 'idempotency-key': 'cy-leaves-2' };
  const gone = await cy.api.delete('/groups/rm-flat/members/rm-cy', key2);
  t.equal(gone.status, 200);
  const again = await cy.api.delete('/groups/rm-flat/members/rm-cy', key2);
  t.equal(again.status, 200, 'the retry is answered as the first was');
  t.same(again.body, gone.body);
  t.equal((await cy.api.delete('/groups/rm-flat/members/rm-cy')).status, 404, 'without the key: she is no member any more');

  const last = await ann.api.delete('/groups/rm-flat/members/rm-ann');
  t.equal(last.status, 409);
  t.equal(last.body.code, 'LAST_MEMBER');

  // Bob is added again: the same place in the list, his access back.
  const back = await ann.api.post('/groups/rm-flat/members', { userId: 'rm-bob' });
  t.equal(back.status, 201);
  t.same(
    back.body.members.map((m: { userId: string }) => m.userId),
    ['rm-ann', 'rm-bob'],
  );
  t.same(back.body.formerMembers, [{ userId: 'rm-cy', name: 'Cy', nameOnly: false }]);
  t.equal((await bob.api.get('/groups/rm-flat/balances')).status, 200);

  const types = (await ctx.env.eventsOf('rm-flat')).map((e) => e.type);
  t.same(types.filter((type) => type === 'MemberRemoved').length, 2);
  const report = await ctx.env.verify({ groupId: 'rm-flat' });
  t.same(report.mismatches, [], 'replay verify: the projection matches the log');
  for (const userId of ['rm-ann', 'rm-bob', 'rm-cy']) {
    const audit = await auditUser(ctx.env.database.db, 'rm-flat', userId, { eventLog: ctx.env.double ? ctx.env.eventLog : undefined });
    t.equal(audit?.matches, true, `audit of ${userId} matches`);
  }
});

t.test('the new routes: 401 without a token, 404 for a stranger, 400 for bad ids', async (t) => {
  const ann = await ctx.api.signUp('Ann', 'auth-ann');
  const eve = await ctx.api.signUp('Eve', 'auth-eve');
  await ann.api.post('/groups', { groupId: 'auth-g', name: 'Private', currency: 'EUR' });
  t.equal((await ctx.api.patch('/groups/auth-g', { name: 'x' })).status, 401);
  t.equal((await ctx.api.delete('/groups/auth-g/members/auth-ann')).status, 401);
  t.equal((await eve.api.patch('/groups/auth-g', { name: 'Mine now' })).status, 404);
  t.equal((await eve.api.patch('/groups/auth-g', { archived: true })).status, 404);
  t.equal((await eve.api.delete('/groups/auth-g/members/auth-ann')).status, 404);
  t.equal((await eve.api.delete('/groups/auth-g/members/auth-eve')).status, 404);
  t.equal((await ann.api.delete('/groups/auth-g/members/bad%00id')).status, 400);
  t.equal((await ann.api.patch('/groups/auth-g', { name: 'x', extra: 1 })).status, 400);
  t.equal((await ctx.env.eventsOf('auth-g')).length, 1, 'nothing appended');
});

t.test('verify names a projection that drifted on the life cycle: a name, the archived flag, a removal', async (t) => {
  const ann = await ctx.api.signUp('Ann', 'dr-ann');
  await ctx.api.signUp('Bob', 'dr-bob');
  await ann.api.post('/groups', { groupId: 'dr-g', name: 'Drift', currency: 'EUR', members: ['dr-bob'] });
  await ann.api.delete('/groups/dr-g/members/dr-bob');
  await ann.api.patch('/groups/dr-g', { name: 'Drifted', archived: true });
  t.same((await ctx.env.verify({ groupId: 'dr-g' })).mismatches, []);
  await ctx.env.database.query(`update groups set name = 'Tampered', archived = false where group_id = 'dr-g'`);
  await ctx.env.database.query(`update group_members set removed_version = null where group_id = 'dr-g' and user_id = 'dr-bob'`);
  const report = await ctx.env.verify({ groupId: 'dr-g' });
  t.match(report.mismatches, [
    { kind: 'group', expected: '"Drifted", archived', actual: '"Tampered"' },
    { kind: 'member', userId: 'dr-bob', expected: 'Bob (joined at version 1) (left at version 2)', actual: 'Bob (joined at version 1)' },
  ]);
  await ctx.env.rebuild({ groupId: 'dr-g' });
  await ctx.env.database.query(`update group_members set joined_version = 2 where group_id = 'dr-g' and user_id = 'dr-ann'`);
  t.match((await ctx.env.verify({ groupId: 'dr-g' })).mismatches, [
    { kind: 'member', userId: 'dr-ann', expected: 'Ann (joined at version 1)', actual: 'Ann (joined at version 2)' },
  ]);
  await ctx.env.rebuild({ groupId: 'dr-g' });
  t.same((await ctx.env.verify({ groupId: 'dr-g' })).mismatches, [], 'rebuild repairs it');
  t.equal((await ann.api.get('/groups/dr-g')).body.name, 'Drifted');
});

t.test("verify's own fold calls a log fault what the decisions forbid: a removal at a non-zero balance, a former member's balance moving", async (t) => {
  const { foldEvent, newFold } = await import('../src/replay/fold-group.js');
  const fold = newFold('f');
  const expense = (expenseId: string) => ({
    type: 'ExpenseAdded' as const,
    data: {
      expenseId,
      kind: 'expense' as const,
      description: 'x',
      currency: 'EUR',
      amountMinor: 200,
      payers: [{ userId: 'a', amountMinor: 200 }],
      shares: [
        { userId: 'a', amountMinor: 100 },
        { userId: 'b', amountMinor: 100 },
      ],
      split: { mode: 'equal' as const },
      occurredAt: '2026-11-26T00:00:00.000Z',
    },
  });
  foldEvent(fold, 1, {
    type: 'GroupCreated',
    data: {
      groupId: 'f',
      name: 'F',
      currency: 'EUR',
      members: [
        { userId: 'a', name: 'A' },
        { userId: 'b', name: 'B' },
      ],
    },
  });
  foldEvent(fold, 2, expense('e1'));
  foldEvent(fold, 3, { type: 'MemberRemoved', data: { userId: 'b' } });
  foldEvent(fold, 4, { type: 'ExpenseDeleted', data: { expenseId: 'e1' } });
  t.same(fold.faults, ['b removed at version 3 with a balance of -100 minor units', 'version 4 moves the balance of b, who is no longer a member']);
});
