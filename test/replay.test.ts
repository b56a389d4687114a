import { spawnSync } from 'node:child_process';
import t from 'tap';
import { auditUser } from '../src/replay/audit.js';
import { verifyProjection } from '../src/replay/verify.js';
import { copyFactsInStreamOrder, unescapeCopyText } from '../src/store/copy-log.js';
import { readFactsInStreamOrder } from '../src/store/read-log.js';
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

t.test('verify split across worker threads sees the same log and finds the same drift as one thread', async (t) => {
  const groups = await Promise.all(['w1', 'w2', 'w3', 'w4', 'w5'].map((p) => busyGroup(p)));
  // Text that COPY's text format escapes (JSON's own backslash escapes, quotes, non-ASCII).
  const { g, ann } = groups[0] as (typeof groups)[number];
  const odd = await ann.api.post(`/groups/${g}/expenses`, {
    description: 'Tab\there, new\nline, back\\slash "quoted" — ünï ✓',
    amount: '2.00',
    paidBy: ann.userId,
    split: { mode: 'equal' },
  });
  t.equal(odd.status, 201);
  t.equal(cli('replay', 'rebuild').status, 0, 'earlier tests left drift behind: start from an honest projection');
  const db = ctx.env.database.db;
  const one = await verifyProjection(db, { workers: 1 });
  const three = await verifyProjection(db, { workers: 3 });
  t.same(one.mismatches, []);
  t.same(three, one, 'three workers: the same groups, events and (no) mismatches');
  t.ok(one.groups >= 5);

  // What the COPY reader decodes is exactly what the driver reads row by row.
  const reader = await ctx.env.database.pool.connect();
  try {
    const copied = [];
    for await (const facts of copyFactsInStreamOrder(reader)) copied.push(...facts);
    const read = [];
    for await (const fact of readFactsInStreamOrder(db)) read.push(fact);
    t.same(copied, read);
    t.ok(copied.some((f) => f.event.type === 'ExpenseAdded' && f.event.data.description === 'Tab\there, new\nline, back\\slash "quoted" — ünï ✓'));
  } finally {
    reader.release();
  }

  const [first, , , , last] = groups.map((x) => x.g);
  await ctx.env.database.query(`update user_balances set balance_minor = balance_minor + 7 where group_id = $1 and user_id = $2`, [
    last,
    groups[4]?.bob.userId,
  ]);
  await ctx.env.database.query(`update groups set version = version + 1 where group_id = $1`, [first]);
  const drift1 = await verifyProjection(db, { workers: 1 });
  const drift3 = await verifyProjection(db, { workers: 3 });
  t.same(drift3.mismatches, drift1.mismatches, 'the same findings in the same order');
  t.match(drift3.mismatches, [
    { groupId: first, kind: 'version' },
    { groupId: last, kind: 'balance' },
    { groupId: last, kind: 'sum' },
  ]);
  // A group whose projection is gone entirely is still in some worker's range.
  for (const table of ['group_members', 'user_balances', 'expenses', 'groups']) {
    await ctx.env.database.query(`delete from ${table} where group_id = $1`, [first]);
  }
  t.match(
    (await verifyProjection(db, { workers: 3 })).mismatches.filter((m) => m.groupId === first),
    [{ kind: 'missing-group' }],
  );
  const cliRun = cli('replay', 'verify', '--json', '--workers', '2');
  t.equal(cliRun.status, 1, cliRun.stderr);
  t.match(JSON.parse(cliRun.stdout), { ok: false, mismatches: [{ groupId: first, kind: 'missing-group' }] });
  t.equal(cli('replay', 'verify', '--workers', '0').status, 2, '--workers must be a positive integer');
  t.equal(cli('replay', 'rebuild').status, 0, 'the rebuild mends it all');
});

t.test('COPY text values come back as stored', async (t) => {
  t.equal(unescapeCopyText('plain'), 'plain');
  t.equal(unescapeCopyText('a\\\\tb\\tc\\nd\\re\\\\'), 'a\\tb\tc\nd\re\\');
  t.throws(() => unescapeCopyText('\\x41'), /unexpected escape/);
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
