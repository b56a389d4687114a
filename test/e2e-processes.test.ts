import t from 'tap';
import { createTestDatabase, type TestDatabase } from './helpers/database.js';
import { spawnSync } from 'node:child_process';
import { call, CLI, plainEnv, startServerProcess, type ServerProcess } from './helpers/server-process.js';

// Real server processes (the built CLI) on one database: what one acknowledges, the
// other serves at once, and live updates cross processes through each process's tail of the log.
let database: TestDatabase;
const servers: ServerProcess[] = [];
t.before(async () => {
  database = await createTestDatabase();
});
t.teardown(async () => {
  await Promise.all(servers.map((s) => s.stop()));
  await database.close();
});

/** Reads server-sent events from a live stream until `until` is satisfied. */
async function* sse(url: string, token: string, signal: AbortSignal) {
  const res = await fetch(url, { headers: { authorization: `Bearer ${token}` }, signal });
  if (!res.ok || !res.body) throw new Error(`live stream answered ${res.status}`);
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const chunk of res.body) {
    buffer += decoder.decode(chunk as Uint8Array, { stream: true });
    let end;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const event = /^event: (.*)$/m.exec(block)?.[1];
      const data = /^data: (.*)$/m.exec(block)?.[1];
      if (event && data) yield { event, data: JSON.parse(data) };
    }
  }
}

t.test('read-your-writes across processes, and live balances fed only after commit', async (t) => {
  const operatorToken = 'op_e2e_0123456789abcdef0123456789';
  const one = await startServerProcess({ DATABASE_URL: database.url, FAIRSHARE_OPERATOR_TOKENS: operatorToken });
  servers.push(one);
  const two = await startServerProcess({ DATABASE_URL: database.url });
  servers.push(two);

  const ann = (await call(one.url, 'POST', '/users', undefined, { name: 'Ann' })).body;
  const bob = (await call(two.url, 'POST', '/users', undefined, { name: 'Bob' })).body;
  const group = await call(one.url, 'POST', '/groups', ann.token, { name: 'Flat', currency: 'USD', members: [bob.userId] });
  t.equal(group.status, 201);
  const g = group.body.groupId;

  const controller = new AbortController();
  const stream = sse(`${two.url}/groups/${g}/live`, bob.token, controller.signal);
  const first = await stream.next();
  t.equal(first.value?.event, 'balances');
  t.equal(first.value?.data.version, 1, 'the stream opens with the current balances');

  for (let i = 1; i <= 10; i++) {
    const writer = i % 2 ? one : two;
    const token = i % 2 ? ann.token : bob.token;
    const payer = i % 2 ? ann.userId : bob.userId;
    const res = await call(writer.url, 'POST', `/groups/${g}/expenses`, token, {
      description: `#${i}`,
      amount: `${i}.00`,
      paidBy: payer,
      split: { mode: 'equal' },
    });
    t.equal(res.status, 201);
    const reader = writer === one ? two : one;
    const read = await call(reader.url, 'GET', `/groups/${g}/balances`, ann.token);
    t.equal(read.body.version, res.body.version, `write ${i}: the other process serves the acknowledged version at once`);
    t.same(read.body.balances, res.body.balances);
    const pushed = await stream.next();
    t.equal(pushed.value?.data.version, res.body.version, `write ${i}: pushed to the live stream on the other process`);
    t.same(pushed.value?.data.balances, res.body.balances);
  }
  const refused = await call(one.url, 'POST', `/groups/${g}/expenses`, ann.token, {
    description: 'bad',
    amount: '1.001',
    paidBy: ann.userId,
    split: { mode: 'equal' },
  });
  t.equal(refused.status, 400);
  const del = await call(one.url, 'DELETE', `/groups/${g}/expenses/nope`, ann.token);
  t.equal(del.status, 404);
  const pending = stream.next();
  const nextPush = await Promise.race([pending, new Promise((resolve) => setTimeout(() => resolve('quiet'), 500))]);
  t.equal(nextPush, 'quiet', 'refused commands push nothing');

  // A repair by an operator reaches open pages too, at the same version.
  await database.query('update user_balances set balance_minor = balance_minor + 1 where group_id = $1 and user_id = $2', [g, bob.userId]);
  const rebuild = spawnSync(process.execPath, [CLI, 'replay', 'rebuild', '--group', g], {
    env: plainEnv({ DATABASE_URL: database.url, LOG_LEVEL: 'warn' }),
    encoding: 'utf8',
    timeout: 60_000,
  });
  t.equal(rebuild.status, 0, rebuild.stdout + rebuild.stderr);
  const repaired = await pending;
  t.equal(repaired.value?.data.version, 11, 'the rebuilt group is pushed again at the same version');
  t.same(repaired.value?.data.balances, (await call(one.url, 'GET', `/groups/${g}/balances`, ann.token)).body.balances);
  controller.abort();

  const feed = await call(one.url, 'GET', '/events?limit=1000', operatorToken);
  t.equal(feed.status, 200, 'the operator token from the environment opens the global feed');
  t.equal(feed.body.items.length, 11);
  t.equal((await call(two.url, 'GET', '/events', operatorToken)).status, 403, 'a server started without operator tokens has no feed');

  const logs = one
    .output()
    .split('\n')
    .filter((l) => l.includes('"command committed"'))
    .map((l) => JSON.parse(l));
  t.ok(logs.length >= 5, 'one structured log line per committed command');
  t.match(logs.at(-1), {
    command: 'AddExpense',
    stream: `group-${g}`,
    outcome: 'commit',
    rowsProjected: Number,
    fromVersion: Number,
    toVersion: Number,
    reqId: String,
    actor: String,
  });
});

t.test('fairshare migrate brings a fresh database up to date, then reports nothing to do', async (t) => {
  const fresh = await createTestDatabase();
  try {
    // Everything the migrations made, whatever they are by now.
    await fresh.query('drop schema public cascade');
    await fresh.query('create schema public');
    const run = () =>
      spawnSync(process.execPath, [CLI, 'migrate'], { env: plainEnv({ DATABASE_URL: fresh.url, LOG_LEVEL: 'warn' }), encoding: 'utf8', timeout: 60_000 });
    const first = run();
    t.equal(first.status, 0, first.stderr);
    t.match(first.stdout, /applied: 20261124T0900_init/);
    const second = run();
    t.equal(second.status, 0);
    t.match(second.stdout, /schema is up to date/);
    const tables = await fresh.query(`select count(*)::int n from pg_tables where schemaname = 'public' and tablename in ('events', 'user_balances')`);
    t.equal(tables.rows[0]?.n, 2);
  } finally {
    await fresh.close();
  }
});
