import pino from 'pino';
import t from 'tap';
import { streamIdOf, type EventEnvelope } from '../src/events/index.js';
import { buildApp } from '../src/api/app.js';
import type { LogPosition } from '../src/store/event-log.js';
import { LiveChanges } from '../src/live/live-changes.js';
import { rebuildProjection } from '../src/projections/rebuild.js';
import { LogSubscriber } from '../src/unit-of-work/log-subscriber.js';
import { balancesOf, foldEvent, newFold } from '../src/replay/fold-group.js';
import { auditUser } from '../src/replay/audit.js';
import { verifyFromLog } from '../src/replay/verify-log.js';
import { KurrentDbEventLog } from '../src/store/kurrentdb-event-log.js';
import { newEnvelopes } from '../src/store/event-store.js';
import { parseDecimal } from '../src/money/decimal.js';
import { handleGroupCommand } from '../src/unit-of-work/command-handler.js';
import { Api, quietLogger, startTestApp, type TestApp } from './helpers/app.js';
import { startKurrentDbDouble, type KurrentDbDouble } from './helpers/kurrentdb-double.js';
import { runCli } from './helpers/server-process.js';
import { createTestDatabase } from './helpers/database.js';
import { PostgresEventLog } from '../src/store/postgres-event-log.js';

// FairShare with KurrentDB as its event log (here the gRPC test double, spoken to by the
// real client) and PostgreSQL as the read model: every acknowledged write is in the log
// and in the projection; a write whose projection did not commit is repaired, by the
// next command on the group or by the log subscriber.

let double: KurrentDbDouble;
let log: KurrentDbEventLog;
let env: TestApp;
let api: Api;

t.before(async () => {
  double = await startKurrentDbDouble();
  log = KurrentDbEventLog.connect(double.url);
  env = await startTestApp({ eventLog: log });
  api = new Api(env.app);
});
t.teardown(async () => {
  await env.close();
  await log.close();
  await double.close();
});

/** The group's balances as an independent fold of its KurrentDB stream says. */
async function foldedBalances(groupId: string): Promise<Record<string, string>> {
  const fold = newFold(groupId);
  for (const e of await log.readStream(streamIdOf(groupId))) foldEvent(fold, e.version, e);
  return Object.fromEntries([...balancesOf(fold)].map(([u, b]) => [u, b.toString()]));
}

/** The balances the API serves, in minor units (EUR: two digits). */
async function servedBalances(as: Api, groupId: string): Promise<Record<string, string>> {
  const res = await as.get(`/groups/${groupId}/balances`);
  return Object.fromEntries(
    (res.body.balances as { userId: string; balance: string }[]).map((b) => {
      const minor = parseDecimal(b.balance.replace(/^-/, ''), 2, { allowZero: true });
      return [b.userId, (b.balance.startsWith('-') ? -minor : minor).toString()];
    }),
  );
}

/** Runs the CLI in KurrentDB mode against this file's database and double. */
const kurrentCli = (...args: string[]) => runCli({ DATABASE_URL: env.database.url, FAIRSHARE_EVENT_LOG: 'kurrentdb', KURRENTDB_URL: double.url }, ...args);

/** Runs AddExpense as a command whose process dies after the KurrentDB append, before the projection commits. */
const crashAfterAppend = (groupId: string, actorUserId: string, expenseId: string, amount: string) =>
  handleGroupCommand(
    {
      db: env.database.db,
      logger: quietLogger(),
      eventLog: log,
      beforeCommit: async () => {
        throw new Error('crash after the append');
      },
    },
    { groupId, actorUserId, requestId: `crash-${expenseId}` },
    { type: 'AddExpense', expenseId, now: new Date().toISOString(), input: { description: 'x', amount, paidBy: actorUserId, split: { mode: 'equal' } } },
  );

const expense = (id: string, amount: string, paidBy: string) => ({ expenseId: id, description: `Item ${id}`, amount, paidBy, split: { mode: 'equal' } });

t.test('commands append to KurrentDB and project into PostgreSQL; nothing goes to the PostgreSQL log', async (t) => {
  const ann = await api.signUp('Ann');
  const bob = await api.signUp('Bob');
  const created = await ann.api.post('/groups', { name: 'Trip', currency: 'EUR', members: [bob.userId] });
  t.equal(created.status, 201);
  const g = created.body.groupId as string;
  t.equal((await ann.api.post(`/groups/${g}/expenses`, expense('e1', '10.00', ann.userId))).status, 201);
  t.equal((await bob.api.post(`/groups/${g}/expenses`, expense('e2', '3.01', bob.userId))).status, 201);
  t.equal(
    (await ann.api.put(`/groups/${g}/expenses/e2`, { description: 'Item e2', amount: '4.00', paidBy: bob.userId, split: { mode: 'equal' } })).status,
    200,
  );
  t.equal((await ann.api.delete(`/groups/${g}/expenses/e1`)).status, 200);

  const stream = await log.readStream(streamIdOf(g));
  t.same(
    stream.map((e) => [e.version, e.type]),
    [
      [1, 'GroupCreated'],
      [2, 'ExpenseAdded'],
      [3, 'ExpenseAdded'],
      [4, 'ExpenseDeleted'],
      [5, 'ExpenseAdded'],
      [6, 'ExpenseDeleted'],
    ],
  );
  t.same(
    double
      .streams()
      .get(streamIdOf(g))
      ?.map((e) => e.revision),
    [0n, 1n, 2n, 3n, 4n, 5n],
    'KurrentDB revision = version - 1',
  );
  t.equal((await env.database.query('select count(*)::int as n from events')).rows[0]?.n, 0, 'the PostgreSQL log stays empty');
  const group = await ann.api.get(`/groups/${g}`);
  t.equal(group.body.version, 6);
  t.same(await servedBalances(ann.api, g), await foldedBalances(g), 'the projection equals a fold of the KurrentDB stream');
});

t.test('a conflict means the projection is behind the log: the command catches up, then decides again', async (t) => {
  const ann = await api.signUp('Ann');
  const g = (await ann.api.post('/groups', { name: 'Flat', currency: 'EUR' })).body.groupId as string;
  // An append whose projection never committed (a crash right after it).
  const orphan = newEnvelopes(
    streamIdOf(g),
    1,
    [
      {
        type: 'ExpenseAdded',
        data: {
          expenseId: 'orphan',
          kind: 'expense',
          description: 'Appended, never projected',
          currency: 'EUR',
          amountMinor: 500,
          payers: [{ userId: ann.userId, amountMinor: 500 }],
          shares: [{ userId: ann.userId, amountMinor: 500 }],
          split: { mode: 'equal' },
          occurredAt: '2026-11-25T10:00:00.000Z',
        },
      },
    ],
    { actorUserId: ann.userId },
    new Date(),
  );
  await log.append(streamIdOf(g), 1, orphan);
  t.equal((await ann.api.get(`/groups/${g}`)).body.version, 1, 'the projection is one behind');

  const next = await ann.api.post(`/groups/${g}/expenses`, expense('e1', '2.00', ann.userId));
  t.equal(next.status, 201);
  t.same(
    (await log.readStream(streamIdOf(g))).map((e) => [e.version, e.type === 'ExpenseAdded' ? e.data.expenseId : e.type]),
    [
      [1, 'GroupCreated'],
      [2, 'orphan'],
      [3, 'e1'],
    ],
    'the command appended after the orphan, with the version it found after catching up',
  );
  const expenses = await ann.api.get(`/groups/${g}/expenses`);
  t.same((expenses.body.items as { expenseId: string }[]).map((e) => e.expenseId).sort(), ['e1', 'orphan']);
  t.equal((await ann.api.get(`/groups/${g}`)).body.version, 3);
});

t.test('a crash between the append and the projection: repaired by the subscriber, and a retry appends nothing', async (t) => {
  const ann = await api.signUp('Ann');
  const g = (await ann.api.post('/groups', { name: 'Crash', currency: 'EUR' })).body.groupId as string;
  await t.rejects(crashAfterAppend(g, ann.userId, 'lost', '3.00'), /crash after the append/);
  t.equal((await log.readStream(streamIdOf(g))).length, 2, 'the event is in the log');
  t.equal((await ann.api.get(`/groups/${g}`)).body.version, 1, 'but not projected');

  const subscriber = new LogSubscriber(env.database.db, log, quietLogger(), { retryMs: 50 });
  subscriber.start();
  t.teardown(() => subscriber.close());
  await subscriber.caughtUp();
  t.ok(subscriber.isLeader);
  t.equal((await ann.api.get(`/groups/${g}`)).body.version, 2, 'repaired without a restart');
  t.ok(subscriber.stats.applied >= 1);

  // The client never heard back and retries with the same expense id: nothing new.
  const retry = await ann.api.post(`/groups/${g}/expenses`, { ...expense('lost', '3.00', ann.userId), description: 'x' });
  t.equal(retry.status, 200, 'the expense is already there');
  t.equal((await log.readStream(streamIdOf(g))).length, 2, 'the retry appended nothing');
});

t.test('an append whose answer is lost is re-sent with the same ids and stored once', async (t) => {
  const ann = await api.signUp('Ann');
  const g = (await ann.api.post('/groups', { name: 'Lossy', currency: 'EUR' })).body.groupId as string;
  double.dropNextAppendReply();
  const added = await ann.api.post(`/groups/${g}/expenses`, expense('e1', '1.00', ann.userId));
  t.equal(added.status, 201);
  const stream = await log.readStream(streamIdOf(g));
  t.same(
    stream.map((e) => e.version),
    [1, 2],
    'stored once',
  );
  t.equal((await ann.api.get(`/groups/${g}`)).body.version, 2);
});

t.test('200 concurrent writes on one group: every one in the log and the projection exactly once', async (t) => {
  const ann = await api.signUp('Ann');
  const bob = await api.signUp('Bob');
  const g = (await ann.api.post('/groups', { name: 'Busy', currency: 'EUR', members: [bob.userId] })).body.groupId as string;
  const results = await Promise.all(
    Array.from({ length: 200 }, (_, i) =>
      (i % 2 ? bob : ann).api.post(`/groups/${g}/expenses`, expense(`c${i}`, `${(i % 7) + 1}.0${i % 10}`, (i % 2 ? bob : ann).userId)),
    ),
  );
  t.same(
    results.map((r) => r.status).filter((s) => s !== 201),
    [],
  );
  const stream = await log.readStream(streamIdOf(g));
  t.equal(stream.length, 201);
  t.same(
    stream.map((e) => e.version),
    Array.from({ length: 201 }, (_, i) => i + 1),
  );
  t.equal(new Set(stream.map((e: EventEnvelope) => (e.type === 'ExpenseAdded' ? e.data.expenseId : e.type))).size, 201, 'each expense once');
  t.same(await servedBalances(ann.api, g), await foldedBalances(g));
});

t.test('one log subscriber leads; a standby takes over when it goes, and a cut subscription resumes from the checkpoint', async (t) => {
  const first = new LogSubscriber(env.database.db, log, quietLogger(), { name: 'election', retryMs: 50 });
  const second = new LogSubscriber(env.database.db, log, quietLogger(), { name: 'election', retryMs: 50 });
  first.start();
  await first.caughtUp();
  second.start();
  await new Promise((resolve) => setTimeout(resolve, 200));
  t.ok(first.isLeader);
  t.notOk(second.isLeader, 'only one leads');

  await first.close();
  await second.caughtUp();
  t.ok(second.isLeader, 'the standby took over');

  // An event appended without its projection, while the subscription is cut: found after it resumes.
  const ann = await api.signUp('Ann');
  const g = (await ann.api.post('/groups', { name: 'Cut', currency: 'EUR' })).body.groupId as string;
  t.ok(double.cutSubscriptions() >= 1, 'a subscription was cut');
  const lone = newEnvelopes(streamIdOf(g), 1, [{ type: 'MemberAdded', data: { userId: 'late', name: 'Late' } }], { actorUserId: ann.userId }, new Date());
  await log.append(streamIdOf(g), 1, lone);
  for (let i = 0; i < 100 && (await ann.api.get(`/groups/${g}`)).body.version !== 2; i++) await new Promise((resolve) => setTimeout(resolve, 50));
  t.equal((await ann.api.get(`/groups/${g}`)).body.version, 2, 'repaired after resubscribing');
  t.ok(second.stats.resubscribed >= 1);
  const checkpoint = await env.database.query<{ position: string }>(`select position from log_checkpoints where name = 'election'`);
  t.match(checkpoint.rows[0]?.position, /^\d+\/\d+$/, 'the checkpoint is stored');
  await second.close();
});

t.test('live updates: another process hears a change only once its projection has committed', async (t) => {
  const other = new LiveChanges(env.database.db, quietLogger(), { idleMs: 20 });
  await other.start();
  t.teardown(() => other.close());
  const ann = await api.signUp('Ann');
  const g = (await ann.api.post('/groups', { name: 'Live', currency: 'EUR' })).body.groupId as string;
  const heard: number[] = [];
  let notify: () => void = () => undefined;
  other.subscribe(g, (view) => {
    // (The group's creation, version 1, may still be on its way to this tail.)
    if (view.version === 1) return;
    heard.push(view.version);
    notify();
  });
  const next = () => new Promise<void>((resolve) => (notify = resolve));

  let arrived = next();
  t.equal((await ann.api.post(`/groups/${g}/expenses`, expense('e1', '4.00', ann.userId))).status, 201);
  await arrived;
  t.same(heard, [2], 'the other process heard version 2 from the projection change record');

  // A projection that did not commit is never announced; its repair by the subscriber is.
  const failing = crashAfterAppend(g, ann.userId, 'e2', '1.00');
  await t.rejects(failing, /crash after the append/);
  await new Promise((resolve) => setTimeout(resolve, 200));
  t.same(heard, [2], 'nothing announced for the rolled-back projection');
  arrived = next();
  const subscriber = new LogSubscriber(env.database.db, log, quietLogger(), { name: 'live', retryMs: 50 });
  subscriber.start();
  t.teardown(() => subscriber.close());
  await arrived;
  t.same(heard, [2, 3], 'the repair is announced');
});

t.test("the group's trail and the operator feed read the KurrentDB log; the trail never runs ahead of the projection", async (t) => {
  const OPERATOR = 'op_kurrent_feed_0123456789abcdef0123';
  const app = await buildApp({ db: env.database.db, changes: env.changes, logger: quietLogger(), eventLog: log, operatorTokens: [OPERATOR] });
  t.teardown(() => app.close());
  const fresh = new Api(app);
  const operator = fresh.as(OPERATOR);
  const ann = await fresh.signUp('Ann');
  const g = (await ann.api.post('/groups', { name: 'Trail', currency: 'EUR' })).body.groupId as string;
  t.equal((await ann.api.post(`/groups/${g}/expenses`, expense('e1', '2.00', ann.userId))).status, 201);

  const trail = await ann.api.get(`/groups/${g}/events`);
  t.same(
    trail.body.items.map((e: any) => [e.version, e.type]),
    [
      [1, 'GroupCreated'],
      [2, 'ExpenseAdded'],
    ],
  );
  t.equal(trail.body.nextAfter, 2);

  // Appended, not projected: the log has version 3, the projection 2.
  await t.rejects(crashAfterAppend(g, ann.userId, 'e2', '1.00'), /crash after the append/);
  t.equal((await log.readStream(streamIdOf(g))).length, 3);
  const behind = await ann.api.get(`/groups/${g}/events?after=1`);
  t.same(
    behind.body.items.map((e: any) => e.version),
    [2],
    'the trail stops at the version the balances show',
  );
  t.same((await ann.api.get(`/groups/${g}/events?after=2`)).body, { items: [], nextAfter: 2 });

  // The operator feed is the log itself, in $all order, with KurrentDB positions as checkpoints.
  const items: any[] = [];
  let after: string | undefined;
  for (;;) {
    const page = await operator.get(`/events?limit=7${after ? `&after=${after}` : ''}`);
    t.equal(page.status, 200);
    if (page.body.items.length === 0) {
      t.equal(page.body.nextAfter, after ?? log.start, 'at the end, nextAfter stays put');
      break;
    }
    items.push(...page.body.items);
    after = page.body.nextAfter;
  }
  const everything: string[] = [];
  for (let from: LogPosition | undefined; ;) {
    const page = await log.readAll({ after: from, limit: 1000 });
    if (page.length === 0) break;
    everything.push(...page.map((p) => p.event.eventId));
    from = page.at(-1)?.position;
  }
  t.same(
    items.map((e) => e.eventId),
    everything,
    'every event of the log once, in order, including the one not yet projected',
  );
  t.match(items[0], { checkpoint: /^\d+\/\d+$/ });
  t.equal((await operator.get(`/events?after=${encodeURIComponent(log.start)}&limit=1`)).body.items[0].eventId, everything[0], `"${log.start}" is the start`);
  const wrong = await operator.get('/events?after=0.0');
  t.equal(wrong.status, 400, "a PostgreSQL checkpoint is not this log's");
  t.match(wrong.body.detail, /checkpoint/);

  // Repaired, the trail shows it.
  const subscriber = new LogSubscriber(env.database.db, log, quietLogger(), { name: 'trail', retryMs: 50 });
  subscriber.start();
  t.teardown(() => subscriber.close());
  await subscriber.caughtUp();
  t.same(
    (await ann.api.get(`/groups/${g}/events?after=2`)).body.items.map((e: any) => [e.version, e.type]),
    [[3, 'ExpenseAdded']],
  );
});

t.test(
  'KurrentDB down: writes answer 503 with Retry-After within the append budget and change nothing; reads go on; a retry afterwards applies once',
  async (t) => {
    const impatient = KurrentDbEventLog.connect(double.url, { appendTimeoutMs: 700, failFastMs: 60_000 });
    const app = await buildApp({ db: env.database.db, changes: env.changes, logger: quietLogger(), eventLog: impatient });
    t.teardown(async () => {
      await app.close();
      await impatient.close();
    });
    const fresh = new Api(app);
    const ann = await fresh.signUp('Ann');
    const g = (await ann.api.post('/groups', { name: 'Outage', currency: 'EUR' })).body.groupId as string;
    const before = await ann.api.get(`/groups/${g}/balances`);

    await double.refuseConnections(true);
    const down = await ann.api.post(`/groups/${g}/expenses`, expense('o1', '5.00', ann.userId));
    t.equal(down.status, 503);
    t.equal(down.body.code, 'EVENT_LOG_UNAVAILABLE');
    t.match(down.body.detail, /at most once/);
    t.equal(down.headers['retry-after'], '5');
    const rpcs = double.rpcs().length;
    const fast = await ann.api.post(`/groups/${g}/expenses`, expense('o2', '1.00', ann.userId));
    t.equal(fast.status, 503, 'while the log is known to be down, writes fail at once…');
    t.equal(double.rpcs().length, rpcs, '…without trying it (nor holding a database connection meanwhile)');
    const read = await ann.api.get(`/groups/${g}/balances`);
    t.equal(read.status, 200, 'reads are served from the projection');
    t.same(read.body, before.body, 'nothing changed');
    t.equal((await ann.api.get(`/groups/${g}/events`)).status, 503, 'the trail, read from the log, is unavailable too');
    await double.refuseConnections(false);

    // A fresh log object (the failing-fast one would wait out its minute): the retry lands once.
    const again = await api.as(ann.token).post(`/groups/${g}/expenses`, expense('o1', '5.00', ann.userId));
    t.equal(again.status, 201);
    t.equal((await api.as(ann.token).post(`/groups/${g}/expenses`, expense('o1', '5.00', ann.userId))).status, 200, 'and once only');
    t.same(
      (await log.readStream(streamIdOf(g))).map((e) => e.type),
      ['GroupCreated', 'ExpenseAdded'],
    );

    // A server gone silent (it stores, never answers): the write still answers 503 at the
    // budget, not when gRPC gives up; its events landed, so the retry finds them.
    const silent = KurrentDbEventLog.connect(double.url, { appendTimeoutMs: 500, failFastMs: 0 });
    const silentApp = await buildApp({ db: env.database.db, changes: env.changes, logger: quietLogger(), eventLog: silent });
    t.teardown(async () => {
      await silentApp.close();
      await silent.close();
    });
    double.silentAppends(true);
    const sent = Date.now();
    const unanswered = await new Api(silentApp).as(ann.token).post(`/groups/${g}/expenses`, expense('o3', '2.00', ann.userId));
    const waited = Date.now() - sent;
    double.silentAppends(false);
    t.equal(unanswered.status, 503);
    // A deadline, not a benchmark: gRPC alone would give up only after its keepalive (20 s).
    t.ok(waited < 5_000, `answered after ${waited} ms with a 500 ms budget`);
    t.equal(unanswered.body.code, 'EVENT_LOG_UNAVAILABLE');
    t.equal((await log.readStream(streamIdOf(g))).length, 3, 'the silent server stored it');
    const retried = await api.as(ann.token).post(`/groups/${g}/expenses`, expense('o3', '2.00', ann.userId));
    t.equal(retried.status, 200, 'the retry catches up from the log and finds the expense there');
    t.equal((await log.readStream(streamIdOf(g))).length, 3, 'nothing appended twice');
    t.equal(retried.body.version, 3);

    // A group created with only an Idempotency-Key: its id comes from the key, so the
    // retry of an unanswered create names the same group and gets it, not a second one.
    double.silentAppends(true);
    const lostCreate = await new Api(silentApp).as(ann.token).post('/groups', { name: 'Keyed', currency: 'EUR' }, { 'idempotency-key': 'create-keyed' });
    double.silentAppends(false);
    t.equal(lostCreate.status, 503);
    const mine = async () => (await api.as(ann.token).get('/me')).body.groups.filter((x: any) => x.name === 'Keyed');
    const subscriber = new LogSubscriber(env.database.db, log, quietLogger(), { name: 'keyed', retryMs: 50 });
    subscriber.start();
    t.teardown(() => subscriber.close());
    await subscriber.caughtUp();
    t.equal((await mine()).length, 1, 'repaired from the log');
    const createdAgain = await api.as(ann.token).post('/groups', { name: 'Keyed', currency: 'EUR' }, { 'idempotency-key': 'create-keyed' });
    t.equal(createdAgain.status, 201, 'the retry is answered with the group');
    t.equal(createdAgain.body.groupId, (await mine())[0].groupId);
    t.equal((await mine()).length, 1, 'one group, not two');
  },
);

t.test('one Idempotency-Key on two groups at once: one write appends, the other is told the key was used', async (t) => {
  const ann = await api.signUp('Ann');
  const g1 = (await ann.api.post('/groups', { name: 'One', currency: 'EUR' })).body.groupId as string;
  const g2 = (await ann.api.post('/groups', { name: 'Two', currency: 'EUR' })).body.groupId as string;
  const body = { description: 'Same key', amount: '3.00', paidBy: ann.userId, split: { mode: 'equal' } };
  const answers = await Promise.all([g1, g2, g1, g2].map((g) => ann.api.post(`/groups/${g}/expenses`, body, { 'idempotency-key': 'one-key-two-groups' })));
  const statuses = answers.map((a) => a.status);
  const winner = statuses.indexOf(201) % 2 === 0 ? g1 : g2;
  t.same([...statuses].sort(), [201, 201, 422, 422], 'the same request again is answered from the key; the other group is refused');
  t.ok(answers.filter((a) => a.status === 422).every((a) => a.body.code === 'IDEMPOTENCY_KEY_REUSED'));
  const added = async (g: string) => (await log.readStream(streamIdOf(g))).filter((e) => e.type === 'ExpenseAdded').length;
  t.equal(await added(winner), 1);
  t.equal(await added(winner === g1 ? g2 : g1), 0, 'nothing appended to the other group');
});

t.test('a database run with one kind of log is refused by the other; --group finds a group only the log has', async (t) => {
  const ann = await api.signUp('Ann');
  const g = (await ann.api.post('/groups', { name: 'Mode', currency: 'EUR' })).body.groupId as string;
  const groups = async () => (await env.database.query<{ n: number }>('select count(*)::int as n from groups')).rows[0]?.n;
  const before = await groups();

  // This database was run with KurrentDB: PostgreSQL mode would see groups without events.
  const rebuild = await runCli({ DATABASE_URL: env.database.url }, 'replay', 'rebuild');
  t.equal(rebuild.status, 2, rebuild.stdout);
  t.match(rebuild.stderr, /holds groups but no events: it was run with FAIRSHARE_EVENT_LOG=kurrentdb/);
  t.equal(await groups(), before, 'the rebuild removed nothing');
  const serve = await runCli({ DATABASE_URL: env.database.url, PORT: '0' }, 'serve');
  t.not(serve.status, 0, 'the server does not start');
  t.match(serve.stdout + serve.stderr, /FAIRSHARE_EVENT_LOG=kurrentdb/);

  // A database whose events are in PostgreSQL, opened in KurrentDB mode.
  const other = await createTestDatabase();
  t.teardown(() => other.close());
  await new PostgresEventLog(other.db).append(
    'group-pg',
    0,
    newEnvelopes(
      'group-pg',
      0,
      [{ type: 'GroupCreated', data: { groupId: 'pg', name: 'PG', currency: 'EUR', members: [{ userId: 'u', name: 'U' }] } }],
      {},
      new Date(),
    ),
  );
  const verify = await runCli({ DATABASE_URL: other.url, FAIRSHARE_EVENT_LOG: 'kurrentdb', KURRENTDB_URL: double.url }, 'replay', 'verify');
  t.equal(verify.status, 2, verify.stdout);
  t.match(verify.stderr, /keeps its events in PostgreSQL/);

  // --group: a group the projection lost but the log has is drift, not "no such group".
  const subscriber = new LogSubscriber(env.database.db, log, quietLogger(), { name: 'projector', retryMs: 50 });
  subscriber.start();
  await subscriber.caughtUp();
  await subscriber.close();
  for (const table of ['group_members', 'user_balances', 'expenses', 'groups']) await env.database.query(`delete from ${table} where group_id = $1`, [g]);
  const lost = await kurrentCli('replay', 'verify', '--group', g, '--wait', '1');
  t.equal(lost.status, 1, lost.stderr);
  t.match(lost.stdout, new RegExp(`DRIFT group=${g} missing-group`));
  t.equal((await kurrentCli('replay', 'rebuild', '--group', g)).status, 0, 'and a rebuild of it brings it back');
  t.equal((await ann.api.get(`/groups/${g}`)).status, 200);
});

t.test('an event the projection cannot take: the subscriber says which, at error level, waits longer each time, and goes on once it is mended', async (t) => {
  const ann = await api.signUp('Ann');
  const bob = await api.signUp('Bob');
  const g = (await ann.api.post('/groups', { name: 'Poison', currency: 'EUR', members: [bob.userId] })).body.groupId as string;
  const lines: any[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line)) });
  const subscriber = new LogSubscriber(env.database.db, log, logger, { name: 'poison', retryMs: 20, maxRetryMs: 160 });
  subscriber.start();
  t.teardown(() => subscriber.close());
  await subscriber.caughtUp();

  // Bob's balance row is gone: an expense he shares cannot be projected (the command fails
  // after its append, unacknowledged; the event waits in the log).
  await env.database.query('delete from user_balances where group_id = $1 and user_id = $2', [g, bob.userId]);
  t.equal((await ann.api.post(`/groups/${g}/expenses`, expense('p1', '2.00', ann.userId))).status, 500);
  for (let i = 0; i < 300 && subscriber.stats.consecutiveFailures < 4; i++) await new Promise((r) => setTimeout(r, 20));
  const failures = lines.filter((l) => l.msg.startsWith('log subscriber cannot apply an event'));
  t.ok(failures.length >= 4, `${failures.length} attempts`);
  t.match(failures[0], { level: 50, stream: streamIdOf(g), version: 2, type: 'ExpenseAdded', checkpoint: 'poison' });
  t.same(
    failures.slice(0, 4).map((l) => l.retryMs),
    [20, 40, 80, 160],
    'the wait doubles…',
  );
  t.ok(
    failures.slice(4).every((l) => l.retryMs === 160),
    '…up to its cap',
  );

  await env.database.query('insert into user_balances (group_id, user_id, balance_minor) values ($1, $2, 0)', [g, bob.userId]);
  for (let i = 0; i < 300 && (await ann.api.get(`/groups/${g}`)).body.version !== 2; i++) await new Promise((r) => setTimeout(r, 20));
  t.equal((await ann.api.get(`/groups/${g}`)).body.version, 2, 'mended: the event is projected');
  for (let i = 0; i < 100 && subscriber.stats.consecutiveFailures !== 0; i++) await new Promise((r) => setTimeout(r, 20));
  t.equal(subscriber.stats.consecutiveFailures, 0);
});

t.test('replay verify folds the KurrentDB log: drift is drift, a projection behind the log is lag', async (t) => {
  const subscriber = new LogSubscriber(env.database.db, log, quietLogger(), { name: 'projector', retryMs: 50 });
  subscriber.start();
  await subscriber.caughtUp();
  await subscriber.close();
  const clean = await verifyFromLog(env.database.db, log, { waitMs: 2_000 });
  t.same(clean.mismatches, []);
  t.same(clean.lagging, []);
  t.ok(clean.groups >= 5 && clean.events > 200, `${clean.groups} groups, ${clean.events} events folded from the log`);
  const cliRun = (...args: string[]) => kurrentCli('replay', 'verify', ...args);
  const ok = await cliRun('--wait', '2');
  t.equal(ok.status, 0, ok.stderr + ok.stdout);
  t.match(ok.stdout, /^OK: \d+ groups, \d+ events/m);

  // Drift: a balance changed behind the projector's back.
  const ann = await api.signUp('Ann');
  const g = (await ann.api.post('/groups', { name: 'Audit', currency: 'EUR' })).body.groupId as string;
  await ann.api.post(`/groups/${g}/expenses`, expense('e1', '6.00', ann.userId));
  await env.database.query('update user_balances set balance_minor = balance_minor + 1 where group_id = $1', [g]);
  const drift = await verifyFromLog(env.database.db, log, { groupId: g, waitMs: 100 });
  t.match(drift.mismatches, [
    { groupId: g, kind: 'balance' },
    { groupId: g, kind: 'sum' },
  ]);
  t.equal((await cliRun('--group', g, '--wait', '1')).status, 1);
  await env.database.query('update user_balances set balance_minor = balance_minor - 1 where group_id = $1', [g]);

  // Lag: an append whose projection did not commit, and no subscriber has run since.
  await log.append(
    streamIdOf(g),
    2,
    newEnvelopes(streamIdOf(g), 2, [{ type: 'MemberAdded', data: { userId: 'lagger', name: 'L' } }], { actorUserId: ann.userId }, new Date()),
  );
  const lag = await verifyFromLog(env.database.db, log, { waitMs: 300 });
  t.same(lag.mismatches, [], 'lag is not drift');
  t.same(lag.lagging, [{ groupId: g, projectedVersion: 2, loggedVersion: 3 }]);
  const lagging = await cliRun('--wait', '1');
  t.equal(lagging.status, 3, lagging.stderr);
  t.match(lagging.stdout, new RegExp(`LAG group=${g}: the log is at version 3, the projection at 2`));

  // Written while the check reads the log: compared at the version it was projected to.
  const subscriber2 = new LogSubscriber(env.database.db, log, quietLogger(), { name: 'projector', retryMs: 50 });
  subscriber2.start();
  await subscriber2.caughtUp();
  await subscriber2.close();
  const h = (await ann.api.post('/groups', { name: 'Busy meanwhile', currency: 'EUR' })).body.groupId as string;
  // The check notes the log's head first; these writes land right after it.
  let wrote = false;
  const writesAfterHead = new Proxy(log, {
    get(target, property) {
      if (property === 'head')
        return async () => {
          const head = await target.head();
          await ann.api.post(`/groups/${h}/expenses`, expense('late', '4.00', ann.userId));
          await ann.api.post('/groups', { groupId: 'created-meanwhile', name: 'New', currency: 'EUR' });
          wrote = true;
          return head;
        };
      const value = Reflect.get(target, property, target) as unknown;
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  const meanwhile = await verifyFromLog(env.database.db, writesAfterHead, { waitMs: 2_000 });
  t.ok(wrote);
  t.same(meanwhile.mismatches, []);
  t.equal(meanwhile.movedOn, 2, 'the group written and the group created during the check were compared at their projected versions');

  // A projection ahead of its log is drift, not "moved on".
  await env.database.query('update groups set version = version + 1 where group_id = $1', [h]);
  t.match((await verifyFromLog(env.database.db, log, { waitMs: 2_000 })).mismatches, [{ groupId: h, kind: 'version', expected: '2', actual: '3' }]);
  await env.database.query('update groups set version = version - 1 where group_id = $1', [h]);
});

t.test('audit explains a balance from the KurrentDB log', async (t) => {
  const ann = await api.signUp('Ann');
  const bob = await api.signUp('Bob');
  const g = (await ann.api.post('/groups', { name: 'Why', currency: 'EUR', members: [bob.userId] })).body.groupId as string;
  await ann.api.post(`/groups/${g}/expenses`, expense('e1', '10.00', ann.userId));
  await bob.api.post(`/groups/${g}/expenses`, expense('e2', '3.00', bob.userId));
  await ann.api.delete(`/groups/${g}/expenses/e1`);
  const report = await auditUser(env.database.db, g, bob.userId, { eventLog: log });
  t.same(
    report?.entries.map((e) => [e.version, e.expenseId, e.delta, e.balance]),
    [
      [2, 'e1', '-5.00', '-5.00'],
      [3, 'e2', '1.50', '-3.50'],
      [4, 'e1', '5.00', '1.50'],
    ],
  );
  t.match(report, { balance: '1.50', served: '1.50', matches: true });
  const out = await kurrentCli('audit', '--group', g, '--user', bob.userId);
  t.equal(out.status, 0, out.stderr);
  t.match(out.stdout, /event log balance 1\.50; served balance 1\.50: MATCH/);
});

t.test('a payment retried with only its Idempotency-Key names the same expense, even with the key record gone', async (t) => {
  const ann = await api.signUp('Ann');
  const bob = await api.signUp('Bob');
  const g = (await ann.api.post('/groups', { name: 'Pay', currency: 'EUR', members: [bob.userId] })).body.groupId as string;
  const payment = { kind: 'payment', description: 'Paying back', amount: '5.00', paidBy: bob.userId, split: { mode: 'equal', among: [ann.userId] } };
  const first = await bob.api.post(`/groups/${g}/expenses`, payment, { 'idempotency-key': 'pay-1' });
  t.equal(first.status, 201);
  // As after a crash between the append and the projection's commit: no stored answer.
  await env.database.query(`delete from idempotency_keys where key = 'pay-1'`);
  const retry = await bob.api.post(`/groups/${g}/expenses`, payment, { 'idempotency-key': 'pay-1' });
  t.equal(retry.status, 200, 'the same expense again: nothing appended');
  t.match(first.body.expense.expenseId, /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/, 'an id named by the key');
  t.equal(retry.body.expense.expenseId, first.body.expense.expenseId);
  t.equal((await log.readStream(streamIdOf(g))).length, 2, 'one payment in the log');
  const other = await bob.api.post(`/groups/${g}/expenses`, payment, { 'idempotency-key': 'pay-2' });
  t.equal(other.status, 201, 'another key is another payment');
});

t.test('replay rebuild reads the KurrentDB log: drift mended, orphans removed, the checkpoint moved to the head', async (t) => {
  const ann = await api.signUp('Ann');
  const bob = await api.signUp('Bob');
  const g = (await ann.api.post('/groups', { name: 'Mend', currency: 'EUR', members: [bob.userId] })).body.groupId as string;
  await ann.api.post(`/groups/${g}/expenses`, expense('e1', '9.00', ann.userId));
  await bob.api.post(`/groups/${g}/expenses`, expense('e2', '2.00', bob.userId));
  await env.database.query('update user_balances set balance_minor = balance_minor + 100 where group_id = $1 and user_id = $2', [g, bob.userId]);
  await env.database.query(`delete from expenses where group_id = $1 and expense_id = 'e1'`, [g]);
  await env.database.query(
    `insert into groups (group_id, name, currency, version, created_at, updated_at) values ('nobody-logged-this', 'Ghost', 'EUR', 1, now(), now())`,
  );
  await env.database.query(`delete from log_checkpoints where name = 'projector'`);
  const drifted = await verifyFromLog(env.database.db, log, { groupId: g, waitMs: 100 });
  t.ok(drifted.mismatches.length >= 2, 'drift to mend');

  const rebuilt = await rebuildProjection(env.database.db, { eventLog: log, batchEvents: 50 });
  t.ok(rebuilt.groups >= 10, `${rebuilt.groups} groups rebuilt from ${rebuilt.events} events`);
  t.equal(rebuilt.removedGroups, 1, 'the group with no stream in the log is removed');
  const after = await verifyFromLog(env.database.db, log, { waitMs: 100 });
  t.same(after.mismatches, []);
  t.same(after.lagging, [], 'the checkpoint is at the head: nothing reported as lag');
  t.equal((await env.database.query(`select position from log_checkpoints where name = 'projector'`)).rows[0]?.position, await log.head());
  t.same(await servedBalances(ann.api, g), await foldedBalances(g));
  const listed = (await ann.api.get(`/groups/${g}/expenses`)).body.items as { expenseId: string }[];
  t.ok(
    listed.some((e) => e.expenseId === 'e1'),
    'the deleted row is back',
  );
  const cli = await kurrentCli('replay', 'rebuild', '--json');
  t.equal(cli.status, 0, cli.stderr);
  t.match(JSON.parse(cli.stdout), { ok: true, rebuild: { removedGroups: 0 }, verify: { mismatches: [], lagging: [] } });
});

t.test('after its append, a PostgreSQL error does not make the command decide again: it projects its own events and answers', async (t) => {
  const ann = await api.signUp('Ann');
  const g = (await ann.api.post('/groups', { name: 'Once', currency: 'EUR' })).body.groupId as string;
  let failures = 0;
  const result = await handleGroupCommand(
    {
      db: env.database.db,
      logger: quietLogger(),
      eventLog: log,
      beforeCommit: async () => {
        failures += 1;
        throw Object.assign(new Error('could not serialize access'), { code: '40001' });
      },
    },
    { groupId: g, actorUserId: ann.userId, requestId: 'pg-error', idempotencyKey: 'once-1', requestFingerprint: { x: 1 } },
    {
      type: 'AddExpense',
      expenseId: 'once',
      now: new Date().toISOString(),
      input: { description: 'x', amount: '2.00', paidBy: ann.userId, split: { mode: 'equal' } },
    },
  );
  t.equal(failures, 1, 'decided and appended once');
  t.match(result, { outcome: { appended: 1, version: 2 }, replayed: false }, 'answered as the command that appended');
  t.equal((await log.readStream(streamIdOf(g))).length, 2, 'one copy in the log');
  t.equal((await ann.api.get(`/groups/${g}`)).body.version, 2, 'and projected');
  t.equal((await env.database.query(`select count(*)::int as n from idempotency_keys where key = 'once-1'`)).rows[0]?.n, 1, 'with its key');
});

t.test('commands and a running log subscriber on the same new groups: no conflicts, no resubscribes', async (t) => {
  const subscriber = new LogSubscriber(env.database.db, log, quietLogger(), { name: 'busy', retryMs: 50 });
  subscriber.start();
  t.teardown(() => subscriber.close());
  await subscriber.caughtUp();
  const ann = await api.signUp('Ann');
  const created = await Promise.all(Array.from({ length: 20 }, (_, i) => ann.api.post('/groups', { groupId: `busy-${i}`, name: `B${i}`, currency: 'EUR' })));
  t.same(
    created.map((r) => r.status),
    Array.from({ length: 20 }, () => 201),
  );
  const added = await Promise.all(Array.from({ length: 20 }, (_, i) => ann.api.post(`/groups/busy-${i}/expenses`, expense('e1', '1.00', ann.userId))));
  t.same(
    added.map((r) => r.status),
    Array.from({ length: 20 }, () => 201),
  );
  await new Promise((resolve) => setTimeout(resolve, 300));
  t.equal(subscriber.stats.resubscribed, 0, 'the subscriber never tripped over a command');
  t.equal(subscriber.stats.applied, 0, 'the commands projected everything themselves');
  t.ok(subscriber.stats.skipped >= 40);
});

t.test('closing a log subscriber right after starting it returns', async (t) => {
  const subscriber = new LogSubscriber(env.database.db, log, quietLogger(), { name: 'short-lived', retryMs: 50 });
  subscriber.start();
  await subscriber.close();
  t.pass('closed');
});
