import t from 'tap';
import { auditUser } from '../src/replay/audit.js';
import { useTestApp } from './helpers/app.js';

// Members who are only a name (issue #13 §3): a friend without an account is added by
// name, takes part in expenses like anyone, and later claims the place through an invite
// link made for it; their balance and history move to the account, recorded by one
// MemberClaimed. Only a link made for the place takes it.

const ctx = useTestApp(t);

t.test('a friend added by name shares costs, then claims the place: balance and history move to the account, one event', async (t) => {
  const ann = await ctx.api.signUp('Ann', 'no-ann');
  const bob = await ctx.api.signUp('Bob', 'no-bob');
  await ann.api.post('/groups', { groupId: 'no-trip', name: 'Lisbon', currency: 'EUR', members: ['no-bob'] });

  const added = await ann.api.post('/groups/no-trip/members', { name: 'Dan' }, { 'idempotency-key': 'add-dan' });
  t.equal(added.status, 201);
  const dan = added.body.members.at(-1);
  t.match(dan, { userId: /^guest_[0-9a-f-]{36}$/, name: 'Dan', nameOnly: true });
  t.match(added.body.members[0], { userId: 'no-ann', nameOnly: false });
  const again = await ann.api.post('/groups/no-trip/members', { name: 'Dan' }, { 'idempotency-key': 'add-dan' });
  t.equal(again.body.members.length, 3, 'a retried add (same key) adds nobody');

  // Dan paid the taxi for all three; Ann paid dinner for Bob and Dan.
  t.equal((await ann.api.post('/groups/no-trip/expenses', { description: 'Taxi', amount: '9.00', paidBy: dan.userId, split: { mode: 'equal' } })).status, 201);
  const dinner = await ann.api.post('/groups/no-trip/expenses', {
    description: 'Dinner',
    amount: '10.00',
    paidBy: 'no-ann',
    split: {
      mode: 'exact',
      shares: [
        { userId: 'no-bob', amount: '4.00' },
        { userId: dan.userId, amount: '6.00' },
      ],
    },
  });
  t.equal(dinner.status, 201);
  const balancesBefore = (await bob.api.get('/groups/no-trip/balances')).body.balances;
  t.match(balancesBefore, [
    { userId: 'no-ann', balance: '7.00' },
    { userId: 'no-bob', balance: '-7.00' },
    { userId: dan.userId, name: 'Dan', balance: '0.00' },
  ]);

  const made = await ann.api.post('/groups/no-trip/invites', { forMember: dan.userId });
  t.equal(made.status, 201);
  t.same(made.body.place, { userId: dan.userId, name: 'Dan', taken: false });
  const link = made.body.token as string;
  const shown = await ctx.api.get(`/invites/${link}`);
  t.same(shown.body.place, { userId: dan.userId, name: 'Dan', taken: false }, 'the link says whose place it gives');
  t.same(
    (await bob.api.get('/groups/no-trip/invites')).body.items.map((i: { place: unknown }) => i.place),
    [{ userId: dan.userId, name: 'Dan', taken: false }],
    'and so does the list',
  );

  const daniel = await ctx.api.signUp('Daniel', 'no-daniel');
  const versionBefore = (await ctx.env.eventsOf('no-trip')).length;
  const claimed = await daniel.api.post(`/invites/${link}/accept`, undefined, { 'idempotency-key': 'claim-1' });
  t.equal(claimed.status, 201);
  t.same(
    claimed.body.members.map((m: { userId: string; name: string; nameOnly: boolean }) => [m.userId, m.name, m.nameOnly]),
    [
      ['no-ann', 'Ann', false],
      ['no-bob', 'Bob', false],
      ['no-daniel', 'Daniel', false],
    ],
    "Daniel has Dan's place",
  );
  const events = await ctx.env.eventsOf('no-trip');
  t.equal(events.length, versionBefore + 1, 'one event');
  t.match(events.at(-1), {
    type: 'MemberClaimed',
    data: { nameOnlyId: dan.userId, userId: 'no-daniel', name: 'Daniel', invitedBy: 'no-ann' },
    metadata: { actorUserId: 'no-daniel' },
  });

  t.match((await daniel.api.get('/groups/no-trip/balances')).body.balances, [
    { userId: 'no-ann', balance: '7.00' },
    { userId: 'no-bob', balance: '-7.00' },
    { userId: 'no-daniel', name: 'Daniel', balance: '0.00' },
  ]);
  const expenses = (await daniel.api.get('/groups/no-trip/expenses')).body.items as {
    description: string;
    payers: { userId: string }[];
    shares: { userId: string }[];
    split: unknown;
  }[];
  const taxi = expenses.find((e) => e.description === 'Taxi');
  t.same(
    taxi?.payers.map((p) => p.userId),
    ['no-daniel'],
    'his history names him',
  );
  t.same(
    expenses.find((e) => e.description === 'Dinner')?.split,
    {
      mode: 'exact',
      shares: [
        { userId: 'no-bob', amount: '4.00' },
        { userId: 'no-daniel', amount: '6.00' },
      ],
    },
    'the split too',
  );
  t.notOk(JSON.stringify(expenses).includes(dan.userId), 'no expense names Dan any more');
  t.equal((await daniel.api.get('/me')).body.groups[0]?.groupId, 'no-trip', 'the group is on his home page');

  t.equal((await daniel.api.post(`/invites/${link}/accept`, undefined, { 'idempotency-key': 'claim-1' })).status, 201, 'a retry gets the first answer');
  t.equal((await daniel.api.post(`/invites/${link}/accept`)).status, 200, 'claiming again without a key: nothing appended');
  const eve = await ctx.api.signUp('Eve', 'no-eve');
  const twice = await eve.api.post(`/invites/${link}/accept`);
  t.equal(twice.status, 409);
  t.equal(twice.body.code, 'ALREADY_CLAIMED');
  t.same((await ctx.api.get(`/invites/${link}`)).body.place, { userId: dan.userId, name: 'Daniel', taken: true }, 'the link says the place is taken');
  t.equal((await ctx.env.eventsOf('no-trip')).length, versionBefore + 1, 'the refusals appended nothing');

  // His expenses are his to change now.
  const taxiId = (await daniel.api.get('/groups/no-trip/expenses')).body.items.find((e: { description: string }) => e.description === 'Taxi').expenseId;
  const edit = await daniel.api.put(`/groups/no-trip/expenses/${taxiId}`, {
    description: 'Taxi to the airport',
    amount: '12.00',
    paidBy: 'no-daniel',
    split: { mode: 'equal' },
  });
  t.equal(edit.status, 200);

  t.same((await ctx.env.verify({ groupId: 'no-trip' })).mismatches, [], 'replay verify: the projection matches the log');
  const audit = await auditUser(ctx.env.database.db, 'no-trip', 'no-daniel', { eventLog: ctx.env.double ? ctx.env.eventLog : undefined });
  t.equal(audit?.matches, true, "the audit of Daniel's balance matches");
  t.same(
    audit?.entries.map((e) => [e.description, e.delta]),
    [
      ['Taxi', '6.00'],
      ['Dinner', '-6.00'],
      ['Taxi', '-6.00'],
      ['Taxi to the airport', '8.00'],
    ],
    "and explains it from Dan's first expense on",
  );
  const rebuilt = await ctx.env.rebuild({ groupId: 'no-trip' });
  t.ok(rebuilt, 'rebuilt from the log');
  t.same((await ctx.env.verify({ groupId: 'no-trip' })).mismatches, [], 'and verified again after the rebuild');
  t.match((await daniel.api.get('/groups/no-trip/balances')).body.balances, [
    { userId: 'no-ann', balance: '6.00' },
    { userId: 'no-bob', balance: '-8.00' },
    { userId: 'no-daniel', balance: '2.00' },
  ]);
});

t.test('what cannot be claimed or added, and who may not', async (t) => {
  const ann = await ctx.api.signUp('Ann', 'nr-ann');
  const bob = await ctx.api.signUp('Bob', 'nr-bob');
  const eve = await ctx.api.signUp('Eve', 'nr-eve');
  await ann.api.post('/groups', { groupId: 'nr-g', name: 'Flat', currency: 'EUR', members: ['nr-bob'] });
  const cy = (await ann.api.post('/groups/nr-g/members', { name: 'Cy' })).body.members.at(-1).userId as string;
  const forCy = (await ann.api.post('/groups/nr-g/invites', { forMember: cy })).body.token as string;
  const general = (await ann.api.post('/groups/nr-g/invites', {})).body.token as string;
  t.same((await ctx.api.get(`/invites/${general}`)).body.place, null, 'a link to join as oneself');
  const versions = (await ctx.env.eventsOf('nr-g')).length;

  const refused = async (response: Promise<{ status: number; body: { code?: string } }>, status: number, code?: string) => {
    const { status: got, body } = await response;
    t.equal(got, status, `${status} ${code ?? ''}`);
    if (code) t.equal(body.code, code);
  };
  await refused(bob.api.post(`/invites/${forCy}/accept`), 409, 'ALREADY_MEMBER');
  await refused(eve.api.post(`/invites/${general}/accept`, { claim: cy }), 400, 'VALIDATION_FAILED');
  await refused(ctx.api.post(`/invites/${forCy}/accept`), 401);
  await refused(ann.api.post('/groups/nr-g/invites', { forMember: 'nr-bob' }), 404, 'PLACE_NOT_FOUND');
  await refused(ann.api.post('/groups/nr-g/invites', { forMember: 'guest_nobody' }), 404, 'PLACE_NOT_FOUND');
  await refused(ann.api.post('/groups/nr-g/invites', { forMember: 'bad id!' }), 400);
  await refused(eve.api.post('/groups/nr-g/invites', { forMember: cy }), 404, 'GROUP_NOT_FOUND');
  await refused(eve.api.post('/groups/nr-g/members', { name: 'Mallory' }), 404, 'GROUP_NOT_FOUND');
  await refused(ctx.api.post('/groups/nr-g/members', { name: 'Mallory' }), 401);
  await refused(ann.api.post('/groups/nr-g/members', { name: '' }), 400);
  await refused(ann.api.post('/groups/nr-g/members', { name: 'Cy', userId: 'nr-eve' }), 400);
  await refused(ann.api.post('/groups/nr-g/members', { userId: cy }), 400, 'UNKNOWN_USER');
  await refused(ctx.api.post('/users', { name: 'Cy', userId: cy }), 400, 'RESERVED_USER_ID');
  await refused(ctx.api.post('/users', { name: 'Gus', userId: 'GUEST_gus' }), 400, 'RESERVED_USER_ID');
  t.equal((await ctx.env.eventsOf('nr-g')).length, versions, 'nothing appended');

  // The last member with an account cannot leave the name-only ones behind.
  await bob.api.delete('/groups/nr-g/members/nr-bob');
  await refused(ann.api.delete('/groups/nr-g/members/nr-ann'), 409, 'LAST_MEMBER');
  // A name-only member at zero can be removed; the link for their place gives nothing then.
  t.equal((await ann.api.delete(`/groups/nr-g/members/${cy}`)).status, 200);
  t.match((await ctx.api.get(`/invites/${forCy}`)).body.place, { userId: cy, taken: true });
  await refused(eve.api.post(`/invites/${forCy}/accept`), 404, 'PLACE_NOT_FOUND');
  t.same((await ctx.env.verify({ groupId: 'nr-g' })).mismatches, []);
});

t.test('after a claim: the old id in a form or a retry means the account; a removed claimer learns nothing; the audit of the place', async (t) => {
  const ann = await ctx.api.signUp('Ann', 'ac-ann');
  await ann.api.post('/groups', { groupId: 'ac-g', name: 'Trip', currency: 'EUR' });
  const dan = (await ann.api.post('/groups/ac-g/members', { name: 'Dan' })).body.members.at(-1).userId as string;
  const lunch = { expenseId: 'ac-lunch', description: 'Lunch', amount: '10.00', paidBy: dan, split: { mode: 'equal' } };
  t.equal((await ann.api.post('/groups/ac-g/expenses', lunch)).status, 201);
  const link = (await ann.api.post('/groups/ac-g/invites', { forMember: dan })).body.token as string;
  const daniel = await ctx.api.signUp('Daniel', 'ac-daniel');
  t.equal((await daniel.api.post(`/invites/${link}/accept`)).status, 201);
  const versions = (await ctx.env.eventsOf('ac-g')).length;

  t.equal((await ann.api.post('/groups/ac-g/expenses', lunch)).status, 200, 'the retry of an expense sent before the claim: the first answer');
  const stale = await ann.api.post('/groups/ac-g/expenses', {
    description: 'Fuel',
    amount: '4.00',
    paidBy: dan,
    split: { mode: 'equal', among: ['ac-ann', dan] },
  });
  t.equal(stale.status, 201, "a form still holding Dan's id after the claim");
  t.match(stale.body.expense, { payers: [{ userId: 'ac-daniel' }], shares: [{ userId: 'ac-ann' }, { userId: 'ac-daniel' }] }, 'records Daniel');
  t.equal((await ctx.env.eventsOf('ac-g')).length, versions + 1);

  // Settle, remove Daniel: the link must not show him the group again.
  const owed = (await ann.api.get('/groups/ac-g/balances')).body.balances.find((b: { userId: string }) => b.userId === 'ac-daniel').balance as string;
  await ann.api.post('/groups/ac-g/expenses', {
    kind: 'payment',
    description: 'Settle',
    amount: owed,
    paidBy: 'ac-ann',
    split: { mode: 'equal', among: ['ac-daniel'] },
  });
  t.equal((await ann.api.delete('/groups/ac-g/members/ac-daniel')).status, 200);
  const back = await daniel.api.post(`/invites/${link}/accept`);
  t.equal(back.status, 409, 'a removed claimer gets a refusal, not the group');
  t.equal(back.body.code, 'FORMER_MEMBER');
  t.notOk(JSON.stringify(back.body).includes('ac-ann'));

  const ofPlace = await auditUser(ctx.env.database.db, 'ac-g', dan, { eventLog: ctx.env.double ? ctx.env.eventLog : undefined });
  t.same(ofPlace?.claimedBy?.userId, 'ac-daniel', "the audit of Dan's place says who took it");
  t.equal(ofPlace?.matches, true, 'and that nothing is served for it since');
  t.same(
    ofPlace?.entries.map((e) => [e.description, e.delta]),
    [['Lunch', '5.00']],
    'each entry once',
  );
  const ofDaniel = await auditUser(ctx.env.database.db, 'ac-g', 'ac-daniel', { eventLog: ctx.env.double ? ctx.env.eventLog : undefined });
  t.equal(ofDaniel?.matches, true);
  t.equal(ofDaniel?.balance, '0.00');
  t.same((await ctx.env.verify({ groupId: 'ac-g' })).mismatches, []);
});
