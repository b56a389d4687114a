import pg from 'pg';
import t from 'tap';
import type { EventEnvelope } from '../src/events/index.js';
import type { EventLog, LogPosition } from '../src/store/event-log.js';
import { KurrentDbEventLog } from '../src/store/kurrentdb-event-log.js';
import { PostgresEventLog } from '../src/store/postgres-event-log.js';
import { testEventLogMode } from './helpers/app.js';
import { createTestDatabase, type TestDatabase } from './helpers/database.js';
import { startKurrentDbDouble, type KurrentDbDouble } from './helpers/kurrentdb-double.js';
import { call, runCli, startServerProcess } from './helpers/server-process.js';

// A real server under concurrent write load, killed with SIGKILL at random moments.
// After every restart: each write acknowledged with 2xx is in the log exactly once and
// visible; an unacknowledged write is either wholly there or wholly absent; a client
// retrying it with the same expenseId gets a consistent answer; replay verify exits 0.

// In KurrentDB mode the double runs in this process and outlives every server process:
// a server killed between its append and its projection is repaired by the log
// subscriber of the next one.

let database: TestDatabase;
let double: KurrentDbDouble | undefined;
let log: EventLog;
let serverEnv: Record<string, string>;
t.before(async () => {
  database = await createTestDatabase();
  if (testEventLogMode() === 'kurrentdb-double') {
    double = await startKurrentDbDouble();
    log = KurrentDbEventLog.connect(double.url);
    serverEnv = { DATABASE_URL: database.url, FAIRSHARE_EVENT_LOG: 'kurrentdb', KURRENTDB_URL: double.url };
  } else {
    log = new PostgresEventLog(database.db);
    serverEnv = { DATABASE_URL: database.url };
  }
});
t.teardown(async () => {
  await log.close();
  await double?.close();
  await database.close();
});

/** Every event in the log, in its order. */
async function everyEvent(): Promise<EventEnvelope[]> {
  const events: EventEnvelope[] = [];
  for (let after: LogPosition | undefined; ;) {
    const page = await log.readAll({ after, limit: 1000 });
    events.push(...page.map((p) => p.event));
    if (page.length < 1000) return events;
    after = page.at(-1)?.position;
  }
}

const ROUNDS = 4;
const WRITERS = 8;

interface Write {
  kind: 'add' | 'delete';
  groupId: string;
  expenseId: string;
  body?: unknown;
  /** 'ack' = 2xx received; 'unknown' = no answer (the server died mid-flight). */
  outcome: 'ack' | 'unknown';
}

t.test('SIGKILL under load loses no acknowledged write and leaves nothing half-applied', async (t) => {
  let server = await startServerProcess(serverEnv);
  const users: any[] = [];
  for (const name of ['Ann', 'Bob', 'Cat']) users.push((await call(server.url, 'POST', '/users', undefined, { name })).body);
  const [ann, ...rest] = users;
  const groups: string[] = [];
  for (let i = 0; i < 3; i++) {
    const res = await call(server.url, 'POST', '/groups', ann.token, {
      groupId: `crash-${i}`,
      name: `G${i}`,
      currency: 'USD',
      members: rest.map((u) => u.userId),
    });
    t.equal(res.status, 201);
    groups.push(res.body.groupId);
  }

  const writes: Write[] = [];
  let serial = 0;
  for (let round = 1; round <= ROUNDS; round++) {
    let dead = false;
    const url = server.url;
    const writer = async (w: number) => {
      const mine: [groupId: string, expenseId: string][] = [];
      while (!dead) {
        const deleting = mine.length > 2 && serial % 4 === 0;
        const [groupId, expenseId] = deleting
          ? (mine.shift() as [string, string])
          : [groups[(w + serial) % groups.length] as string, `r${round}-w${w}-${serial++}`];
        const body = {
          expenseId,
          description: `load ${expenseId}`,
          amount: `${(serial % 97) + 1}.${String(serial % 100).padStart(2, '0')}`,
          paidBy: users[w % 3].userId,
          split: { mode: 'equal' },
        };
        const write: Write = deleting
          ? { kind: 'delete', groupId, expenseId, outcome: 'unknown' }
          : { kind: 'add', groupId, expenseId, body, outcome: 'unknown' };
        writes.push(write);
        try {
          const res = deleting
            ? await call(url, 'DELETE', `/groups/${groupId}/expenses/${expenseId}`, ann.token)
            : await call(url, 'POST', `/groups/${groupId}/expenses`, ann.token, body);
          if (res.status >= 200 && res.status < 300) write.outcome = 'ack';
          else throw new Error(`unexpected ${res.status} ${JSON.stringify(res.body)}`);
          if (!deleting) mine.push([groupId, expenseId]);
          else if (res.body.version === undefined) throw new Error('delete without version');
        } catch (error) {
          if (!dead) throw error; // only a dying server may leave a write unanswered
          return;
        }
      }
    };
    const running = Array.from({ length: WRITERS }, (_, w) =>
      writer(w).then(
        (v) => v,
        (e: Error) => {
          dead = true;
          throw e;
        },
      ),
    );
    const delay = 300 + Math.floor(Math.random() * 900);
    await new Promise((resolve) => setTimeout(resolve, delay));
    dead = true;
    server.child.kill('SIGKILL');
    await server.exited;
    await Promise.all(running);
    const acked = writes.filter((w) => w.outcome === 'ack').length;
    t.ok(acked > 0, `round ${round}: killed after ${delay} ms, ${acked} writes acknowledged so far, ${writes.length - acked} unanswered`);

    server = await startServerProcess(serverEnv);
    // With KurrentDB, verify waits until the new server's log subscriber has repaired
    // what the dead one appended but did not project; then nothing may be half-applied.
    const verify = await runCli(serverEnv, 'replay', 'verify', '--wait', '30');
    t.equal(verify.status, 0, `round ${round}: ${verify.stdout.trim()} ${verify.stderr.trim()}`);
    t.same(await checkEveryWrite(writes), [], `round ${round}: all ${writes.length} writes checked against the log and the projection`);
  }

  // A client that never heard back retries with the same expenseId: the server either
  // applies it now (201) or says it already has it (200). Either way, once.
  // A delete retried answers 200 (done now) or 409 EXPENSE_ALREADY_DELETED (done before).
  const answers = new Map<string, number>();
  for (const w of writes.filter((x) => x.outcome === 'unknown')) {
    const res =
      w.kind === 'add'
        ? await call(server.url, 'POST', `/groups/${w.groupId}/expenses`, ann.token, w.body)
        : await call(server.url, 'DELETE', `/groups/${w.groupId}/expenses/${w.expenseId}`, ann.token);
    const key = `${w.kind} ${res.status}`;
    answers.set(key, (answers.get(key) ?? 0) + 1);
  }
  const allowed = new Set(['add 200', 'add 201', 'delete 200', 'delete 409']);
  t.ok(
    [...answers.keys()].every((k) => allowed.has(k)),
    `retries of unanswered writes: ${JSON.stringify(Object.fromEntries(answers))}`,
  );
  const added = (await everyEvent()).flatMap((e) => (e.type === 'ExpenseAdded' ? [e.data.expenseId] : []));
  t.same(
    added.filter((id, i) => added.indexOf(id) !== i),
    [],
    'after the retries every expense was added exactly once',
  );
  await server.stop();
});

t.test(
  'killed between the append and the projection: after a restart it is repaired (KurrentDB) or absent (PostgreSQL); verify exits 0; a retry applies once',
  async (t) => {
    const kurrent = double !== undefined;
    let server = await startServerProcess(serverEnv);
    const ann = (await call(server.url, 'POST', '/users', undefined, { name: 'Ann' })).body;
    const bob = (await call(server.url, 'POST', '/users', undefined, { name: 'Bob' })).body;
    const g = (await call(server.url, 'POST', '/groups', ann.token, { name: 'Killed', currency: 'EUR', members: [bob.userId] })).body.groupId as string;
    const body = { expenseId: 'killed-mid-write', description: 'x', amount: '9.00', paidBy: ann.userId, split: { mode: 'equal' } };

    // Hold a row the projection must write: the command gets past its append (with
    // KurrentDB, into the log) and waits on this lock, inside its transaction.
    const blocker = new pg.Client({ connectionString: database.url });
    await blocker.connect();
    await blocker.query('begin');
    await blocker.query('select 1 from user_balances where group_id = $1 for update', [g]);
    const pending = call(server.url, 'POST', `/groups/${g}/expenses`, ann.token, body).then(
      (res) => res.status,
      () => 'no answer',
    );
    const blockerPid = (await blocker.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]?.pid;
    for (let waited = 0; ; waited += 20) {
      // The command's session, blocked by ours (with KurrentDB the log subscriber may wait
      // too, on the command's own group lock).
      const waiting = await database.query(`select 1 from pg_stat_activity where $1::int = any(pg_blocking_pids(pid))`, [blockerPid]);
      const logged = (await log.readStream(`group-${g}`)).length;
      if (waiting.rowCount === 1 && (!kurrent || logged === 2)) break;
      if (waited > 30_000) {
        const all = await database.query(
          `select state, wait_event_type, wait_event, left(query, 120) as q from pg_stat_activity where datname = current_database()`,
        );
        throw new Error(`the command never reached the projection: ${JSON.stringify(all.rows)} logged ${logged}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    server.child.kill('SIGKILL');
    await server.exited;
    t.equal(await pending, 'no answer');
    await blocker.query('rollback');
    await blocker.end();

    server = await startServerProcess(serverEnv);
    const verify = await runCli(serverEnv, 'replay', 'verify', '--wait', '30');
    t.equal(verify.status, 0, `${verify.stdout.trim()} ${verify.stderr.trim()}`);
    const inLog = (await log.readStream(`group-${g}`)).map((e) => e.type);
    const listed = await call(server.url, 'GET', `/groups/${g}/expenses`, ann.token);
    if (kurrent) {
      t.same(inLog, ['GroupCreated', 'ExpenseAdded'], 'the append survived the kill');
      t.same(
        listed.body.items.map((e: any) => e.expenseId),
        ['killed-mid-write'],
        'the restarted server repaired the projection',
      );
    } else {
      t.same(inLog, ['GroupCreated'], 'the transaction died with the process: no event…');
      t.same(listed.body.items, [], '…and no projection');
    }
    const retry = await call(server.url, 'POST', `/groups/${g}/expenses`, ann.token, body);
    t.equal(retry.status, kurrent ? 200 : 201, 'the retry is answered from the log, or applied now');
    t.equal((await call(server.url, 'POST', `/groups/${g}/expenses`, ann.token, body)).status, 200);
    t.same(
      (await log.readStream(`group-${g}`)).map((e) => e.type),
      ['GroupCreated', 'ExpenseAdded'],
      'once',
    );
    await server.stop();
  },
);

t.test('SIGTERM under load: the server stops taking requests, finishes those in flight, exits 0, and every acknowledged write is there', async (t) => {
  const server = await startServerProcess(serverEnv);
  const ann = (await call(server.url, 'POST', '/users', undefined, { name: 'Ann' })).body;
  const bob = (await call(server.url, 'POST', '/users', undefined, { name: 'Bob' })).body;
  const g = (await call(server.url, 'POST', '/groups', ann.token, { name: 'Stopping', currency: 'EUR', members: [bob.userId] })).body.groupId as string;
  const acknowledged: string[] = [];
  const refused: string[] = [];
  const failed: string[] = [];
  let stopping = false;
  let serial = 0;
  const writer = async () => {
    for (;;) {
      const expenseId = `term-${serial++}`;
      try {
        const res = await call(server.url, 'POST', `/groups/${g}/expenses`, ann.token, {
          expenseId,
          description: 'x',
          amount: '1.00',
          paidBy: ann.userId,
          split: { mode: 'equal' },
        });
        if (res.status === 201) acknowledged.push(expenseId);
        else if (res.status === 503 && res.body?.code === 'SHUTTING_DOWN' && res.headers.get('retry-after') === '1') refused.push(expenseId);
        else failed.push(`${expenseId}: ${res.status} ${JSON.stringify(res.body)}`);
      } catch {
        if (stopping) return; // refused once the server stopped listening
        throw new Error(`${expenseId}: no answer before the server was asked to stop`);
      }
    }
  };
  const writers = Array.from({ length: 6 }, () => writer());
  while (acknowledged.length < 50) await new Promise((resolve) => setTimeout(resolve, 10));
  stopping = true;
  const code = await server.stop('SIGTERM');
  await Promise.all(writers);
  t.equal(code, 0, 'the server exits 0');
  t.same(failed, [], 'every answered write succeeded, or was refused as 503 SHUTTING_DOWN with Retry-After: none cut off mid-way');
  const restarted = await startServerProcess(serverEnv);
  t.teardown(() => restarted.stop());
  const verify = await runCli(serverEnv, 'replay', 'verify', '--wait', '30');
  t.equal(verify.status, 0, verify.stdout + verify.stderr);
  const logged = new Set((await log.readStream(`group-${g}`)).flatMap((e) => (e.type === 'ExpenseAdded' ? [e.data.expenseId] : [])));
  t.ok(
    acknowledged.every((id) => logged.has(id)),
    `all ${acknowledged.length} acknowledged writes are in the log`,
  );
  t.notOk(
    refused.some((id) => logged.has(id)),
    `none of the ${refused.length} refused while shutting down is`,
  );
  const listed = await call(restarted.url, 'GET', `/groups/${g}/expenses?limit=1000`, ann.token);
  t.ok(
    acknowledged.every((id) => listed.body.items.some((e: any) => e.expenseId === id)),
    'and in the projection',
  );
});

/** What is wrong with the log and the projection, given what each client was told. */
async function checkEveryWrite(writes: Write[]): Promise<string[]> {
  const added = new Map<string, number>();
  const deleted = new Map<string, number>();
  for (const e of await everyEvent()) {
    if (e.type === 'ExpenseAdded') added.set(e.data.expenseId, (added.get(e.data.expenseId) ?? 0) + 1);
    if (e.type === 'ExpenseDeleted') deleted.set(e.data.expenseId, (deleted.get(e.data.expenseId) ?? 0) + 1);
  }
  const rows = await database.query<{ id: string; deleted: boolean }>('select expense_id as id, deleted from expenses');
  const projected = new Map(rows.rows.map((r) => [r.id, r.deleted]));
  const problems: string[] = [];
  for (const w of writes) {
    const inLog = w.kind === 'add' ? (added.get(w.expenseId) ?? 0) : (deleted.get(w.expenseId) ?? 0);
    if (w.outcome === 'ack' && inLog !== 1) problems.push(`acknowledged ${w.kind} ${w.expenseId} is in the log ${inLog} times`);
    if (w.outcome === 'unknown' && inLog > 1) problems.push(`unanswered ${w.kind} ${w.expenseId} is in the log ${inLog} times`);
    // Whatever the log holds, the projection holds: nothing half-applied.
    const row = projected.get(w.expenseId);
    if (w.kind === 'add' && inLog === 1 && row === undefined) problems.push(`${w.expenseId} is in the log but not projected`);
    if (w.kind === 'add' && inLog === 0 && row !== undefined) problems.push(`${w.expenseId} is projected but not in the log`);
    if (w.kind === 'delete' && (row === true) !== (inLog === 1)) problems.push(`delete of ${w.expenseId}: log ${inLog}, projected deleted=${row}`);
  }
  return problems;
}
