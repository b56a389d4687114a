import { chmod, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import pino from 'pino';
import t, { type Test } from 'tap';
import { freePort, startEmbeddedPostgres, type EmbeddedDatabase } from '../src/db/embedded.js';
import { startTestApp } from './helpers/app.js';
import { createTestDatabase, type TestDatabase } from './helpers/database.js';
import { call, runCli, startServerProcess, type ServerProcess } from './helpers/server-process.js';

// The database goes away under a running server: stopped and started again (an external
// server through DATABASE_URL, and the embedded one killed), a statement past the
// statement timeout, a connection killed mid-transaction. Each time the server answers
// 503 with Retry-After while it lasts, /health/ready says so, it recovers without a
// restart, every acknowledged write is there once, nothing is half-applied, and
// `replay verify` exits 0.

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const silent = pino({ level: 'silent' });

interface Setup {
  url: string;
  token: string;
  payer: string;
  groupId: string;
}

async function setUp(server: ServerProcess): Promise<Setup> {
  const ann = (await call(server.url, 'POST', '/users', undefined, { name: 'Ann' })).body;
  const bob = (await call(server.url, 'POST', '/users', undefined, { name: 'Bob' })).body;
  const group = await call(server.url, 'POST', '/groups', ann.token, { name: 'Faults', currency: 'EUR', members: [bob.userId] });
  return { url: server.url, token: ann.token, payer: ann.userId, groupId: group.body.groupId };
}

const addExpense = (s: Setup, expenseId: string) =>
  call(s.url, 'POST', `/groups/${s.groupId}/expenses`, s.token, {
    expenseId,
    description: `fault ${expenseId}`,
    amount: '1.00',
    paidBy: s.payer,
    split: { mode: 'equal' },
  });

/** Writers adding expenses until stopped; what each was told. */
function writeLoad(s: Setup, writers: number, prefix: string) {
  const acknowledged: string[] = [];
  const unavailable: string[] = [];
  const other: string[] = [];
  let running = true;
  let serial = 0;
  const writer = async () => {
    while (running) {
      const expenseId = `${prefix}-${serial++}`;
      try {
        const res = await addExpense(s, expenseId);
        if (res.status === 201) acknowledged.push(expenseId);
        else if (res.status === 503 && /^DATABASE_(UNAVAILABLE|TIMEOUT)$/.test(res.body?.code) && Number(res.headers.get('retry-after')) > 0) {
          unavailable.push(expenseId);
          await sleep(50);
        } else other.push(`${expenseId}: ${res.status} ${JSON.stringify(res.body)}`);
      } catch (error) {
        other.push(`${expenseId}: no answer (${String(error)})`);
      }
    }
  };
  const done = Promise.all(Array.from({ length: writers }, () => writer()));
  return {
    acknowledged,
    unavailable,
    other,
    async stop() {
      running = false;
      await done;
    },
  };
}

/** Polls /health/ready until `until` resolves; every status it answered. */
function watchReadiness(url: string) {
  const seen = new Set<number>();
  let running = true;
  const done = (async () => {
    while (running) {
      const res = await fetch(`${url}/health/ready`).catch(() => undefined);
      if (res) {
        seen.add(res.status);
        await res.arrayBuffer();
      }
      await sleep(50);
    }
  })();
  return {
    seen,
    async stop() {
      running = false;
      await done;
    },
  };
}

async function waitUntil(what: string, check: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await sleep(100);
  }
}

/**
 * Retries every write refused while the database was away with its own expenseId (as a
 * client told "503, Retry-After" does), then checks the log and the projection: every
 * expense there exactly once, and `replay verify` clean.
 */
async function checkAfterRecovery(t: Test, s: Setup, load: ReturnType<typeof writeLoad>, cliEnv: Record<string, string>): Promise<void> {
  t.same(load.other, [], 'every answer was 201, or 503 DATABASE_UNAVAILABLE / DATABASE_TIMEOUT with Retry-After');
  t.ok(load.acknowledged.length > 0, `${load.acknowledged.length} writes acknowledged`);
  t.ok(load.unavailable.length > 0, `${load.unavailable.length} writes refused as 503 while the database was away`);
  const retries: string[] = [];
  for (const expenseId of load.unavailable) {
    const retry = await addExpense(s, expenseId);
    if (![200, 201].includes(retry.status)) retries.push(`${expenseId}: ${retry.status}`);
  }
  t.same(retries, [], 'each refused write, retried with its expenseId, is applied (201) or found applied (200)');
  const listed = await call(s.url, 'GET', `/groups/${s.groupId}/expenses?limit=200`, s.token);
  const everyId = [...load.acknowledged, ...load.unavailable];
  const seen = new Map<string, number>();
  for (let page = listed; ;) {
    for (const item of page.body.items as { expenseId: string }[]) seen.set(item.expenseId, (seen.get(item.expenseId) ?? 0) + 1);
    if (!page.body.nextCursor) break;
    page = await call(s.url, 'GET', `/groups/${s.groupId}/expenses?limit=200&cursor=${encodeURIComponent(page.body.nextCursor)}`, s.token);
  }
  t.same(
    everyId.filter((id) => seen.get(id) !== 1),
    [],
    `each of the ${everyId.length} expenses is listed exactly once`,
  );
  const added: string[] = [];
  for (let after = 0; ;) {
    const events = await call(s.url, 'GET', `/groups/${s.groupId}/events?limit=1000&after=${after}`, s.token);
    for (const e of events.body.items as { type: string; data: { expenseId: string } }[]) if (e.type === 'ExpenseAdded') added.push(e.data.expenseId);
    if (events.body.nextAfter === after) break;
    after = events.body.nextAfter;
  }
  t.equal(added.length, new Set(added).size, 'no expense is in the log twice');
  t.equal(added.length, everyId.length, 'and the log holds exactly the expenses written');
  const verify = await runCli(cliEnv, 'replay', 'verify');
  t.equal(verify.status, 0, `replay verify: ${verify.stdout}${verify.stderr}`);
}

t.test('an external PostgreSQL (DATABASE_URL) stopped and started again under write load', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'fairshare-external-'));
  await chmod(dir, 0o755);
  const port = await freePort();
  let external: EmbeddedDatabase | undefined = await startEmbeddedPostgres({ dataDir: dir, logger: silent, port });
  t.teardown(async () => {
    await external?.stop();
    await rm(dir, { recursive: true, force: true });
  });
  const env = { DATABASE_URL: external.url };
  const server = await startServerProcess(env);
  t.teardown(() => server.stop());
  const s = await setUp(server);
  const load = writeLoad(s, 4, 'ext');
  const readiness = watchReadiness(server.url);
  await waitUntil('some writes are acknowledged', async () => load.acknowledged.length >= 30);

  await external.stop(); // a fast shutdown, as `pg_ctl stop` does
  external = undefined;
  await waitUntil('writes are refused', async () => load.unavailable.length >= 5);
  const down = await call(server.url, 'GET', '/health/ready');
  t.equal(down.status, 503, '/health/ready says the database is away');
  t.equal(down.body.code, 'DATABASE_UNAVAILABLE');
  t.equal(down.headers.get('retry-after'), '5');
  const read = await call(server.url, 'GET', `/groups/${s.groupId}/balances`, s.token);
  t.equal(read.status, 503, 'reads are 503 too');
  t.equal(read.headers.get('retry-after'), '5');

  external = await startEmbeddedPostgres({ dataDir: dir, logger: silent, port });
  const before = load.acknowledged.length;
  await waitUntil('writes are acknowledged again, without restarting the server', async () => load.acknowledged.length >= before + 30);
  await load.stop();
  await readiness.stop();
  t.ok(readiness.seen.has(503) && readiness.seen.has(200), `readiness answered ${[...readiness.seen].join(', ')}`);
  t.equal((await call(server.url, 'GET', '/health/ready')).status, 200, 'ready again');
  await checkAfterRecovery(t, s, load, env);
  t.equal(server.child.exitCode, null, 'the server ran throughout');
});

t.test('the embedded PostgreSQL killed under write load is started again by FairShare', async (t) => {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'fairshare-embedded-fault-'));
  await chmod(dataDir, 0o755);
  t.teardown(() => rm(dataDir, { recursive: true, force: true, maxRetries: 5 }));
  const env = { FAIRSHARE_DATA_DIR: dataDir, DATABASE_URL: '' };
  const server = await startServerProcess(env, 120_000);
  t.teardown(() => server.stop());
  const s = await setUp(server);
  const load = writeLoad(s, 4, 'emb');
  const readiness = watchReadiness(server.url);
  await waitUntil('some writes are acknowledged', async () => load.acknowledged.length >= 30);

  const postmaster = Number((await readFile(path.join(dataDir, 'pg', 'postmaster.pid'), 'utf8')).split('\n')[0]);
  process.kill(postmaster, 'SIGKILL');
  await waitUntil('writes are refused', async () => load.unavailable.length >= 3);
  const before = load.acknowledged.length;
  await waitUntil('writes are acknowledged again, without restarting the server', async () => load.acknowledged.length >= before + 30);
  await load.stop();
  await readiness.stop();
  t.ok(readiness.seen.has(503) && readiness.seen.has(200), `readiness answered ${[...readiness.seen].join(', ')}`);
  t.match(server.output(), /the embedded PostgreSQL stopped unexpectedly; starting it again/);
  t.match(server.output(), /the embedded PostgreSQL is running again/);
  const now = Number((await readFile(path.join(dataDir, 'pg', 'postmaster.pid'), 'utf8')).split('\n')[0]);
  t.not(now, postmaster, 'a new postmaster runs');
  await checkAfterRecovery(t, s, load, env);
  t.equal(await server.stop('SIGTERM'), 0, 'and it still shuts down cleanly');
});

t.test('statement timeout and a connection killed mid-transaction', async (t) => {
  const database: TestDatabase = await createTestDatabase();
  t.teardown(() => database.close());
  const env = { DATABASE_URL: database.url, DATABASE_STATEMENT_TIMEOUT_MS: '1500' };
  const server = await startServerProcess(env);
  t.teardown(() => server.stop());
  const s = await setUp(server);
  t.equal((await addExpense(s, 'before')).status, 201);

  // Another session holds the balances table: the command's transaction waits on it.
  const holder = new pg.Client({ connectionString: database.url });
  await holder.connect();
  t.teardown(() => holder.end());
  const hold = () => holder.query('begin; lock table user_balances in access exclusive mode');

  await t.test('a statement past DATABASE_STATEMENT_TIMEOUT_MS: 503 DATABASE_TIMEOUT, nothing applied', async (t) => {
    await hold();
    const started = Date.now();
    const res = await addExpense(s, 'slow');
    const took = Date.now() - started;
    await holder.query('rollback');
    t.equal(res.status, 503);
    t.equal(res.body.code, 'DATABASE_TIMEOUT');
    t.equal(res.headers.get('retry-after'), '5');
    t.ok(took >= 1_400 && took < 10_000, `answered after ${took} ms`);
    t.equal((await call(server.url, 'GET', '/health/ready')).status, 200, 'the database is up: ready');
    const events = await database.query(`select 1 from events where data->>'expenseId' = 'slow'`);
    t.equal(events.rowCount, 0, 'the expense is not in the log');
    t.equal((await addExpense(s, 'slow')).status, 201, 'the retry is applied');
  });

  await t.test('pg_terminate_backend on the command mid-transaction: 503 DATABASE_UNAVAILABLE, nothing applied', async (t) => {
    await hold();
    const answer = addExpense(s, 'killed');
    let victim: number | undefined;
    await waitUntil('the command waits on the lock', async () => {
      const found = await database.query<{ pid: number }>(
        `select pid from pg_stat_activity where application_name = 'fairshare' and wait_event_type = 'Lock' and datname = current_database()`,
      );
      victim = found.rows[0]?.pid;
      return victim !== undefined;
    });
    await database.query('select pg_terminate_backend($1)', [victim]);
    const res = await answer;
    await holder.query('rollback');
    t.equal(res.status, 503);
    t.equal(res.body.code, 'DATABASE_UNAVAILABLE');
    t.equal(res.headers.get('retry-after'), '5');
    const events = await database.query(`select 1 from events where data->>'expenseId' = 'killed'`);
    t.equal(events.rowCount, 0, 'the expense is not in the log');
    const projected = await database.query(`select 1 from expenses where expense_id = 'killed'`);
    t.equal(projected.rowCount, 0, 'nor projected');
    t.equal((await addExpense(s, 'killed')).status, 201, 'the retry is applied');
    t.equal((await addExpense(s, 'after')).status, 201, 'the server goes on');
  });

  const verify = await runCli(env, 'replay', 'verify');
  t.equal(verify.status, 0, verify.stdout + verify.stderr);
});

t.test('readiness has a connection of its own: a pool held to the last connection does not make it 503', async (t) => {
  const env = await startTestApp();
  t.teardown(() => env.close());
  // Every connection of the app's pool checked out, as a flood of waiting commands would.
  const held = await Promise.all(Array.from({ length: env.database.pool.options.max }, () => env.database.pool.connect()));
  t.teardown(() => held.forEach((client) => client.release()));
  t.equal(env.database.pool.idleCount + (env.database.pool.options.max - held.length), 0, 'no connection left in the pool');
  const started = Date.now();
  const ready = await env.app.inject({ method: 'GET', url: '/health/ready' });
  t.equal(ready.statusCode, 200, `ready in ${Date.now() - started} ms while the pool is exhausted`);
});
