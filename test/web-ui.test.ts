import t from 'tap';
import { useTestApp } from './helpers/app.js';

// The page is served by the API server itself; its preview endpoint resolves an
// expense exactly as a write would, without writing.

const ctx = useTestApp(t);

t.test('the page, its modules and its libraries are served at / with a strict CSP', async (t) => {
  const page = await ctx.env.app.inject({ method: 'GET', url: '/' });
  t.equal(page.statusCode, 200);
  t.match(page.headers['content-type'], /text\/html/);
  t.match(page.body, /<script type="module" src="\/app.js"><\/script>/);
  const csp = String(page.headers['content-security-policy']);
  t.match(csp, /default-src 'self'/);
  t.match(csp, /script-src 'self' 'sha256-[A-Za-z0-9+/=]+'/, 'only the inline import map, by hash');
  t.notMatch(csp, /unsafe-inline/);
  t.equal(page.headers['x-content-type-options'], 'nosniff');
  t.equal(page.headers['referrer-policy'], 'no-referrer');
  for (const url of [
    '/app.js',
    '/expense-form.js',
    '/live.js',
    '/style.css',
    '/vendor/preact.module.js',
    '/vendor/hooks.module.js',
    '/vendor/htm-preact.module.js',
  ]) {
    const res = await ctx.env.app.inject({ method: 'GET', url });
    t.equal(res.statusCode, 200, url);
  }
  const missing = await ctx.env.app.inject({ method: 'GET', url: '/nope.js' });
  t.equal(missing.statusCode, 404);
  t.match(missing.headers['content-type'], /application\/problem\+json/, 'unknown paths are still API 404s');
  t.equal((await ctx.env.app.inject({ method: 'GET', url: '/health/live' })).statusCode, 200, 'the API is not shadowed');
});

t.test('expense preview: the resolved split or the error, and nothing written', async (t) => {
  const ann = await ctx.api.signUp('Ann', 'pv-ann');
  const bob = await ctx.api.signUp('Bob', 'pv-bob');
  const cat = await ctx.api.signUp('Cat', 'pv-cat');
  const g = (await ann.api.post('/groups', { groupId: 'pv', name: 'P', currency: 'USD', members: [bob.userId, cat.userId] })).body;
  const ok = await ann.api.post('/groups/pv/expenses/preview', { description: 'Dinner', amount: '10.00', paidBy: ann.userId, split: { mode: 'equal' } });
  t.equal(ok.status, 200);
  t.same(ok.body.expense.shares, [
    { userId: 'pv-ann', amount: '3.34' },
    { userId: 'pv-bob', amount: '3.33' },
    { userId: 'pv-cat', amount: '3.33' },
  ]);
  t.same(ok.body.expense.payers, [{ userId: 'pv-ann', amount: '10.00' }]);
  t.equal(ok.body.version, g.version);

  const bad = await ann.api.post('/groups/pv/expenses/preview', {
    description: 'x',
    amount: '10.00',
    paidBy: ann.userId,
    split: { mode: 'exact', shares: [{ userId: bob.userId, amount: '9.00' }] },
  });
  t.equal(bad.status, 400);
  t.equal(bad.body.code, 'SPLIT_SUM_MISMATCH');
  t.same(bad.body.errors, [{ path: 'split/shares', message: 'exact amounts must add up to the amount' }]);
  t.equal(
    (await ann.api.post('/groups/pv/expenses/preview', { description: 'x', amount: '1.001', paidBy: ann.userId, split: { mode: 'equal' } })).body.code,
    'TOO_MANY_DECIMALS',
  );
  const stranger = await ctx.api.signUp('Eve', 'pv-eve');
  t.equal(
    (await stranger.api.post('/groups/pv/expenses/preview', { description: 'x', amount: '1.00', paidBy: ann.userId, split: { mode: 'equal' } })).status,
    404,
  );
  t.equal((await ctx.api.post('/groups/pv/expenses/preview', { description: 'x', amount: '1.00', paidBy: ann.userId, split: { mode: 'equal' } })).status, 401);

  const events = await ctx.env.database.query<{ n: number }>(`select count(*)::int as n from events where stream_id = 'group-pv'`);
  t.equal(events.rows[0]?.n, 1, 'previews append nothing');
});
