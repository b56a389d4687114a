import { spawnSync } from 'node:child_process';
import t from 'tap';
import { auditUser } from '../src/replay/audit.js';
import { verifyProjection } from '../src/replay/verify.js';
import { useTestApp } from './helpers/app.js';
import { busyGroup as busyGroupOf } from './helpers/scenarios.js';
import { CLI, plainEnv } from './helpers/server-process.js';

const ctx = useTestApp(t);

const cli = (...args: string[]) =>
  spawnSync(process.execPath, [CLI, ...args], { env: plainEnv({ DATABASE_URL: ctx.env.database.url, LOG_LEVEL: 'warn' }), encoding: 'utf8', timeout: 60_000 });

const busyGroup = (prefix: string) => busyGroupOf(ctx.api, prefix);

t.test('verify passes on an honest projection, and names exactly what was corrupted', async (t) => {
  const { g, bob } = await busyGroup('v');
  const clean = await verifyProjection(ctx.env.database.db);
  t.same(clean.mismatches, []);
  t.equal(clean.events, 8);
  const ok = cli('replay', 'verify');
  t.equal(ok.status, 0, ok.stderr);
  t.match(ok.stdout, /^OK: 1 groups, 8 events/m);

  await ctx.env.database.query(`update user_balances set balance_minor = balance_minor + 1 where group_id = $1 and user_id = $2`, [g, bob.userId]);
  const drift = await verifyProjection(ctx.env.database.db, { groupId: g });
  t.match(drift.mismatches, [
    { groupId: g, kind: 'balance', userId: bob.userId, expected: '-2.00', actual: '-1.99' },
    { groupId: g, kind: 'sum' },
  ]);
  const text = cli('replay', 'verify', '--group', g);
  t.equal(text.status, 1, text.stderr + text.stdout);
  t.match(text.stdout, new RegExp(`DRIFT group=${g} user=${bob.userId} balance: expected -2.00, projection has -1.99`));
  const json = cli('replay', 'verify', '--json');
  t.equal(json.status, 1);
  t.match(JSON.parse(json.stdout), { ok: false, mismatches: [{ groupId: g, userId: bob.userId, kind: 'balance' }] });
  await ctx.env.database.query(`update user_balances set balance_minor = balance_minor - 1 where group_id = $1 and user_id = $2`, [g, bob.userId]);

  await ctx.env.database.query(`delete from expenses where group_id = $1 and expense_id = 'e1'`, [g]);
  t.match((await verifyProjection(ctx.env.database.db, { groupId: g })).mismatches, [{ kind: 'expense', expenseId: 'e1', actual: '(no expense)' }]);
  await ctx.env.database.query(`update groups set version = version + 1 where group_id = $1`, [g]);
  t.match((await verifyProjection(ctx.env.database.db, { groupId: g })).mismatches, [{ kind: 'version', expected: '8', actual: '9' }, { kind: 'expense' }]);
});

t.test('audit explains a balance event by event', async (t) => {
  const { g, bob } = await busyGroup('a');
  const report = await auditUser(ctx.env.database.db, g, bob.userId);
  t.ok(report);
  t.same(
    report?.entries.map((e) => [e.version, e.type, e.expenseId, e.delta, e.balance]),
    [
      [2, 'ExpenseAdded', 'e1', '-5.00', '-5.00'],
      [3, 'ExpenseAdded', 'e2', '1.51', '-3.49'],
      [4, 'ExpenseAdded', 'e3', '-3.50', '-6.99'],
      [5, 'ExpenseDeleted', 'e3', '3.50', '-3.49'],
      [6, 'ExpenseDeleted', 'e2', '-1.51', '-5.00'],
      [7, 'ExpenseAdded', 'e2', '2.00', '-3.00'],
      [8, 'ExpenseAdded', 'payment-id', '1.00', '-2.00'].map((v, i) => (i === 2 ? report?.entries[6]?.expenseId : v)),
    ],
  );
  t.equal(report?.balance, '-2.00');
  t.equal(report?.served, '-2.00');
  t.ok(report?.matches);
  const out = cli('audit', '--group', g, '--user', bob.userId);
  t.equal(out.status, 0, out.stderr);
  t.match(out.stdout, /event log balance -2\.00; served balance -2\.00: MATCH/);
  await ctx.env.database.query(`update user_balances set balance_minor = 0 where group_id = $1 and user_id = $2`, [g, bob.userId]);
  const drift = cli('audit', '--group', g, '--user', bob.userId, '--json');
  t.equal(drift.status, 1);
  t.match(JSON.parse(drift.stdout), { balance: '-2.00', served: '0.00', matches: false });
  t.equal(cli('audit', '--group', 'no-such-group', '--user', bob.userId).status, 2);
});

t.test('the tools exit 2 when they cannot do their job', async (t) => {
  const broken = spawnSync(process.execPath, [CLI, 'replay', 'verify'], {
    env: plainEnv({ DATABASE_URL: 'postgres://nobody:wrong@127.0.0.1:1/nothing', LOG_LEVEL: 'silent' }),
    encoding: 'utf8',
    timeout: 60_000,
  });
  t.equal(broken.status, 2);
  t.match(broken.stderr, /fairshare:/);
  t.equal(cli('audit', '--group', 'x').status, 2, 'missing --user is a usage error');
});
