import t, { type Test } from 'tap';
import { createHash } from 'node:crypto';
import { buildApp } from '../src/api/app.js';
import { forgetExpiredKeys } from '../src/unit-of-work/lock-and-load.js';
import { quietLogger, useTestApp, type Api } from './helpers/app.js';
import { foldBalances, projectedBalances, toMinor } from './helpers/fold.js';

const ctx = useTestApp(t);

/** After every write: response balances == projection == an independent fold of the log. */
async function assertConsistent(t: Test, groupId: string, response: { body: any }, digits = 2) {
  const folded = await foldBalances(ctx.env, groupId);
  const projected = await projectedBalances(ctx.env, groupId);
  t.equal(response.body.version, projected.eventCount, 'version = number of events in the stream');
  t.equal(projected.version, projected.eventCount, 'projection applied every event');
  const fromResponse = new Map<string, bigint>(response.body.balances.map((b: any) => [b.userId, toMinor(b.balance, digits)]));
  t.same(fromResponse, folded, 'response balances equal the fold of the event log');
  t.same(projected.balances, folded, 'projection equals the fold of the event log');
  t.equal(
    [...folded.values()].reduce((a, b) => a + b, 0n),
    0n,
    'balances sum to zero',
  );
}

t.test('two users share a group: every write answers with the new version and exact balances', async (t) => {
  const ann = await ctx.api.signUp('Ann', 'ann');
  const bob = await ctx.api.signUp('Bob', 'bob');
  await ctx.api.signUp('Cy', 'cy');

  const group = await ann.api.post('/groups', { groupId: 'trip', name: 'Trip', currency: 'EUR', members: ['bob', 'cy'] });
  t.equal(group.status, 201);
  t.same(
    group.body.members.map((m: any) => m.userId),
    ['ann', 'bob', 'cy'],
    'caller first, then members in order',
  );
  t.equal(group.body.version, 1);

  const dinner = await ann.api.post('/groups/trip/expenses', {
    expenseId: 'dinner',
    description: 'Dinner',
    amount: '10.00',
    paidBy: 'ann',
    split: { mode: 'equal' },
  });
  t.equal(dinner.status, 201);
  t.equal(dinner.body.version, 2);
  t.same(dinner.body.expense.shares, [
    { userId: 'ann', amount: '3.34' },
    { userId: 'bob', amount: '3.33' },
    { userId: 'cy', amount: '3.33' },
  ]);
  t.same(
    dinner.body.balances.map((b: any) => b.balance),
    ['6.66', '-3.33', '-3.33'],
  );
  await assertConsistent(t, 'trip', dinner);

  const taxi = await bob.api.post('/groups/trip/expenses', {
    description: 'Taxi',
    amount: '30',
    payers: [
      { userId: 'bob', amount: '20' },
      { userId: 'cy', amount: '10.00' },
    ],
    split: {
      mode: 'percent',
      shares: [
        { userId: 'ann', percent: '50' },
        { userId: 'bob', percent: '25' },
        { userId: 'cy', percent: '25' },
      ],
    },
  });
  t.equal(taxi.status, 201);
  t.match(taxi.body.expense.expenseId, /^[A-Za-z0-9][A-Za-z0-9_-]*$/, 'server made an id');
  await assertConsistent(t, 'trip', taxi);
  const read = await bob.api.get('/groups/trip/balances');
  t.same(read.body.balances, taxi.body.balances, 'a read right after the write sees exactly the write’s balances');
  t.equal(read.body.version, taxi.body.version);

  const edit = await bob.api.put('/groups/trip/expenses/dinner', {
    description: 'Dinner (tip incl.)',
    amount: '12.00',
    paidBy: 'ann',
    split: {
      mode: 'shares',
      shares: [
        { userId: 'ann', weight: 1 },
        { userId: 'bob', weight: 2 },
      ],
    },
  });
  t.equal(edit.status, 200);
  t.equal(edit.body.version, 5, 'an edit appends two events');
  t.equal(edit.body.expense.description, 'Dinner (tip incl.)');
  await assertConsistent(t, 'trip', edit);

  // Sent the way many HTTP clients do: a JSON content type on every request, no body.
  const del = await ann.api.delete(`/groups/trip/expenses/${taxi.body.expense.expenseId}`, { 'content-type': 'application/json' });
  t.equal(del.status, 200);
  t.equal(del.body.version, 6);
  await assertConsistent(t, 'trip', del);

  const payment = await ctx.api.as(bob.token).post('/groups/trip/expenses', {
    kind: 'payment',
    description: 'Settle',
    amount: '8.00',
    paidBy: 'bob',
    split: { mode: 'exact', shares: [{ userId: 'ann', amount: '8.00' }] },
  });
  t.equal(payment.status, 201);
  await assertConsistent(t, 'trip', payment);
  t.same(
    payment.body.balances.map((b: any) => b.balance),
    ['0.00', '0.00', '0.00'],
  );

  const list = await ann.api.get('/groups/trip/expenses?includeDeleted=true');
  t.equal(list.body.items.length, 3);
  t.same(list.body.items.filter((e: any) => e.deleted).length, 1);
  const live = await ann.api.get('/groups/trip/expenses');
  t.equal(live.body.items.length, 2, 'deleted expenses are hidden by default');

  const events = await ann.api.get('/groups/trip/events?after=0&limit=3');
  t.same(
    events.body.items.map((e: any) => e.type),
    ['GroupCreated', 'ExpenseAdded', 'ExpenseAdded'],
  );
  t.equal(events.body.nextAfter, 3);
  t.equal(events.body.items[1].metadata.actorUserId, 'ann');
  const rest = await ann.api.get('/groups/trip/events?after=3');
  t.same(
    rest.body.items.map((e: any) => e.version),
    [4, 5, 6, 7],
  );
  t.same(
    rest.body.items.slice(0, 2).map((e: any) => e.type),
    ['ExpenseDeleted', 'ExpenseAdded'],
  );

  const me = await ann.api.get('/me');
  t.same(me.body.groups, [{ groupId: 'trip', name: 'Trip', currency: 'EUR', version: 7, archived: false, balance: '0.00' }]);
});

t.test('auth: no token 401, bad token 401, non-member 404, same answer as a missing group', async (t) => {
  const owner = await ctx.api.signUp('Owner');
  const stranger = await ctx.api.signUp('Stranger');
  const g = await owner.api.post('/groups', { name: 'Private', currency: 'USD' });
  const id = g.body.groupId;
  const noToken = await ctx.api.get(`/groups/${id}/balances`);
  t.equal(noToken.status, 401);
  t.equal(noToken.headers['content-type'], 'application/problem+json; charset=utf-8');
  t.equal(noToken.body.code, 'UNAUTHENTICATED');
  t.equal((await ctx.api.as('fs_not-a-real-token').get('/me')).status, 401);
  t.equal((await ctx.api.get('/me', { authorization: 'Basic abc' })).status, 401);
  for (const scheme of ['bearer', 'BEARER', 'bEaReR'])
    t.equal(
      (await ctx.api.get(`/groups/${id}/balances`, { authorization: `${scheme} ${owner.token}` })).status,
      200,
      `the scheme is case-insensitive: ${scheme}`,
    );
  t.equal((await ctx.api.get('/me', { authorization: `Bearer ${owner.token.toUpperCase()}` })).status, 401, 'the token is not');
  // The group, its balances, settlements and expense list resolve the token inside their own read: same answers.
  for (const view of ['', '/balances', '/settlements', '/expenses']) {
    const url = `/groups/${id}${view}`;
    for (const [label, res] of [
      ['unknown token', await ctx.api.as('fs_not-a-real-token').get(url)],
      ['malformed header', await ctx.api.get(url, { authorization: 'Basic abc' })],
      ['unknown token, missing group', await ctx.api.as('fs_not-a-real-token').get(`/groups/does-not-exist${view}`)],
    ] as const) {
      t.equal(res.status, 401, `${view}: ${label} is 401`);
      t.equal(res.body.code, 'UNAUTHENTICATED');
      t.equal(res.headers['www-authenticate'], 'Bearer realm="fairshare"');
    }
    t.equal((await owner.api.get(url)).status, 200, `${view}: the member's own token is 200`);
    t.equal((await owner.api.get(`/groups/does-not-exist${view}`)).status, 404, `${view}: a known user asking for a missing group is 404`);
  }
  for (const [method, url, body] of [
    ['GET', `/groups/${id}`],
    ['GET', `/groups/${id}/balances`],
    ['GET', `/groups/${id}/expenses`],
    ['GET', `/groups/${id}/settlements`],
    ['GET', `/groups/${id}/events`],
    ['POST', `/groups/${id}/expenses`, { description: 'x', amount: '1', paidBy: stranger.userId, split: { mode: 'equal' } }],
    ['POST', `/groups/${id}/members`, { userId: stranger.userId }],
    ['DELETE', `/groups/${id}/expenses/any`],
  ] as const) {
    const res = await stranger.api.request(method, url, body);
    t.equal(res.status, 404, `${method} ${url} by a non-member is 404`);
    t.equal(res.body.code, 'GROUP_NOT_FOUND');
  }
  t.equal((await stranger.api.get('/groups/does-not-exist')).body.code, 'GROUP_NOT_FOUND');
  const after = await projectedBalances(ctx.env, id);
  t.equal(after.eventCount, 1, 'nothing was appended by the stranger');
});

t.test('ETag is the group version; If-None-Match gives 304; If-Match guards writes', async (t) => {
  const u = await ctx.api.signUp('Etta');
  const g = (await u.api.post('/groups', { name: 'E', currency: 'USD' })).body;
  const first = await u.api.get(`/groups/${g.groupId}/balances`);
  t.equal(first.headers.etag, '"1"');
  const cached = await u.api.get(`/groups/${g.groupId}/balances`, { 'if-none-match': '"1"' });
  t.equal(cached.status, 304);
  t.equal((await u.api.get(`/groups/${g.groupId}/balances`, { 'if-none-match': 'W/"1", "7"' })).status, 304);
  t.equal((await u.api.get(`/groups/${g.groupId}`, { 'if-none-match': '"1"' })).status, 304);

  const stale = await u.api.post(
    `/groups/${g.groupId}/expenses`,
    { description: 'x', amount: '1.00', paidBy: u.userId, split: { mode: 'equal' } },
    { 'if-match': '"0"' },
  );
  t.equal(stale.status, 412);
  t.equal(stale.body.code, 'VERSION_CONFLICT');
  const ok = await u.api.post(
    `/groups/${g.groupId}/expenses`,
    { description: 'x', amount: '1.00', paidBy: u.userId, split: { mode: 'equal' } },
    { 'if-match': '"1"' },
  );
  t.equal(ok.status, 201);
  const changed = await u.api.get(`/groups/${g.groupId}/balances`, { 'if-none-match': '"1"' });
  t.equal(changed.status, 200, 'a new version is not served from the client cache');
  t.equal(changed.headers.etag, '"2"');
  t.equal((await u.api.get(`/groups/${g.groupId}/balances`, { 'if-match': 'nonsense' })).status, 200, 'If-Match is ignored on reads');

  // RFC 9110 §13.1.1: `*`, lists, and strong comparison only.
  const write = (ifMatch: string) =>
    u.api.post(`/groups/${g.groupId}/expenses`, { description: 'x', amount: '1.00', paidBy: u.userId, split: { mode: 'equal' } }, { 'if-match': ifMatch });
  t.equal((await write('*')).status, 201, 'If-Match: * writes to a group that exists');
  t.equal((await write('"1", "3" ,"9"')).status, 201, 'a list matches when one of its tags is current');
  const weak = await write('W/"4"');
  t.equal(weak.status, 412, 'a weak tag never matches a write, even the current version');
  t.match(weak.body.detail, /"4"/);
  t.equal((await write('"4.1"')).status, 412, 'the version with another epoch is another representation');
  t.equal((await write('"other-tag"')).status, 412, 'a well-formed tag that is not ours does not match');
  t.equal((await write('"4"')).status, 201);
  t.equal((await write('"1", nonsense')).status, 400, 'a malformed list is a bad request');

  // HEAD on every GET route, the live stream included (it answers instead of streaming).
  const head = await ctx.env.app.inject({ method: 'HEAD', url: `/groups/${g.groupId}/balances`, headers: { authorization: `Bearer ${u.token}` } });
  t.equal(head.statusCode, 200);
  t.equal(head.headers.etag, '"5"');
  t.equal(head.body, '');
  const live = await ctx.env.app.inject({ method: 'HEAD', url: `/groups/${g.groupId}/live`, headers: { authorization: `Bearer ${u.token}` } });
  t.equal(live.statusCode, 200);
  t.match(live.headers['content-type'], /^text\/event-stream/);
  t.equal(live.body, '');
  const stranger = await ctx.api.signUp('Stranger');
  t.equal(
    (await ctx.env.app.inject({ method: 'HEAD', url: `/groups/${g.groupId}/live`, headers: { authorization: `Bearer ${stranger.token}` } })).statusCode,
    404,
  );
  t.equal(
    (
      await u.api.post(
        `/groups/${g.groupId}/expenses`,
        { description: 'x', amount: '1.00', paidBy: u.userId, split: { mode: 'equal' } },
        { 'if-match': 'nonsense' },
      )
    ).status,
    400,
  );
});

t.test('retries append nothing: same expenseId, same Idempotency-Key', async (t) => {
  const u = await ctx.api.signUp('Rita');
  const v = await ctx.api.signUp('Vic');
  const g = (await u.api.post('/groups', { name: 'R', currency: 'USD', members: [v.userId] })).body;
  const body = { expenseId: 'lunch', description: 'Lunch', amount: '9.99', paidBy: u.userId, split: { mode: 'equal' } };
  const first = await u.api.post(`/groups/${g.groupId}/expenses`, body);
  t.equal(first.status, 201);
  const again = await v.api.post(`/groups/${g.groupId}/expenses`, body);
  t.equal(again.status, 200, 'same id and body: 200');
  t.same(again.body.expense, first.body.expense);
  t.equal(again.body.version, first.body.version, 'nothing appended');
  const other = await u.api.post(`/groups/${g.groupId}/expenses`, { ...body, amount: '10.00' });
  t.equal(other.status, 409);
  t.equal(other.body.code, 'EXPENSE_ID_CONFLICT');

  const key = { 'idempotency-key': 'k-123' };
  const noId = { description: 'Coffee', amount: '3.00', paidBy: v.userId, split: { mode: 'equal' } };
  const k1 = await v.api.post(`/groups/${g.groupId}/expenses`, noId, key);
  const k2 = await v.api.post(`/groups/${g.groupId}/expenses`, noId, key);
  t.equal(k1.status, 201);
  t.equal(k2.status, 201, 'the stored response is replayed as it was');
  t.same(k2.body, k1.body);
  const reused = await v.api.post(`/groups/${g.groupId}/expenses`, { ...noId, amount: '4.00' }, key);
  t.equal(reused.status, 422);
  t.equal(reused.body.code, 'IDEMPOTENCY_KEY_REUSED');
  const d1 = await v.api.delete(`/groups/${g.groupId}/expenses/lunch`, { 'idempotency-key': 'del-1' });
  const d2 = await v.api.delete(`/groups/${g.groupId}/expenses/lunch`, { 'idempotency-key': 'del-1' });
  t.equal(d1.status, 200);
  t.same(d2, { ...d2, status: 200, body: d1.body }, 'a retried delete is not a 409');
  const state = await projectedBalances(ctx.env, g.groupId);
  t.equal(state.eventCount, 4, 'GroupCreated + 2 ExpenseAdded + 1 ExpenseDeleted');
  const member = await u.api.post(`/groups/${g.groupId}/members`, { userId: v.userId });
  t.equal(member.status, 200, 'adding an existing member changes nothing');
  t.equal(member.body.version, 4);
});

t.test('bad input of every kind: 4xx problem+json, nothing changes', async (t) => {
  const u = await ctx.api.signUp('Bea');
  const w = await ctx.api.signUp('Wes');
  await ctx.api.signUp('Outsider', 'outsider');
  const g = (await u.api.post('/groups', { name: 'B', currency: 'USD', members: [w.userId] })).body;
  const good = { description: 'Ok', amount: '10.00', paidBy: u.userId, split: { mode: 'equal' } };
  const url = `/groups/${g.groupId}/expenses`;
  const before = await projectedBalances(ctx.env, g.groupId);
  const cases: [string, unknown, number, string, Record<string, string>?][] = [
    ['malformed JSON', '{"description": "x",', 400, 'MALFORMED_JSON', { 'content-type': 'application/json' }],
    ['empty JSON body', '', 400, 'MALFORMED_JSON', { 'content-type': 'application/json' }],
    ['wrong content type', 'description=x', 415, 'UNSUPPORTED_MEDIA_TYPE', { 'content-type': 'application/x-www-form-urlencoded' }],
    ['oversized body', JSON.stringify({ ...good, description: 'x'.repeat(70_000) }), 413, 'BODY_TOO_LARGE', { 'content-type': 'application/json' }],
    ['number where a string belongs', { ...good, amount: 10 }, 400, 'VALIDATION_FAILED'],
    ['float amount', { ...good, amount: 10.5 }, 400, 'VALIDATION_FAILED'],
    ['array body', [good], 400, 'VALIDATION_FAILED'],
    ['unknown field', { ...good, currency: 'EUR' }, 400, 'VALIDATION_FAILED'],
    ['missing description', { ...good, description: undefined }, 400, 'VALIDATION_FAILED'],
    ['blank description', { ...good, description: '   ' }, 400, 'VALIDATION_FAILED'],
    ['description too long', { ...good, description: 'x'.repeat(201) }, 400, 'VALIDATION_FAILED'],
    ['too many decimals', { ...good, amount: '10.001' }, 400, 'TOO_MANY_DECIMALS'],
    ['negative amount', { ...good, amount: '-10.00' }, 400, 'INVALID_AMOUNT'],
    ['exponent amount', { ...good, amount: '1e3' }, 400, 'INVALID_AMOUNT'],
    ['zero amount', { ...good, amount: '0.00' }, 400, 'AMOUNT_OUT_OF_RANGE'],
    ['huge amount', { ...good, amount: '99999999999999' }, 400, 'AMOUNT_OUT_OF_RANGE'],
    ['unknown member paying', { ...good, paidBy: 'outsider' }, 400, 'UNKNOWN_MEMBER'],
    ['unknown member sharing', { ...good, split: { mode: 'equal', among: ['outsider'] } }, 400, 'UNKNOWN_MEMBER'],
    ['bad id', { ...good, paidBy: 'bad id!' }, 400, 'VALIDATION_FAILED'],
    ['exact shares not adding up', { ...good, split: { mode: 'exact', shares: [{ userId: u.userId, amount: '9.99' }] } }, 400, 'SPLIT_SUM_MISMATCH'],
    ['percent not adding up', { ...good, split: { mode: 'percent', shares: [{ userId: u.userId, percent: '99.99' }] } }, 400, 'SPLIT_SUM_MISMATCH'],
    ['payers not adding up', { ...good, paidBy: undefined, payers: [{ userId: u.userId, amount: '1.00' }] }, 400, 'PAYERS_SUM_MISMATCH'],
    ['both paidBy and payers', { ...good, payers: [{ userId: u.userId, amount: '10.00' }] }, 400, 'VALIDATION_FAILED'],
    ['neither paidBy nor payers', { ...good, paidBy: undefined }, 400, 'VALIDATION_FAILED'],
    ['zero weight', { ...good, split: { mode: 'shares', shares: [{ userId: u.userId, weight: 0 }] } }, 400, 'VALIDATION_FAILED'],
    ['fractional weight', { ...good, split: { mode: 'shares', shares: [{ userId: u.userId, weight: 1.5 }] } }, 400, 'VALIDATION_FAILED'],
    ['unknown split mode', { ...good, split: { mode: 'random' } }, 400, 'VALIDATION_FAILED'],
    ['payment to oneself', { ...good, kind: 'payment', split: { mode: 'equal', among: [u.userId] } }, 400, 'INVALID_PAYMENT'],
    ['bad occurredAt', { ...good, occurredAt: 'yesterday' }, 400, 'VALIDATION_FAILED'],
    ['prototype pollution', '{"__proto__": {"x": 1}, "description": "x"}', 400, 'MALFORMED_JSON', { 'content-type': 'application/json' }],
    ['NUL in a description', { ...good, description: 'a\u0000b' }, 400, 'VALIDATION_FAILED'],
    ['control character in a description', { ...good, description: 'bell\u0007' }, 400, 'VALIDATION_FAILED'],
    ['unpaired surrogate in a description', { ...good, description: 'x\ud800y' }, 400, 'VALIDATION_FAILED'],
    ['invisible description', { ...good, description: '\u200b\u200d\ufeff' }, 400, 'VALIDATION_FAILED'],
    ['combining mark alone', { ...good, description: '\u0301' }, 400, 'VALIDATION_FAILED'],
  ];
  for (const [name, body, status, code, headers] of cases) {
    const res = await u.api.request('POST', url, body, headers);
    t.equal(res.status, status, `${name}: ${status}`);
    t.equal(res.body?.code, code, `${name}: ${code}`);
    t.match(res.headers['content-type'], /^application\/problem\+json/, `${name}: problem+json`);
    t.match(res.body, { type: String, title: String, status, detail: String }, `${name}: RFC 9457 fields`);
  }
  const validation = await u.api.post(url, { ...good, amount: 10 });
  t.same(validation.body.errors, [{ path: 'amount', message: validation.body.errors[0].message }], 'field errors name the path');
  t.equal((await u.api.post(url, { ...good, amount: '10.001' })).body.errors[0].path, 'amount');

  t.equal((await u.api.get(`${url}?limit=0`)).status, 400);
  t.equal((await u.api.get(`${url}?limit=abc`)).status, 400);
  const many = await u.api.get(`${url}?limit=5000`);
  t.equal(many.status, 200, 'a limit above the maximum is coerced down to it (DESIGN.md §6)');
  t.equal((await u.api.get(`${url}?cursor=garbage`)).body.code, 'INVALID_CURSOR');
  const forged = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  for (const [what, cursor] of [
    ['a version beyond an integer', forged(['2026-01-01T00:00:00.000Z', 2 ** 40])],
    ['a negative version', forged(['2026-01-01T00:00:00.000Z', -1])],
    ['a date beyond the range', forged(['+275760-09-13T00:00:00.000Z', 1])],
    ['a date in another format', forged(['Tue, 01 Jan 2026 00:00:00 GMT', 1])],
    ['a date that does not exist', forged(['2026-02-30T00:00:00.000Z', 1])],
  ] as const) {
    const res = await u.api.get(`${url}?cursor=${cursor}`);
    t.equal(res.status, 400, `forged cursor with ${what}: 400`);
    t.equal(res.body.code, 'INVALID_CURSOR', `forged cursor with ${what}: INVALID_CURSOR`);
  }
  t.equal((await u.api.get(`/groups/${g.groupId}/events?after=-1`)).status, 400);
  // A path id only looks something up (stored ids from before the id rule stay reachable): no such group.
  t.equal((await u.api.get('/groups/bad%20id/balances')).status, 404);
  const tooLong = await u.api.get(`/groups/${'x'.repeat(101)}/balances`);
  t.equal(tooLong.status, 414, 'a path segment longer than the router takes is refused as too long');
  t.match(tooLong.headers['content-type'], /^application\/problem\+json/, '…as problem+json');
  t.equal(tooLong.body.code, 'URI_TOO_LONG');
  const badUrl = await u.api.get('/groups/%zz/balances');
  t.equal(badUrl.status, 400);
  t.equal(badUrl.body.code, 'BAD_URL');
  t.equal((await u.api.post('/groups', { name: 'X', currency: 'ABC' })).body.code, 'UNSUPPORTED_CURRENCY');
  t.equal((await u.api.post('/groups', { name: 'X', currency: 'usd' })).status, 400);
  t.equal((await u.api.post('/groups', { name: 'X', currency: 'USD', members: ['nobody-here'] })).body.code, 'UNKNOWN_USER');
  t.equal((await u.api.post(`/groups/${g.groupId}/members`, { userId: 'nobody-here' })).body.code, 'UNKNOWN_USER');
  t.equal((await u.api.put(`${url}/nope`, good)).body.code, 'EXPENSE_NOT_FOUND');
  t.equal((await u.api.delete(`${url}/nope`)).body.code, 'EXPENSE_NOT_FOUND');
  t.equal((await ctx.api.post('/users', { name: '' })).status, 400);
  for (const [what, name] of [
    ['NUL', 'Bo\u0000b'],
    ['a line break', 'Bo\nb'],
    ['an unpaired surrogate', 'Bo\udc00b'],
    ['only zero-width characters', '\u200b\u200c'],
  ]) {
    const res = await ctx.api.post('/users', { name });
    t.equal(res.status, 400, `a user name with ${what}: 400`);
    t.equal(res.body.errors?.[0]?.path, 'name', `a user name with ${what}: the field is named`);
    t.equal((await u.api.post('/groups', { name, currency: 'USD' })).status, 400, `a group name with ${what}: 400`);
  }
  t.equal((await ctx.api.post('/users', { name: 'Dup', userId: 'outsider' })).body.code, 'USER_ALREADY_EXISTS');
  t.equal((await ctx.api.get('/no/such/route')).body.code, 'NOT_FOUND');

  const after = await projectedBalances(ctx.env, g.groupId);
  t.same(after, before, 'no event appended, no balance moved');
});

t.test('text is stored trimmed and NFC-normalised: the same name typed two ways is the same name', async (t) => {
  const decomposed = await ctx.api.post('/users', { name: '  Jose\u0301 ' });
  t.equal(decomposed.status, 201);
  t.equal(decomposed.body.name, 'Jos\u00e9', 'one code point, no spaces');
  const u = await ctx.api.signUp('Text');
  const g = (await u.api.post('/groups', { name: 'Cafe\u0301', currency: 'EUR' })).body;
  t.equal(g.name, 'Caf\u00e9');
  const added = await u.api.post(`/groups/${g.groupId}/expenses`, {
    description: 'Cre\u0300me bru\u0302le\u0301e\twith\nnotes 😀',
    amount: '1.00',
    paidBy: u.userId,
    split: { mode: 'equal' },
  });
  t.equal(added.status, 201);
  t.equal(added.body.expense.description, 'Cr\u00e8me br\u00fbl\u00e9e\twith\nnotes 😀', 'composed; tabs, line breaks and emoji kept');
});

t.test('pagination of expenses, newest first', async (t) => {
  const u = await ctx.api.signUp('Page');
  const g = (await u.api.post('/groups', { name: 'P', currency: 'JPY' })).body;
  for (let day = 1; day <= 7; day++) {
    await u.api.post(`/groups/${g.groupId}/expenses`, {
      expenseId: `d${day}`,
      description: `Day ${day}`,
      amount: `${day * 100}`,
      paidBy: u.userId,
      split: { mode: 'equal' },
      occurredAt: `2026-01-0${day}T12:00:00+09:00`,
    });
  }
  const seen: string[] = [];
  let cursor: string | null = null;
  do {
    const page: any = await u.api.get(`/groups/${g.groupId}/expenses?limit=3${cursor ? `&cursor=${cursor}` : ''}`);
    t.equal(page.status, 200);
    seen.push(...page.body.items.map((e: any) => e.expenseId));
    cursor = page.body.nextCursor;
  } while (cursor);
  t.same(seen, ['d7', 'd6', 'd5', 'd4', 'd3', 'd2', 'd1']);
  t.equal((await u.api.get(`/groups/${g.groupId}/expenses?limit=1`)).body.items[0].amount, '700', 'JPY has no decimals');
});

t.test('settlements bring every balance to zero with the fewest transfers', async (t) => {
  const names = ['s1', 's2', 's3', 's4', 's5'];
  const users: Awaited<ReturnType<Api['signUp']>>[] = [];
  for (const n of names) users.push(await ctx.api.signUp(n, `settle-${n}`));
  const [a, b, c, d, e] = users.map((u) => u.userId) as [string, string, string, string, string];
  const g = (await users[0]!.api.post('/groups', { name: 'S', currency: 'USD', members: [b, c, d, e] })).body;
  // Balances a +6, b +5, c −5, d −3, e −3: greedy would need 4 transfers, the minimum is 3.
  const pay = (payer: string, shares: [string, string][]) =>
    users[0]!.api.post(`/groups/${g.groupId}/expenses`, {
      description: 'x',
      amount: shares.reduce((s, [, v]) => s + Number(v), 0).toFixed(2),
      paidBy: payer,
      split: { mode: 'exact', shares: shares.map(([userId, amount]) => ({ userId, amount })) },
    });
  await pay(a, [
    [d, '3.00'],
    [e, '3.00'],
  ]);
  await pay(b, [[c, '5.00']]);
  const s = await users[1]!.api.get(`/groups/${g.groupId}/settlements`);
  t.equal(s.status, 200);
  t.equal(s.body.transfers.length, 3);
  t.equal(s.body.version, 3);
  const nameOf = new Map(users.map((u, i) => [u.userId, names[i]]));
  for (const tr of s.body.transfers) t.same([tr.fromName, tr.toName], [nameOf.get(tr.from), nameOf.get(tr.to)], 'each transfer names the people');
  for (const tr of s.body.transfers) {
    const res = await users[0]!.api.post(`/groups/${g.groupId}/expenses`, {
      kind: 'payment',
      description: 'settle',
      amount: tr.amount,
      paidBy: tr.from,
      split: { mode: 'equal', among: [tr.to] },
    });
    t.equal(res.status, 201);
  }
  const after = await users[0]!.api.get(`/groups/${g.groupId}/balances`);
  t.ok(
    after.body.balances.every((x: any) => x.balance === '0.00'),
    'all settled',
  );
  t.same((await users[0]!.api.get(`/groups/${g.groupId}/settlements`)).body.transfers, []);
});

t.test('OpenAPI document, docs page and health', async (t) => {
  const doc = await ctx.api.get('/openapi.json');
  t.equal(doc.status, 200);
  t.match(doc.body.openapi, /^3\./);
  t.ok(doc.body.paths['/groups/{groupId}/expenses'].post, 'expense route documented');
  t.ok(doc.body.paths['/groups/{groupId}/balances'].get);
  const docs = await ctx.env.app.inject({ method: 'GET', url: '/docs/' });
  t.equal(docs.statusCode, 200);
  t.match(docs.body, /swagger/i);
  t.same((await ctx.api.get('/health/live')).body, { status: 'ok' });
  t.same((await ctx.api.get('/health/ready')).body, { status: 'ok' });
});

t.test('tokens are 256 random bits, shown once, and only their SHA-256 is stored', async (t) => {
  const a = await ctx.api.signUp('Tok');
  const b = await ctx.api.signUp('Ken');
  t.match(a.token, /^fs_[A-Za-z0-9_-]{43}$/, '32 random bytes, base64url');
  t.not(a.token, b.token);
  const stored = await ctx.env.database.query<Record<string, unknown>>('select * from users u join devices d using (user_id) where u.user_id = $1', [a.userId]);
  const row = stored.rows[0] as Record<string, unknown>;
  t.notOk(
    Object.values(row).some((v) => String(v).includes(a.token.slice(3))),
    'the token itself is in no column',
  );
  t.same(row.token_hash, createHash('sha256').update(a.token).digest(), 'its SHA-256 is');
  t.equal((await ctx.api.get('/me')).status, 401);
  t.equal((await a.api.get('/me')).body.userId, a.userId);
});

t.test('an Idempotency-Key is remembered for a day: a retry inside it is answered from the first request; after it the key is forgotten', async (t) => {
  const u = await ctx.api.signUp('Ida');
  const g = (await u.api.post('/groups', { name: 'Keys', currency: 'EUR' })).body.groupId as string;
  const body = (amount: string) => ({ description: 'Keyed', amount, paidBy: u.userId, split: { mode: 'equal' } });
  const age = (hours: number) =>
    ctx.env.database.query(`update idempotency_keys set created_at = now() - make_interval(hours => $2) where key = $1`, ['day-key', hours]);
  const first = await u.api.post(`/groups/${g}/expenses`, body('5.00'), { 'idempotency-key': 'day-key' });
  t.equal(first.status, 201);
  await age(23);
  const retry = await u.api.post(`/groups/${g}/expenses`, body('5.00'), { 'idempotency-key': 'day-key' });
  t.equal(retry.status, 201);
  t.same(retry.body, first.body, 'after 23 hours: the first answer again');
  t.equal((await u.api.post(`/groups/${g}/expenses`, body('6.00'), { 'idempotency-key': 'day-key' })).status, 422, 'and the key still guards its request');
  t.equal((await ctx.env.eventsOf(g)).length, 2, 'nothing appended by the retries');

  await age(25);
  const afresh = await u.api.post(`/groups/${g}/expenses`, body('6.00'), { 'idempotency-key': 'day-key' });
  t.equal(afresh.status, 201, 'after a day the key is forgotten: a new request may use it');
  t.equal((await ctx.env.eventsOf(g)).length, 3);
  await age(25);
  t.ok((await forgetExpiredKeys(ctx.env.database.db)) >= 1, 'expired records are removed');
  t.equal((await ctx.env.database.query(`select 1 from idempotency_keys where key = 'day-key'`)).rowCount, 0);
});

t.test('CORS: closed by default; configured origins only, with the headers a client needs', async (t) => {
  const preflight = (app: typeof ctx.env.app, origin: string) =>
    app.inject({
      method: 'OPTIONS',
      url: '/me',
      headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, idempotency-key' },
    });
  const closed = await preflight(ctx.env.app, 'https://elsewhere.example');
  t.equal(closed.headers['access-control-allow-origin'], undefined, 'no origin is allowed by default');
  t.equal((await ctx.api.get('/health/live', { origin: 'https://elsewhere.example' })).headers['access-control-allow-origin'], undefined);

  const open = await buildApp({ db: ctx.env.database.db, changes: ctx.env.changes, logger: quietLogger(), corsOrigins: ['https://app.example'] });
  t.teardown(() => open.close());
  const allowed = await preflight(open, 'https://app.example');
  t.equal(allowed.statusCode, 204);
  t.equal(allowed.headers['access-control-allow-origin'], 'https://app.example');
  t.match(String(allowed.headers['access-control-allow-headers']), /idempotency-key/);
  t.equal(allowed.headers['access-control-allow-credentials'], undefined, 'bearer tokens, no cookies: no credentials mode');
  t.equal((await preflight(open, 'https://elsewhere.example')).headers['access-control-allow-origin'], undefined, 'another origin is not');
  const read = await open.inject({ method: 'GET', url: '/health/live', headers: { origin: 'https://app.example' } });
  t.equal(read.headers['access-control-allow-origin'], 'https://app.example');
  t.match(String(read.headers['access-control-expose-headers']), /etag/);
});

t.test('security headers: every API answer is nosniff data that nothing may frame or run; the docs page has its own CSP', async (t) => {
  const u = await ctx.api.signUp('Hedda');
  for (const [what, res] of [
    ['JSON', await u.api.get('/me')],
    ['problem+json', await ctx.api.get('/me')],
    ['a 404', await ctx.api.get('/no/such/route')],
    ['a 201', await ctx.api.post('/users', { name: 'Newcomer' })],
  ] as const) {
    t.equal(res.headers['x-content-type-options'], 'nosniff', `${what}: nosniff`);
    t.equal(
      res.headers['content-security-policy'],
      "default-src 'none';frame-ancestors 'none';base-uri 'none';form-action 'none'",
      `${what}: CSP allows nothing`,
    );
    t.equal(res.headers['x-frame-options'], 'SAMEORIGIN', `${what}: no framing elsewhere`);
    t.equal(res.headers['referrer-policy'], 'no-referrer', `${what}: no referrer`);
  }
  const docs = await ctx.env.app.inject({ method: 'GET', url: '/docs/' });
  t.equal(docs.statusCode, 200);
  const csp = String(docs.headers['content-security-policy']);
  t.match(csp, /script-src 'self';/, "Swagger UI's own CSP: its own scripts only");
  t.notMatch(csp, /script-src[^;]*unsafe|upgrade-insecure-requests/);
  t.equal(docs.headers['x-content-type-options'], 'nosniff');
});
