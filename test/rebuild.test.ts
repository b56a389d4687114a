import { spawn } from 'node:child_process';
import { once } from 'node:events';
import pg from 'pg';
import t from 'tap';
import { newEnvelopes } from '../src/store/event-store.js';
import { useTestApp } from './helpers/app.js';
import { foldBalances, projectedBalances } from './helpers/fold.js';
import { busyGroup } from './helpers/scenarios.js';
import { CLI, plainEnv, runCli } from './helpers/server-process.js';

const ctx = useTestApp(t);

// In either mode (PostgreSQL's log, or KurrentDB's: see testEventLogMode).
const cliEnv = () => ({ DATABASE_URL: ctx.env.database.url, ...ctx.env.logEnv });
const cli = (...args: string[]) => runCli(cliEnv(), ...args);
const epochOf = async (g: string) =>
  (await ctx.env.database.query<{ e: number }>('select projection_epoch as e from groups where group_id = $1', [g])).rows[0]?.e;

t.test('rebuild repairs every kind of corruption, then verifies; clients holding the old copy are told', async (t) => {
  const { g, ann, bob } = await busyGroup(ctx.api, 'fix');
  const before = await ann.api.get(`/groups/${g}/balances`);
  t.equal(before.headers.etag, '"8"');
  const expenses = await ann.api.get(`/groups/${g}/expenses`);
  const { g: gone } = await busyGroup(ctx.api, 'gone');
  // A settled system (with KurrentDB: the log subscriber has passed these events, so it
  // does not trip over the corruption below and report it as lag).
  await ctx.env.settled();

  // Corrupt it in every way an operator might find it.
  await ctx.env.database.query('update user_balances set balance_minor = balance_minor + 7 where group_id = $1 and user_id = $2', [g, bob.userId]);
  await ctx.env.database.query(`delete from expenses where group_id = $1 and expense_id = 'e1'`, [g]);
  await ctx.env.database.query(`update expenses set deleted = false where group_id = $1 and expense_id = 'e3'`, [g]);
  await ctx.env.database.query('update groups set version = version + 1 where group_id = $1', [g]);
  await ctx.env.database.query(
    `insert into groups (group_id, name, currency, version, created_at, updated_at) values ('fix-ghost', 'Ghost', 'USD', 3, now(), now())`,
  );
  for (const table of ['group_members', 'user_balances', 'expenses', 'groups']) {
    await ctx.env.database.query(`delete from ${table} where group_id = $1`, [gone]);
  }

  const drift = await cli('replay', 'verify');
  t.equal(drift.status, 1, drift.stderr);
  t.match(drift.stdout, new RegExp(`DRIFT group=${g} user=${bob.userId} balance: expected -2.00, projection has -1.93`));
  t.match(drift.stdout, /DRIFT group=fix-ghost orphan-group/);
  t.match(drift.stdout, new RegExp(`DRIFT group=${gone} missing-group`));
  const stale = await ann.api.get(`/groups/${g}/balances`, { 'if-none-match': '"8"' });
  t.equal(stale.status, 200, 'the bumped version already changed the ETag');

  const rebuilt = await cli('replay', 'rebuild');
  t.equal(rebuilt.status, 0, rebuilt.stderr + rebuilt.stdout);
  t.match(rebuilt.stdout, /^rebuilt 2 groups from 16 events \(0 committed during the rebuild\), \d+ rows written, 1 groups without events removed$/m);
  t.match(rebuilt.stdout, /^OK: 2 groups, 16 events; the projection matches the event log$/m);

  const after = await ann.api.get(`/groups/${g}/balances`);
  t.same(after.body, before.body, 'the balances are back to what the log says');
  t.equal(after.headers.etag, '"8.1"', 'same version, new epoch: a cached pre-repair copy is not confirmed');
  t.equal((await ann.api.get(`/groups/${g}/balances`, { 'if-none-match': '"8"' })).status, 200);
  t.equal((await ann.api.get(`/groups/${g}/balances`, { 'if-none-match': '"8.1"' })).status, 304);
  t.same((await ann.api.get(`/groups/${g}/expenses`)).body, expenses.body, 'expense list restored');
  t.equal((await ctx.api.as(ann.token).get('/groups/fix-ghost')).status, 404, 'the orphan is gone');
  t.same(await foldBalances(ctx.env, gone), (await projectedBalances(ctx.env, gone)).balances, 'the missing group is back');

  // A write decided on the copy from before the repair is refused; the new ETag is accepted.
  const staleWrite = await ann.api.post(
    `/groups/${g}/expenses`,
    { description: 'stale', amount: '2.00', paidBy: ann.userId, split: { mode: 'equal' } },
    { 'if-match': '"8"' },
  );
  t.equal(staleWrite.status, 412, 'If-Match with the pre-repair ETag: 412');
  // Writes carry on from the rebuilt rows, and If-Match accepts the new ETag.
  const next = await ann.api.post(
    `/groups/${g}/expenses`,
    { description: 'after', amount: '2.00', paidBy: ann.userId, split: { mode: 'equal' } },
    { 'if-match': '"8.1"' },
  );
  t.equal(next.status, 201);
  t.equal((await ann.api.get(`/groups/${g}`)).headers.etag, '"9.1"', 'the epoch stays with the group');
  t.same((await ctx.env.verify()).mismatches, []);
});

t.test('rebuild --group touches only that group', async (t) => {
  const { g: one, bob } = await busyGroup(ctx.api, 'one');
  const { g: two, bob: bob2 } = await busyGroup(ctx.api, 'two');
  await ctx.env.database.query('update user_balances set balance_minor = balance_minor + 1 where user_id = any($1)', [[bob.userId, bob2.userId]]);
  const epochs = [await epochOf(one), await epochOf(two)];

  const out = await cli('replay', 'rebuild', '--group', one, '--json');
  t.equal(out.status, 0, out.stderr);
  t.match(JSON.parse(out.stdout), { ok: true, rebuild: { groups: 1, events: 8, removedGroups: 0 }, verify: { groups: 1, mismatches: [] } });
  t.equal(await epochOf(one), (epochs[0] ?? 0) + 1);
  t.equal(await epochOf(two), epochs[1], 'the other group was not rewritten');
  t.match((await ctx.env.verify({ groupId: two })).mismatches, [{ userId: bob2.userId, kind: 'balance' }], 'and keeps its drift');
  t.equal((await cli('replay', 'rebuild', '--group', 'no-such-group')).status, 2, 'an unknown group is an error, not "0 groups OK"');
  t.equal((await cli('replay', 'rebuild', '--batch', '0')).status, 2);
  t.equal((await cli('replay', 'rebuild', '--group', two)).status, 0);
});

t.test('writes committed while a batch is being built are applied at swap time, none lost', async (t) => {
  const { g, ann, bob } = await busyGroup(ctx.api, 'tail');
  let wrote = 0;
  const report = await ctx.env.rebuild({
    groupId: g,
    beforeSwap: async (ids) => {
      t.same(ids, [g]);
      // The batch was built from the log as it was; these commit before the swap locks.
      for (const amount of ['1.00', '2.50']) {
        const res = await ann.api.post(`/groups/${g}/expenses`, { description: `during ${amount}`, amount, paidBy: bob.userId, split: { mode: 'equal' } });
        t.equal(res.status, 201);
        wrote += 1;
      }
    },
  });
  t.equal(wrote, 2);
  t.match(report, { groups: 1, events: 8, tailEvents: 2 });
  const projected = await projectedBalances(ctx.env, g);
  t.equal(projected.version, 10);
  t.same(projected.balances, await foldBalances(ctx.env, g));
  t.same((await ctx.env.verify()).mismatches, []);
});

t.test('a rebuild under concurrent HTTP load loses no write and leaves a verified projection', async (t) => {
  const groups = await Promise.all(['l1', 'l2', 'l3'].map((p) => busyGroup(ctx.api, p)));
  let stop = false;
  let acknowledged = 0;
  const writers = groups.map(async ({ g, ann, bob }, i) => {
    for (let n = 0; !stop; n++) {
      const res = await ann.api.post(`/groups/${g}/expenses`, {
        expenseId: `load-${n}`,
        description: 'load',
        amount: `${n % 9}.0${i}`.replace(/^0\.00$/, '0.01'),
        paidBy: n % 2 ? ann.userId : bob.userId,
        split: { mode: 'equal' },
      });
      if (res.status !== 201) throw new Error(`write failed: ${res.status} ${JSON.stringify(res.body)}`);
      acknowledged += 1;
    }
  });
  const reports = [];
  for (let round = 0; round < 3; round++) reports.push(await ctx.env.rebuild({ batchEvents: 1 }));
  stop = true;
  await Promise.all(writers);
  t.ok(acknowledged > 0, `${acknowledged} writes acknowledged during 3 rebuilds`);
  let events = 0;
  for (const { g } of groups) events += (await ctx.env.eventsOf(g)).filter((e) => e.type === 'ExpenseAdded' && e.data.description === 'load').length;
  t.equal(events, acknowledged, 'every acknowledged write is in the log exactly once');
  t.same((await ctx.env.verify()).mismatches, []);
});

t.test('an interrupted rebuild leaves every group either on its old rows or fully rebuilt, and reads keep being served', async (t) => {
  const made = [];
  for (const p of ['int-a', 'int-b', 'int-c']) made.push(await busyGroup(ctx.api, p));
  for (const { g, bob } of made) {
    await ctx.env.database.query('update user_balances set balance_minor = balance_minor + 1 where group_id = $1 and user_id = $2', [g, bob.userId]);
  }
  const [a, b, c] = made as [(typeof made)[0], (typeof made)[0], (typeof made)[0]];
  const c0 = await epochOf(c.g);

  // Hold the lock a command would hold on group c, so the rebuild stops right there.
  const holder = new pg.Client({ connectionString: ctx.env.database.url });
  await holder.connect();
  await holder.query('begin');
  await holder.query('select 1 from groups where group_id = $1 for update', [c.g]);

  const child = spawn(process.execPath, [CLI, 'replay', 'rebuild', '--batch', '1'], { env: plainEnv({ LOG_LEVEL: 'warn', ...cliEnv() }), stdio: 'ignore' });
  const exited = once(child, 'exit');
  const deadline = Date.now() + 30_000;
  for (;;) {
    const waiting = await ctx.env.database.query(
      `select 1 from pg_stat_activity where wait_event_type = 'Lock' and datname = current_database() and query like '%for update%'`,
    );
    const [ea, eb] = [await epochOf(a.g), await epochOf(b.g)];
    if (waiting.rowCount === 1 && ea !== undefined && ea > 0 && eb !== undefined && eb > 0) break;
    if (Date.now() > deadline) throw new Error('the rebuild never reached group c');
    await new Promise((r) => setTimeout(r, 50));
  }

  const served = await c.ann.api.get(`/groups/${c.g}/balances`);
  t.equal(served.status, 200, 'reads of the group being swapped are not blocked');
  child.kill('SIGKILL');
  await exited;
  await holder.query('rollback');
  await holder.end();

  const [drift] = [await ctx.env.verify()];
  const drifted = new Set(drift.mismatches.map((m) => m.groupId));
  t.notOk(drifted.has(a.g), 'a was rebuilt and committed before the interruption');
  t.notOk(drifted.has(b.g), 'b too');
  t.ok(drifted.has(c.g), 'c is still on its old rows (its old drift intact, nothing half-written)');
  t.match(
    drift.mismatches.filter((m) => m.groupId === c.g),
    [{ kind: 'balance', userId: c.bob.userId }],
  );
  t.equal(drift.mismatches.filter((m) => m.groupId === c.g).length, 2, 'exactly the old balance drift and its sum, nothing else');
  t.equal(await epochOf(c.g), c0);

  const again = await cli('replay', 'rebuild');
  t.equal(again.status, 0, again.stdout + again.stderr);
});

t.test('rebuild exits 2 and names the group when the log itself cannot be applied', async (t) => {
  // A stream that deletes an expense it never added (only possible by writing the log by hand).
  const bad = newEnvelopes(
    'group-zz-bad',
    0,
    [
      { type: 'GroupCreated', data: { groupId: 'zz-bad', name: 'Bad', currency: 'USD', members: [{ userId: 'u1', name: 'U' }] } },
      { type: 'ExpenseDeleted', data: { expenseId: 'nope' } },
    ],
    {},
    new Date(),
  );
  await ctx.env.eventLog.append('group-zz-bad', 0, bad);
  const out = await cli('replay', 'rebuild');
  t.equal(out.status, 2, out.stdout);
  t.match(out.stderr, /expense nope is not live in group zz-bad/);
});
