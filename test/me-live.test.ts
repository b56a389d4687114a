import pino from 'pino';
import t, { type Test } from 'tap';
import { buildApp } from '../src/api/app.js';
import { createDb } from '../src/db/database.js';
import { handleGroupCommand } from '../src/unit-of-work/command-handler.js';
import { testEventLogMode, useTestApp } from './helpers/app.js';
import { createTestDatabase } from './helpers/database.js';
import { call, startServerProcess } from './helpers/server-process.js';

// The home page's stream, GET /me/live: the /me view on connect and after every change
// to one of my groups, being added to a group or removed from one, from this process
// or from another one (a command committed without this process's announce hook).

const ctx = useTestApp(t);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface MeBody {
  userId: string;
  groups: { groupId: string; name: string; version: number; balance: string }[];
  totals: { currency: string; balance: string }[];
}

async function openHome(base: string, token: string) {
  const controller = new AbortController();
  const res = await fetch(`${base}/me/live`, { headers: { authorization: `Bearer ${token}` }, signal: controller.signal });
  const views: MeBody[] = [];
  let ended = false;
  const done =
    res.ok && res.body
      ? (async () => {
          const decoder = new TextDecoder();
          let buffer = '';
          for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
            buffer += decoder.decode(chunk, { stream: true });
            for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
              const block = buffer.slice(0, end);
              buffer = buffer.slice(end + 2);
              const data = /^data: (.*)$/m.exec(block)?.[1];
              if (/^event: me$/m.test(block) && data) views.push(JSON.parse(data) as MeBody);
            }
          }
        })()
          .catch(() => undefined)
          .finally(() => (ended = true))
      : Promise.resolve();
  const until = async (check: (view: MeBody | undefined) => boolean, ms = 5_000) => {
    for (let i = 0; i < ms / 20 && !check(views.at(-1)); i++) await sleep(20);
    return check(views.at(-1));
  };
  return { res, views, until, done, ended: () => ended, abort: () => controller.abort() };
}

let base: string;
t.before(async () => {
  base = await ctx.env.app.listen({ port: 0, host: '127.0.0.1' });
});

const expense = (paidBy: string, amount: string) => ({ description: 'x', amount, paidBy, split: { mode: 'equal' as const } });

t.test('first event is /me; an expense, being added by someone else, and removal each send a new view, with totals per currency', async (t) => {
  const ann = await ctx.api.signUp('Ann');
  const bob = await ctx.api.signUp('Bob');
  const trip = (await bob.api.post('/groups', { name: 'Trip', currency: 'EUR', members: [ann.userId] })).body.groupId as string;
  const home = await openHome(base, bob.token);
  t.teardown(home.abort);
  t.equal(home.res.status, 200);
  t.ok(await home.until((v) => v !== undefined));
  t.same(home.views[0], (await bob.api.get('/me')).body, 'the first event is the /me body');
  t.match(home.views[0], { groups: [{ groupId: trip, balance: '0.00' }], totals: [{ currency: 'EUR', balance: '0.00' }] });

  t.equal((await ann.api.post(`/groups/${trip}/expenses`, expense(ann.userId, '10.00'))).status, 201);
  t.ok(await home.until((v) => v?.groups[0]?.balance === '-5.00'), "Ann's expense in my group changes my balance");
  t.same(home.views.at(-1)?.totals, [{ currency: 'EUR', balance: '-5.00' }]);

  const flat = (await ann.api.post('/groups', { name: 'Flat', currency: 'USD', members: [bob.userId] })).body.groupId as string;
  t.ok(await home.until((v) => v?.groups.some((g) => g.groupId === flat) ?? false), 'a group Ann adds me to appears');
  t.equal((await ann.api.post(`/groups/${flat}/expenses`, expense(ann.userId, '6.00'))).status, 201);
  t.ok(await home.until((v) => v?.totals.some((x) => x.currency === 'USD' && x.balance === '-3.00') ?? false), 'totals per currency');
  t.same(home.views.at(-1)?.totals, [
    { currency: 'EUR', balance: '-5.00' },
    { currency: 'USD', balance: '-3.00' },
  ]);

  // A group of others only: no new view for me.
  const count = home.views.length;
  await ann.api.post('/groups', { name: 'Ann alone', currency: 'EUR' });
  await sleep(300);
  t.equal(home.views.length, count, 'a change in a group I am not in sends nothing');

  // Settle up in Flat, then Ann removes me from it: it disappears.
  await bob.api.post(`/groups/${flat}/expenses`, expense(bob.userId, '6.00'));
  t.ok(await home.until((v) => v?.groups.find((g) => g.groupId === flat)?.balance === '0.00'));
  const removed = await ann.api.delete(`/groups/${flat}/members/${bob.userId}`);
  t.equal(removed.status, 200, JSON.stringify(removed.body));
  t.ok(await home.until((v) => v !== undefined && !v.groups.some((g) => g.groupId === flat)), 'a group I was removed from disappears');
  const versions = home.views.map((v) => v.groups.find((g) => g.groupId === trip)?.version ?? 0);
  t.same(
    versions,
    [...versions].sort((a, b) => a - b),
    'never an older view after a newer one',
  );
});

t.test('a change committed by another process reaches the stream through the log tail: being added, and an expense', async (t) => {
  const ann = await ctx.api.signUp('Ann');
  const bob = await ctx.api.signUp('Bob');
  const home = await openHome(base, bob.token);
  t.teardown(home.abort);
  t.ok(await home.until((v) => v !== undefined && v.groups.length === 0));
  const groupId = (await ann.api.post('/groups', { name: 'Elsewhere', currency: 'EUR' })).body.groupId as string;
  const elsewhere = (command: Parameters<typeof handleGroupCommand>[2]) =>
    handleGroupCommand(ctx.env.handlerDeps(), { groupId, actorUserId: ann.userId, requestId: `elsewhere-${Math.random()}` }, command);
  await elsewhere({ type: 'AddMember', member: { userId: bob.userId, name: 'Bob' } });
  t.ok(await home.until((v) => v?.groups.some((g) => g.groupId === groupId) ?? false), 'added in another process');
  await elsewhere({ type: 'AddExpense', expenseId: 'e1', now: new Date().toISOString(), input: expense(ann.userId, '4.00') });
  t.ok(await home.until((v) => v?.groups[0]?.balance === '-2.00'), 'an expense in another process');
});

t.test('a burst of changes: views only move forward and the last one is the current /me', async (t) => {
  const ann = await ctx.api.signUp('Ann');
  const bob = await ctx.api.signUp('Bob');
  const trip = (await ann.api.post('/groups', { name: 'Burst', currency: 'EUR', members: [bob.userId] })).body.groupId as string;
  const home = await openHome(base, bob.token);
  t.teardown(home.abort);
  t.ok(await home.until((v) => v !== undefined));
  const answers = await Promise.all(Array.from({ length: 12 }, (_, i) => ann.api.post(`/groups/${trip}/expenses`, expense(ann.userId, `${i + 1}.00`))));
  t.same(
    answers.map((a) => a.status),
    answers.map(() => 201),
  );
  const me = (await bob.api.get('/me')).body as MeBody;
  t.equal(me.groups[0]?.balance, '-39.00', 'half of 1 + 2 + … + 12');
  t.ok(await home.until((v) => v?.groups[0]?.version === me.groups[0]?.version), 'the stream reaches the last version');
  t.same(home.views.at(-1), me, 'and its last view is the /me body');
  const versions = home.views.map((v) => v.groups[0]?.version ?? 0);
  t.same(
    versions,
    [...versions].sort((a, b) => a - b),
    `never an older view after a newer one (${versions.length} views for 12 expenses)`,
  );
});

/**
 * The test database behind a second app whose reads can be made to fail: `fail.set(table, n)`
 * fails the next n `selectFrom(table)` calls (the table as the read names it). `hits` counts
 * the failures, so a test knows its fault was met.
 */
async function appWithFaults(t: Test) {
  // Its own kysely instance over the test database's pool, so only this app's reads fail.
  const faulty = createDb(ctx.env.database.pool);
  const fail = new Map<string, number>();
  const hits = new Map<string, number>();
  const selectFrom = faulty.selectFrom.bind(faulty);
  faulty.selectFrom = ((from: string) => {
    const left = fail.get(from) ?? 0;
    if (left > 0) {
      fail.set(from, left - 1);
      hits.set(from, (hits.get(from) ?? 0) + 1);
      throw new Error(`injected failure reading ${from}`);
    }
    return selectFrom(from as never);
  }) as typeof faulty.selectFrom;
  const app = await buildApp({ db: faulty, changes: ctx.env.changes, logger: pino({ level: 'silent' }) });
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  t.teardown(() => app.close());
  return { url, fail, hits };
}

t.test('a /me read that fails ends the home stream (it never stays open on an old view); reconnecting shows the current one', async (t) => {
  const faults = await appWithFaults(t);
  const ann = await ctx.api.signUp('Ann');
  const bob = await ctx.api.signUp('Bob');
  const trip = (await bob.api.post('/groups', { name: 'Trip', currency: 'EUR', members: [ann.userId] })).body.groupId as string;
  const home = await openHome(faults.url, bob.token);
  t.teardown(home.abort);
  t.ok(await home.until((v) => v?.groups[0]?.balance === '0.00'));
  faults.fail.set('group_members as m', 1_000);
  t.equal((await ann.api.post(`/groups/${trip}/expenses`, expense(ann.userId, '10.00'))).status, 201);
  for (let i = 0; i < 250 && !home.ended(); i++) await sleep(20);
  t.ok((faults.hits.get('group_members as m') ?? 0) > 0, 'the /me read failed');
  t.ok(home.ended(), 'and the stream ended');
  t.equal(home.views.at(-1)?.groups[0]?.balance, '0.00', 'having sent nothing it could not read');
  faults.fail.clear();
  const again = await openHome(faults.url, bob.token);
  t.teardown(again.abort);
  t.ok(await again.until((v) => v?.groups[0]?.balance === '-5.00'), 'a new stream starts from the current view');
});

t.test('a members query that fails still brings a new group to the home of the user added to it', async (t) => {
  const faults = await appWithFaults(t);
  const ann = await ctx.api.signUp('Ann');
  const bob = await ctx.api.signUp('Bob');
  const home = await openHome(faults.url, bob.token);
  t.teardown(home.abort);
  t.ok(await home.until((v) => v !== undefined && v.groups.length === 0));
  const groupId = (await ann.api.post('/groups', { name: 'Solo', currency: 'EUR' })).body.groupId as string;
  faults.fail.set('group_members', 1_000);
  t.equal((await ann.api.post(`/groups/${groupId}/members`, { userId: bob.userId })).status, 201);
  t.ok(await home.until((v) => v?.groups.some((g) => g.groupId === groupId) ?? false), 'the group appears');
  t.ok((faults.hits.get('group_members') ?? 0) > 0, 'though the members query failed');
  t.equal(home.ended(), false, 'and the stream stays open');
});

t.test('401 without a valid token; HEAD answers at once', async (t) => {
  t.equal((await fetch(`${base}/me/live`)).status, 401);
  t.equal((await fetch(`${base}/me/live`, { headers: { authorization: 'Bearer nope' } })).status, 401);
  const ann = await ctx.api.signUp('Ann');
  const head = await fetch(`${base}/me/live`, { method: 'HEAD', headers: { authorization: `Bearer ${ann.token}` } });
  t.equal(head.status, 200);
  t.match(head.headers.get('content-type'), /text\/event-stream/);
});

t.test('the per-token stream limit counts home streams with group streams', async (t) => {
  const capped = await buildApp({ db: ctx.env.database.db, changes: ctx.env.changes, logger: pino({ level: 'silent' }), liveStreamsPerToken: 2 });
  const cappedBase = await capped.listen({ port: 0, host: '127.0.0.1' });
  const ann = await ctx.api.signUp('Ann');
  const groupId = (await ann.api.post('/groups', { name: 'G', currency: 'EUR' })).body.groupId as string;
  const controller = new AbortController();
  t.teardown(async () => {
    controller.abort();
    await capped.close();
  });
  const group = await fetch(`${cappedBase}/groups/${groupId}/live`, { headers: { authorization: `Bearer ${ann.token}` }, signal: controller.signal });
  const one = await openHome(cappedBase, ann.token);
  t.teardown(one.abort);
  t.same([group.status, one.res.status], [200, 200]);
  const two = await openHome(cappedBase, ann.token);
  t.equal(two.res.status, 429);
  t.match(await two.res.json(), { code: 'TOO_MANY_STREAMS' });
});

t.test('revoking the device ends its home stream', async (t) => {
  const ann = await ctx.api.signUp('Ann');
  const code = (await ann.api.post('/me/sign-in-codes')).body.code as string;
  const phone = (await ctx.api.post('/sign-in', { code, deviceName: 'Phone' })).body as { token: string; deviceId: string };
  const home = await openHome(base, phone.token);
  t.teardown(home.abort);
  t.ok(await home.until((v) => v !== undefined));
  t.equal((await ann.api.delete(`/me/devices/${phone.deviceId}`)).status, 204);
  for (let i = 0; i < 50 && !home.ended(); i++) await sleep(20);
  t.ok(home.ended(), 'the stream ended');
});

// Real server processes (the built CLI) on one database; once, in PostgreSQL mode (the
// KurrentDB run of this file covers the tail in-process above).
t.test('two server processes: Bob follows his home on one, Ann adds him and spends on the other', { skip: testEventLogMode() !== 'postgres' }, async (t) => {
  const database = await createTestDatabase();
  const one = await startServerProcess({ DATABASE_URL: database.url });
  const two = await startServerProcess({ DATABASE_URL: database.url });
  t.teardown(async () => {
    await Promise.all([one.stop(), two.stop()]);
    await database.close();
  });
  const ann = (await call(one.url, 'POST', '/users', undefined, { name: 'Ann' })).body;
  const bob = (await call(two.url, 'POST', '/users', undefined, { name: 'Bob' })).body;
  const home = await openHome(two.url, bob.token);
  t.teardown(home.abort);
  t.ok(await home.until((v) => v !== undefined && v.groups.length === 0), 'Bob starts with no groups');
  const groupId = (await call(one.url, 'POST', '/groups', ann.token, { name: 'Across', currency: 'EUR', members: [bob.userId] })).body.groupId as string;
  t.ok(await home.until((v) => v?.groups.some((g) => g.groupId === groupId) ?? false), 'added in the other process');
  t.equal((await call(one.url, 'POST', `/groups/${groupId}/expenses`, ann.token, expense(ann.userId, '8.00'))).status, 201);
  t.ok(await home.until((v) => v?.totals[0]?.balance === '-4.00'), "Ann's expense in the other process, in the totals");
});
