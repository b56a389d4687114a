import t from 'tap';
import { handleGroupCommand } from '../src/unit-of-work/command-handler.js';
import { Api, startTestApp, testEventLogMode, type TestApp } from './helpers/app.js';
import { foldBalances, projectedBalances, toMinor } from './helpers/fold.js';

let env: TestApp;
let api: Api;
let baseUrl: string;
t.before(async () => {
  env = await startTestApp();
  api = new Api(env.app);
  baseUrl = await env.app.listen({ port: 0, host: '127.0.0.1' });
});
t.teardown(() => env.close());

const http = async (method: string, path: string, token: string, body?: unknown, headers: Record<string, string> = {}) => {
  const res = await fetch(`${baseUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}), ...headers },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  return { status: res.status, body: (await res.json()) as any };
};

async function groupOf(...names: string[]) {
  const users = [];
  for (const name of names) users.push(await api.signUp(name));
  const owner = users[0]!;
  const group = await owner.api.post('/groups', { name: names.join('+'), currency: 'USD', members: users.slice(1).map((u) => u.userId) });
  return { users, owner, groupId: group.body.groupId as string };
}

const kurrent = testEventLogMode() === 'kurrentdb-double';

// PostgreSQL's own log (with KurrentDB as the log, the events table stays empty: there,
// a user that cannot delete or truncate streams keeps the log immutable, see README).
if (!kurrent)
  t.test('the events table refuses UPDATE, DELETE and TRUNCATE; (stream, version) is unique', async (t) => {
    const { owner, groupId } = await groupOf('Imm');
    await owner.api.post(`/groups/${groupId}/expenses`, { description: 'x', amount: '1.00', paidBy: owner.userId, split: { mode: 'equal' } });
    const db = env.database;
    await t.rejects(db.query(`update events set data = '{}' where stream_id = $1`, [`group-${groupId}`]), /immutable/);
    await t.rejects(db.query('delete from events where stream_id = $1', [`group-${groupId}`]), /immutable/);
    await t.rejects(db.query('truncate events'), /immutable/);
    await t.rejects(
      db.query(
        `insert into events (stream_id, version, event_id, type, schema_version, data, metadata) values ($1, 1, gen_random_uuid(), 'MemberAdded', 1, '{}', '{}')`,
        [`group-${groupId}`],
      ),
      /duplicate key/,
    );
    t.equal((await projectedBalances(env, groupId)).eventCount, 2);
  });

t.test('a failing projection: PostgreSQL rolls back the append (commit both or neither); KurrentDB repairs it; never acknowledged', async (t) => {
  const { owner, users, groupId } = await groupOf('Pro', 'Jec');
  const notified: number[] = [];
  const unsubscribe = env.changes.subscribe(groupId, (view) => notified.push(view.version));
  const before = await projectedBalances(env, groupId);
  // Break the read model: the projector cannot find Jec's balance row any more.
  await env.database.query('delete from user_balances where group_id = $1 and user_id = $2', [groupId, users[1]!.userId]);
  const res = await owner.api.post(`/groups/${groupId}/expenses`, { description: 'x', amount: '2.00', paidBy: owner.userId, split: { mode: 'equal' } });
  t.equal(res.status, 500);
  t.equal(res.body.code, 'INTERNAL_ERROR');
  t.notMatch(res.body.detail, /balance|group|user_balances/i, 'a 5xx shows no internals');
  const after = await projectedBalances(env, groupId);
  // KurrentDB mode appends to the log before it projects: the unacknowledged write is in
  // the log, and the log subscriber projects it once the read model can take it.
  t.equal(after.eventCount, before.eventCount + (kurrent ? 1 : 0), kurrent ? 'the event is in the KurrentDB log' : 'the event was not appended');
  t.equal(after.version, before.version, 'the group version did not move');

  // A failure after projecting, before the commit, rolls the projection back too.
  await env.database.query('insert into user_balances (group_id, user_id, balance_minor) values ($1, $2, 0)', [groupId, users[1]!.userId]);
  await env.projected(groupId);
  const repaired = await projectedBalances(env, groupId);
  await t.rejects(
    handleGroupCommand(
      env.handlerDeps({
        beforeCommit: async () => {
          throw new Error('crash after projection');
        },
      }),
      { groupId, actorUserId: owner.userId, requestId: 'test' },
      {
        type: 'AddExpense',
        expenseId: 'boom',
        now: new Date().toISOString(),
        input: { description: 'x', amount: '2.00', paidBy: owner.userId, split: { mode: 'equal' } },
      },
    ),
    /crash after projection/,
  );
  if (kurrent) {
    await env.projected(groupId);
    t.equal((await projectedBalances(env, groupId)).version, (repaired.version ?? 0) + 1, 'the crashed command is repaired from the log');
  } else {
    const still = await projectedBalances(env, groupId);
    t.equal(still.eventCount, before.eventCount);
    t.equal((await env.database.query('select count(*)::int n from expenses where group_id = $1', [groupId])).rows[0]?.n, 0, 'no expense row left behind');
  }
  const ok = await owner.api.post(`/groups/${groupId}/expenses`, { description: 'x', amount: '2.00', paidBy: owner.userId, split: { mode: 'equal' } });
  t.equal(ok.status, 201);
  await new Promise((resolve) => setTimeout(resolve, 300));
  unsubscribe();
  const announced = notified.filter((v) => v > (before.version ?? 0));
  if (kurrent) {
    // Repairs are announced too; a stream may skip a version it is already past.
    t.ok(
      announced.every((v, i) => i === 0 || v > (announced[i - 1] as number)),
      `announced in order: ${announced.join(', ')}`,
    );
    t.equal(announced.at(-1), 4, 'up to the last committed version');
  } else t.same(announced, [2], 'only the committed change was announced');
  t.same((await env.verify({ groupId })).mismatches, [], 'the projection equals the fold of the log');
});

t.test('60 concurrent writes to one group over real HTTP all land exactly once', async (t) => {
  const { users, groupId } = await groupOf('C1', 'C2', 'C3');
  const writes = Array.from({ length: 60 }, (_, i) => {
    const user = users[i % 3]!;
    return http('POST', `/groups/${groupId}/expenses`, user.token, {
      expenseId: `c-${i}`,
      description: `Concurrent ${i}`,
      amount: `${(i + 1) * 7}.${String(i % 100).padStart(2, '0')}`,
      paidBy: user.userId,
      split: i % 2 ? { mode: 'equal' } : { mode: 'shares', shares: users.map((u, k) => ({ userId: u.userId, weight: k + 1 })) },
    });
  });
  const responses = await Promise.all(writes);
  t.same(
    responses.map((r) => r.status),
    Array(60).fill(201),
    'every write acknowledged',
  );
  t.same(new Set(responses.map((r) => r.body.version)).size, 60, 'each got its own version');
  const state = await projectedBalances(env, groupId);
  t.equal(state.eventCount, 61);
  t.equal(state.version, 61);
  const folded = await foldBalances(env, groupId);
  t.same(state.balances, folded, 'projection equals the fold after the storm');
  const latest = responses.find((r) => r.body.version === 61)!;
  t.same(new Map(latest.body.balances.map((b: any) => [b.userId, toMinor(b.balance, 2)])), folded, 'the last response shows the final balances');
  const ids = new Set((await env.eventsOf(groupId)).flatMap((e) => (e.type === 'ExpenseAdded' ? [e.data.expenseId] : [])));
  t.equal(ids.size, 60);

  // The same writes again, concurrently: all retries, nothing appended.
  const retries = await Promise.all(
    writes.map((_, i) =>
      http('POST', `/groups/${groupId}/expenses`, users[i % 3]!.token, {
        expenseId: `c-${i}`,
        description: `Concurrent ${i}`,
        amount: `${(i + 1) * 7}.${String(i % 100).padStart(2, '0')}`,
        paidBy: users[i % 3]!.userId,
        split: i % 2 ? { mode: 'equal' } : { mode: 'shares', shares: users.map((u, k) => ({ userId: u.userId, weight: k + 1 })) },
      }),
    ),
  );
  t.same(
    retries.map((r) => r.status),
    Array(60).fill(200),
  );
  t.equal((await projectedBalances(env, groupId)).eventCount, 61);
});

t.test('concurrent requests with one Idempotency-Key append once; concurrent creates of one group id, once', async (t) => {
  const { owner, groupId } = await groupOf('Idem');
  const body = { description: 'Once', amount: '5.00', paidBy: owner.userId, split: { mode: 'equal' } };
  const same = await Promise.all(
    Array.from({ length: 10 }, () => http('POST', `/groups/${groupId}/expenses`, owner.token, body, { 'idempotency-key': 'same-key' })),
  );
  t.same(
    same.map((r) => r.status),
    Array(10).fill(201),
  );
  t.equal(new Set(same.map((r) => JSON.stringify(r.body))).size, 1, 'every caller got the same answer');
  t.equal((await projectedBalances(env, groupId)).eventCount, 2);

  const creates = await Promise.all(Array.from({ length: 8 }, () => http('POST', '/groups', owner.token, { groupId: 'race', name: 'Race', currency: 'EUR' })));
  t.same(creates.map((r) => r.status).sort(), [201, 409, 409, 409, 409, 409, 409, 409]);
  t.equal((await projectedBalances(env, 'race')).eventCount, 1);

  const keyed = await Promise.all(
    Array.from({ length: 6 }, () =>
      http('POST', '/groups', owner.token, { groupId: 'race2', name: 'Race', currency: 'EUR' }, { 'idempotency-key': 'create-race2' }),
    ),
  );
  t.same(
    keyed.map((r) => r.status),
    Array(6).fill(201),
    'a keyed create retried concurrently is one create',
  );
});

t.test('commands on different groups do not wait on each other', async (t) => {
  const a = await groupOf('Slow');
  const b = await groupOf('Fast');
  const expense = (u: { userId: string }) => ({ description: 'x', amount: '1.00', paidBy: u.userId, split: { mode: 'equal' } });
  // Hold group A's row lock as a long-running command would.
  const client = await env.database.pool.connect();
  await client.query('begin');
  await client.query('select * from groups where group_id = $1 for update', [a.groupId]);
  let aDone = false;
  const slow = http('POST', `/groups/${a.groupId}/expenses`, a.owner.token, expense(a.owner)).then((r) => {
    aDone = true;
    return r;
  });
  const fast = await http('POST', `/groups/${b.groupId}/expenses`, b.owner.token, expense(b.owner));
  t.equal(fast.status, 201, 'group B wrote while group A was locked');
  t.notOk(aDone, 'group A is still waiting for its lock');
  await client.query('commit');
  client.release();
  t.equal((await slow).status, 201, 'group A went through once the lock was released');
});
