import t from 'tap';
import { streamIdOf } from '../src/events/index.js';
import { rebuildProjection } from '../src/projections/rebuild.js';
import { auditUser } from '../src/replay/audit.js';
import { verifyProjection } from '../src/replay/verify.js';
import { useTestApp } from './helpers/app.js';

// Event schemas check shape only. An event written before a limit was tightened (an id
// the id rule now refuses, a description longer than 200, an amount above today's
// maximum, more than 500 shares, a weight above 1,000,000) must stay readable to
// verify, audit, rebuild and /events forever.

const ctx = useTestApp(t);

t.test("an old event outside today's input limits still replays everywhere", async (t) => {
  const ann = await ctx.api.signUp('Ann');
  const bob = await ctx.api.signUp('Bob');
  const created = await ann.api.post('/groups', { groupId: 'history', name: 'History', currency: 'EUR', members: [bob.userId] });
  t.equal(created.status, 201);

  // A split spec of 600 entries (today's limit is 500) with weights far above today's 1,000,000.
  const total = 2_000_000_000_000; // above today's 10^12 maximum
  const people = Array.from({ length: 600 }, (_, i) => (i === 0 ? ann.userId : i === 1 ? bob.userId : `old.member:${i}`));
  const oldExpense = {
    expenseId: 'old expense #1', // the id rule refuses spaces and '#'
    kind: 'expense',
    description: 'x'.repeat(300),
    currency: 'EUR',
    amountMinor: total,
    payers: [{ userId: ann.userId, amountMinor: total }],
    shares: [
      { userId: ann.userId, amountMinor: total / 2 },
      { userId: bob.userId, amountMinor: total / 2 },
    ],
    split: { mode: 'shares', shares: people.map((userId) => ({ userId, weight: 5_000_000 })) },
    occurredAt: '2020-01-01T00:00:00.000Z',
  };
  await ctx.env.database.query(
    `insert into events (stream_id, version, event_id, type, schema_version, data, metadata)
     values ($1, 2, gen_random_uuid(), 'ExpenseAdded', 1, $2, '{}')`,
    [streamIdOf('history'), JSON.stringify(oldExpense)],
  );

  // Rebuild projects it; verify agrees; audit explains it; /events and the reads show it.
  const rebuilt = await rebuildProjection(ctx.env.database.db, { groupId: 'history' });
  t.equal(rebuilt.events, 2);
  const verified = await verifyProjection(ctx.env.database.db, { groupId: 'history' });
  t.same(verified.mismatches, [], 'verify reads it and finds the projection right');
  const audit = await auditUser(ctx.env.database.db, 'history', bob.userId);
  t.equal(audit?.balance, '-10000000000.00');
  t.ok(audit?.matches);

  const events = await ann.api.get('/groups/history/events');
  t.equal(events.status, 200);
  t.equal(events.body.items[1].data.expenseId, 'old expense #1');
  const list = await ann.api.get('/groups/history/expenses');
  t.equal(list.status, 200);
  t.equal(list.body.items[0].expenseId, 'old expense #1', 'the stored id is shown as it was stored');
  const balances = await bob.api.get('/groups/history/balances');
  t.same(
    balances.body.balances.map((b: { balance: string }) => b.balance),
    ['10000000000.00', '-10000000000.00'],
  );

  // New input is still held to today's limits.
  const refused = await ann.api.post('/groups/history/expenses', {
    expenseId: 'new expense #2',
    description: 'x',
    amount: '1.00',
    paidBy: ann.userId,
    split: { mode: 'equal' },
  });
  t.equal(refused.status, 400);
  const tooBig = await ann.api.post('/groups/history/expenses', { description: 'x', amount: '20000000000.00', paidBy: ann.userId, split: { mode: 'equal' } });
  t.equal(tooBig.status, 400);
  // And the group goes on: a new expense after the old one, and the old one can still be
  // edited and deleted by its stored id.
  const next = await ann.api.post('/groups/history/expenses', { description: 'Now', amount: '3.00', paidBy: ann.userId, split: { mode: 'equal' } });
  t.equal(next.status, 201);
  const oldUrl = `/groups/history/expenses/${encodeURIComponent('old expense #1')}`;
  const edited = await ann.api.put(oldUrl, { description: 'Old, corrected', amount: '10.00', paidBy: ann.userId, split: { mode: 'equal' } });
  t.equal(edited.status, 200, 'an expense with an id from before the id rule can be edited');
  t.equal(edited.body.expense.expenseId, 'old expense #1');
  const deleted = await ann.api.delete(oldUrl);
  t.equal(deleted.status, 200, 'and deleted');
  t.same(
    deleted.body.balances.map((b: { balance: string }) => b.balance),
    ['1.50', '-1.50'],
    'only the new expense is left',
  );
  t.same((await verifyProjection(ctx.env.database.db, { groupId: 'history' })).mismatches, []);
});
