#!/usr/bin/env node
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir, totalmem } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import pino from 'pino';
import { createDb, createPool } from '../src/db/database.js';
import { freePort, releaseEmbeddedExitHooks, startEmbeddedPostgres } from '../src/db/embedded.js';
import { migrateToLatest } from '../src/db/migrate.js';
import { handleGroupCommand } from '../src/unit-of-work/command-handler.js';
import { settle } from '../src/money/settlements.js';
import { rebuildProjection } from '../src/projections/rebuild.js';
import { httpLoad } from './http-load.js';
import { BENCH_MEMBERS, copyEvents } from './log-gen.js';
import { pgbench, type LoadResult, type PgbenchRun } from './pgbench.js';
import { median, percentile, ratio, round } from './stats.js';

releaseEmbeddedExitHooks();

const options = new Command()
  .name('bench')
  .description('Measures FairShare against baselines taken in the same run on the same machine')
  .option('--quick', 'tiny sizes, one repetition: a smoke run that proves the script works (no figures worth quoting)')
  .option('--reps <n>', 'repetitions per figure (medians are reported)', Number, 3)
  .option('--seconds <n>', 'seconds per load run', Number, 5)
  .option('--groups <n>', 'groups the "many groups" runs spread over', Number, 200)
  .option('--history <n>', 'events in the long-history group', Number, 100_000)
  .option('--events <n>', 'events in the big log for replay verify / rebuild', Number, 1_000_000)
  .option('--group-events <n>', 'events per group in the big logs', Number, 1_000)
  .option('--big-events <n>', 'a second, bigger log size for the memory comparison (0: skip)', Number, 5_000_000)
  .option('--out <dir>', 'where to write results.json and results.md', 'bench-results')
  .option('--only <figures>', 'comma-separated figures to run: writes,reads,history,replay,settle', 'writes,reads,history,replay,settle')
  .parse()
  .opts<{
    quick?: boolean;
    reps: number;
    seconds: number;
    groups: number;
    history: number;
    events: number;
    groupEvents: number;
    bigEvents: number;
    out: string;
    only: string;
  }>();
const only = new Set(options.only.split(',').map((s) => s.trim()));

if (options.quick) Object.assign(options, { reps: 1, seconds: 1, groups: 5, history: 300, events: 3_000, bigEvents: 6_000 });

// BENCH_NODE_ARGS (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof") go to every FairShare process the bench starts.
const nodeArgs = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CLI = path.join(ROOT, 'dist/src/cli/main.js');
const logger = pino({ level: 'warn' }, pino.destination(2));
const say = (text: string) => process.stderr.write(`${text}\n`);

interface Row {
  figure: string;
  value: number;
  unit: string;
  baseline?: string;
  baselineValue?: number;
  ratio?: number;
  target?: string;
  met?: boolean;
  detail?: string;
}
const rows: Row[] = [];
const record = (row: Row) => {
  rows.push(row);
  say(
    `  ${row.figure}: ${round(row.value)} ${row.unit}${row.baselineValue !== undefined ? ` vs ${row.baseline} ${round(row.baselineValue)} → ${round(row.ratio ?? Number.NaN)}×` : ''}${row.target ? ` (target ${row.target}: ${row.met ? 'met' : 'MISSED'})` : ''}`,
  );
};

/** pgbench's run for `clients`: timed, or in a smoke run a fixed count that cannot come back empty on a slow machine. */
const pgbenchRun = (clients: number): PgbenchRun => ({ clients, seconds: options.seconds, ...(options.quick ? { transactionsPerClient: 20 } : {}) });

/** The same for HTTP load through autocannon. */
const httpRun = (connections: number) => ({ connections, seconds: options.seconds, ...(options.quick ? { requests: connections * 20 } : {}) });

async function repeat(n: number, fn: () => Promise<LoadResult>): Promise<LoadResult> {
  const runs: LoadResult[] = [];
  for (let i = 0; i < n; i++) runs.push(await fn());
  return {
    tps: median(runs.map((r) => r.tps)),
    p50ms: median(runs.map((r) => r.p50ms)),
    p99ms: median(runs.map((r) => r.p99ms)),
    count: runs.reduce((a, r) => a + r.count, 0),
  };
}

// ---- infrastructure -----------------------------------------------------------------

const started = Date.now();
let embedded: Awaited<ReturnType<typeof startEmbeddedPostgres>> | undefined;
let dataDir: string | undefined;
let adminUrl = process.env.DATABASE_URL;
if (!adminUrl) {
  dataDir = await mkdtemp(path.join(tmpdir(), 'fairshare-bench-'));
  await chmod(dataDir, 0o755); // as root, the embedded server runs as postgres and must reach it
  embedded = await startEmbeddedPostgres({ dataDir, logger, database: 'postgres' });
  adminUrl = embedded.adminUrl;
}
const children: ChildProcess[] = [];
const databases: string[] = [];

async function createDatabase(): Promise<string> {
  const name = `fs_bench_${randomBytes(5).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  databases.push(name);
  const url = new URL(adminUrl as string);
  url.pathname = `/${name}`;
  const pool = createPool({ connectionString: url.toString(), max: 2 });
  const db = createDb(pool);
  await migrateToLatest(db);
  await db.destroy();
  return url.toString();
}

/** Starts a Node process and waits until `readyUrl` answers 200 (whatever it logs, at any level). */
async function startProcess(args: string[], env: Record<string, string>, readyUrl: string): Promise<ChildProcess> {
  // Its output is discarded, so logging never blocks it.
  const child = spawn(process.execPath, args, { env: { ...process.env, ...env }, stdio: 'ignore' });
  children.push(child);
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`${args.join(' ')} exited ${child.exitCode}`);
    if (
      await fetch(readyUrl).then(
        (r) => r.ok,
        () => false,
      )
    )
      return child;
    if (i > 600) throw new Error(`${args.join(' ')} did not start`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Stops every process the bench started, gracefully (so a --cpu-prof profile from BENCH_NODE_ARGS gets written). */
async function stopChildren(): Promise<void> {
  await Promise.all(
    children.map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
          child.once('exit', () => (clearTimeout(timer), resolve()));
          child.kill('SIGTERM');
        }),
    ),
  );
}

async function timeProcess(args: string[], env: Record<string, string>): Promise<{ seconds: number; maxRssMb: number; stdout: string }> {
  const start = process.hrtime.bigint();
  return new Promise((resolve, reject) => {
    const child = spawn('/usr/bin/time', ['-v', process.execPath, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('exit', (code) => {
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      const rss = Number(/Maximum resident set size \(kbytes\): (\d+)/.exec(stderr)?.[1] ?? Number.NaN) / 1024;
      if (code !== 0) reject(new Error(`${args.join(' ')} exited ${code}:\n${stdout}\n${stderr.slice(-2000)}`));
      else resolve({ seconds, maxRssMb: rss, stdout });
    });
  });
}

async function call(base: string, method: string, pathName: string, token: string | undefined, body?: unknown) {
  const res = await fetch(`${base}${pathName}`, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body ? { 'content-type': 'application/json' } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  const json = (await res.json()) as { token?: string; [key: string]: unknown };
  if (res.status >= 300) throw new Error(`${method} ${pathName}: ${res.status} ${JSON.stringify(json)}`);
  return { json, etag: res.headers.get('etag') ?? '' };
}

// ---- the figures ---------------------------------------------------------------------

try {
  say(`FairShare bench: ${options.quick ? 'QUICK smoke run' : 'full run'} on ${cpus().length} cores, ${Math.round(totalmem() / 2 ** 30)} GiB`);
  const url = await createDatabase();
  const port = await freePort();
  // Logs at the production default (info) unless BENCH_LOG_LEVEL says otherwise.
  const base = `http://127.0.0.1:${port}`;
  await startProcess(
    [...nodeArgs, CLI, 'serve'],
    { DATABASE_URL: url, PORT: String(port), LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'info' },
    `${base}/health/ready`,
  );

  // Users and groups through the API: one bench user in every group, with three others.
  const me = (await call(base, 'POST', '/users', undefined, { userId: 'bench-u1', name: 'Bench One' })).json;
  for (const userId of BENCH_MEMBERS.slice(1)) await call(base, 'POST', '/users', undefined, { userId, name: userId });
  const groups = Array.from({ length: options.groups }, (_, i) => `g${i + 1}`);
  const token = me.token as string;
  for (const groupId of [...groups, 'hot']) {
    await call(base, 'POST', '/groups', token, { groupId, name: groupId, currency: 'EUR', members: BENCH_MEMBERS.slice(1) });
  }
  const expense = JSON.stringify({ description: 'Bench dinner', amount: '12.34', paidBy: 'bench-u1', split: { mode: 'equal' } });
  const auth = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
  const randomGroup = () => groups[Math.floor(Math.random() * groups.length)] as string;

  // The same-shape raw SQL: one event insert, the balance updates, the version bump.
  const raw = new pg.Client({ connectionString: url });
  await raw.connect();
  await raw.query(`
    create table raw_events (like events including all);
    create table raw_groups (group_id int primary key, version int not null);
    create table raw_balances (group_id int not null, user_id text not null, balance_minor bigint not null default 0, primary key (group_id, user_id));
    insert into raw_groups select g, 1 from generate_series(0, ${options.groups}) g;
    insert into raw_balances select g, u, 0 from generate_series(0, ${options.groups}) g, unnest(array['bench-u1','bench-u2','bench-u3','bench-u4']) u;`);
  await raw.end();
  const data = JSON.stringify({
    expenseId: 'x',
    kind: 'expense',
    description: 'Bench dinner',
    currency: 'EUR',
    amountMinor: 1234,
    payers: [{ userId: 'bench-u1', amountMinor: 1234 }],
    shares: BENCH_MEMBERS.map((u, i) => ({ userId: u, amountMinor: i < 2 ? 309 : 308 })),
  });
  // `notify` adds what FairShare's design adds to every command: a NOTIFY, delivered on commit.
  const rawWrite = (groupExpr: string, notify = false) => `\\set g ${groupExpr}
BEGIN;
UPDATE raw_groups SET version = version + 1 WHERE group_id = :g RETURNING version AS v \\gset
INSERT INTO raw_events (stream_id, version, event_id, type, schema_version, data, metadata) VALUES ('group-' || :g, :v, gen_random_uuid(), 'ExpenseAdded', 1, '${data}', '{}');
UPDATE raw_balances b SET balance_minor = b.balance_minor + d.delta FROM (VALUES ('bench-u1', 925), ('bench-u2', -309), ('bench-u3', -308), ('bench-u4', -308)) AS d(user_id, delta) WHERE b.group_id = :g AND b.user_id = d.user_id;
${notify ? `SELECT pg_notify('group_changed', '{"groupId":"raw' || :g || '","version":' || :v || '}');` : ''}
COMMIT;
`;

  if (only.has('writes')) say('1. add-expense throughput and latency (HTTP vs pgbench raw SQL)');
  const rawWrites = new Map<string, LoadResult>();
  for (const shape of only.has('writes') ? (['many groups', 'one hot group'] as const) : []) {
    for (const connections of [1, 8, 64]) {
      const http = await repeat(options.reps, () =>
        httpLoad({
          url: base,
          ...httpRun(connections),
          method: 'POST',
          body: expense,
          headers: auth,
          ok: [201],
          next: () => ({ path: `/groups/${shape === 'many groups' ? randomGroup() : 'hot'}/expenses` }),
        }),
      );
      const sql = await repeat(options.reps, () =>
        pgbench(url, rawWrite(shape === 'many groups' ? `random(1, ${options.groups})` : '0'), pgbenchRun(connections)),
      );
      rawWrites.set(`${shape}/${connections}`, sql);
      const r = ratio(http.tps, sql.tps);
      record({
        figure: `add expense, ${shape}, concurrency ${connections}`,
        value: http.tps,
        unit: 'req/s',
        baseline: 'pgbench raw SQL',
        baselineValue: sql.tps,
        ratio: r,
        ...(shape === 'many groups' ? { target: '≥ 0.50×', met: r >= 0.5 } : {}),
        detail: `p50 ${round(http.p50ms)} ms / p99 ${round(http.p99ms)} ms (raw SQL p50 ${round(sql.p50ms)} / p99 ${round(sql.p99ms)} ms)`,
      });
      if (shape === 'many groups') {
        // PostgreSQL serialises the commits of transactions that NOTIFY: the same raw SQL
        // with a NOTIFY shows how much of the gap that design choice costs by itself.
        const notifying = await repeat(options.reps, () => pgbench(url, rawWrite(`random(1, ${options.groups})`, true), pgbenchRun(connections)));
        record({
          figure: `add expense, many groups, concurrency ${connections}, against raw SQL that also NOTIFYs`,
          value: http.tps,
          unit: 'req/s',
          baseline: 'pgbench raw SQL + pg_notify',
          baselineValue: notifying.tps,
          ratio: ratio(http.tps, notifying.tps),
          detail: `raw SQL with NOTIFY is ${round(ratio(notifying.tps, sql.tps))}× of raw SQL without (p50 ${round(notifying.p50ms)} / p99 ${round(notifying.p99ms)} ms)`,
        });
      }
    }
  }

  // Where the gap to raw SQL lies: the same unit of work (lock, load, decide, append,
  // project, notify, commit) called in this process, without HTTP, auth or JSON.
  for (const connections of only.has('writes') ? [1, 8] : []) {
    const work = await repeat(options.reps, () => unitOfWorkLoad(url, groups, connections, options.seconds));
    const sql = rawWrites.get(`many groups/${connections}`) as LoadResult;
    record({
      figure: `add expense without HTTP (the command handler in-process), many groups, concurrency ${connections}`,
      value: work.tps,
      unit: 'commands/s',
      baseline: 'pgbench raw SQL',
      baselineValue: sql.tps,
      ratio: ratio(work.tps, sql.tps),
      detail: `p50 ${round(work.p50ms)} ms / p99 ${round(work.p99ms)} ms; shows how much of the gap is the database work and how much is HTTP`,
    });
  }

  if (only.has('reads')) {
    say('2. balance reads (HTTP vs trivial fastify route and pgbench raw SQL)');
    const etags = new Map<string, string>();
    for (const g of groups) etags.set(g, (await call(base, 'GET', `/groups/${g}/balances`, token)).etag);
    const trivialPort = await freePort();
    const trivial = await startProcess(
      [path.join(ROOT, 'build/bench/trivial-server.js')],
      { PORT: String(trivialPort) },
      `http://127.0.0.1:${trivialPort}/groups/g1/balances`,
    );
    const rawRead = `\\set g random(1, ${options.groups})
BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;
SELECT g.group_id, g.currency, g.version FROM groups g JOIN group_members m ON m.group_id = g.group_id AND m.user_id = 'bench-u1' WHERE g.group_id = 'g' || :g;
SELECT m.user_id, m.name, b.balance_minor FROM group_members m LEFT JOIN user_balances b ON b.group_id = m.group_id AND b.user_id = m.user_id WHERE m.group_id = 'g' || :g ORDER BY m.position;
COMMIT;
`;
    for (const connections of [8, 64]) {
      const triv = await repeat(options.reps, () =>
        httpLoad({ url: `http://127.0.0.1:${trivialPort}`, ...httpRun(connections), next: () => ({ path: `/groups/${randomGroup()}/balances` }) }),
      );
      const sql = await repeat(options.reps, () => pgbench(url, rawRead, pgbenchRun(connections)));
      for (const cached of [false, true]) {
        const http = await repeat(options.reps, () =>
          httpLoad({
            url: base,
            ...httpRun(connections),
            headers: { authorization: `Bearer ${token}` },
            ok: cached ? [304] : [200],
            next: () => {
              const g = randomGroup();
              return { path: `/groups/${g}/balances`, ...(cached ? { headers: { 'if-none-match': etags.get(g) as string } } : {}) };
            },
          }),
        );
        const r = ratio(http.tps, triv.tps);
        record({
          figure: `balances read${cached ? ' with If-None-Match (304)' : ''}, concurrency ${connections}`,
          value: http.tps,
          unit: 'req/s',
          baseline: 'trivial fastify route',
          baselineValue: triv.tps,
          ratio: r,
          target: '≥ 0.60×',
          met: r >= 0.6,
          detail: `p99 ${round(http.p99ms)} ms (trivial p99 ${round(triv.p99ms)} ms); raw SQL read via pgbench ${round(sql.tps)} tx/s, p99 ${round(sql.p99ms)} ms → HTTP is ${round(ratio(http.tps, sql.tps))}× of it`,
        });
      }
    }
    trivial.kill('SIGTERM');
  }

  if (only.has('history')) {
    say(`3. add-expense latency on a group with ${options.history} events vs one with 10`);
    await copyEvents(url, [
      { groupId: 'history-short', events: 10 },
      { groupId: 'history-long', events: options.history },
    ]);
    {
      const pool = createPool({ connectionString: url, max: 2 });
      const db = createDb(pool);
      await rebuildProjection(db, { groupId: 'history-short' });
      await rebuildProjection(db, { groupId: 'history-long' });
      await db.destroy();
    }
    const p50 = async (groupId: string) =>
      repeat(options.reps, () =>
        httpLoad({ url: base, ...httpRun(1), method: 'POST', body: expense, headers: auth, ok: [201], next: () => ({ path: `/groups/${groupId}/expenses` }) }),
      );
    const short = await p50('history-short');
    const long = await p50('history-long');
    record({
      figure: `add expense p50 on a ${options.history}-event group`,
      value: long.p50ms,
      unit: 'ms',
      baseline: '10-event group',
      baselineValue: short.p50ms,
      ratio: ratio(long.p50ms, short.p50ms),
      target: '≤ 1.20×',
      met: ratio(long.p50ms, short.p50ms) <= 1.2,
      detail: `p99 ${round(long.p99ms)} vs ${round(short.p99ms)} ms`,
    });
  }

  // The servers are done: the replay figures get the machine to themselves.
  await stopChildren();

  if (only.has('replay')) {
    say(`4. replay verify and rebuild over ${options.events} events (vs a raw COPY of the same events)`);
    const bigUrl = await createDatabase();
    const perGroup = options.groupEvents;
    const bigGroups = (count: number, from: number) =>
      Array.from({ length: Math.ceil(count / perGroup) }, (_, i) => ({ groupId: `big${from + i}`, events: perGroup }));
    const generated = Date.now();
    const written = await copyEvents(bigUrl, bigGroups(options.events, 0));
    say(`  generated ${written} events with COPY in ${round((Date.now() - generated) / 1000)} s`);
    const measureLog = async (events: number) => {
      const copyRate = [];
      for (let i = 0; i < options.reps; i++) copyRate.push(await rawCopyRate(bigUrl));
      const rebuild = await timeProcess([...nodeArgs, CLI, 'replay', 'rebuild', '--json'], { DATABASE_URL: bigUrl, LOG_LEVEL: 'warn' });
      const rebuilt = JSON.parse(rebuild.stdout) as { ok: boolean };
      if (!rebuilt.ok) throw new Error('the rebuilt projection does not verify');
      const verifies = [];
      for (let i = 0; i < options.reps; i++)
        verifies.push(await timeProcess([...nodeArgs, CLI, 'replay', 'verify', '--json'], { DATABASE_URL: bigUrl, LOG_LEVEL: 'warn' }));
      const verifyRate = events / median(verifies.map((v) => v.seconds));
      const raw = median(copyRate);
      record({
        figure: `replay verify, ${events} events`,
        value: verifyRate,
        unit: 'events/s',
        baseline: 'COPY … TO STDOUT',
        baselineValue: raw,
        ratio: ratio(verifyRate, raw),
        target: '≥ 0.50×',
        met: ratio(verifyRate, raw) >= 0.5,
        detail: `peak RSS ${round(median(verifies.map((v) => v.maxRssMb)), 0)} MB; median of ${verifies.length} runs, whole process`,
      });
      record({
        figure: `replay rebuild then verify, ${events} events`,
        value: events / rebuild.seconds,
        unit: 'events/s',
        baseline: 'COPY … TO STDOUT',
        baselineValue: raw,
        ratio: ratio(events / rebuild.seconds, raw),
        detail: `peak RSS ${round(rebuild.maxRssMb, 0)} MB; one run (it rewrites every row)`,
      });
      return median(verifies.map((v) => v.maxRssMb));
    };
    const rssSmall = await measureLog(written);
    if (options.bigEvents > written) {
      const more = await copyEvents(bigUrl, bigGroups(options.bigEvents - written, Math.ceil(written / perGroup)));
      const rssBig = await measureLog(written + more);
      record({
        figure: `verify peak memory, ${written + more} vs ${written} events`,
        value: rssBig,
        unit: 'MB',
        baseline: `${written} events`,
        baselineValue: rssSmall,
        ratio: ratio(rssBig, rssSmall),
        target: '≈ 1× (flat)',
        met: ratio(rssBig, rssSmall) < 1.25,
      });
    }
  }

  if (only.has('settle')) say('5. settlement computation');
  for (const members of only.has('settle') ? [12, 50, 500] : []) {
    const times: number[] = [];
    for (let rep = 0; rep < Math.max(5, options.reps * 5); rep++) {
      const balances = Array.from({ length: members }, (_, i) => ({ userId: `u${i}`, balance: BigInt(Math.floor(Math.random() * 200_000) - 100_000) }));
      const sum = balances.reduce((a, b) => a + b.balance, 0n);
      (balances[0] as { balance: bigint }).balance -= sum;
      const t0 = process.hrtime.bigint();
      settle(balances);
      times.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    record({ figure: `settlements for ${members} members`, value: median(times), unit: 'ms', detail: `median of ${times.length}` });
  }

  await writeReport();
} finally {
  await stopChildren();
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  for (const name of databases) await admin.query(`drop database if exists ${name} with (force)`);
  await admin.end();
  await embedded?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
}

/** Runs `handleGroupCommand` itself (a trivial response, no HTTP) from `connections` workers for `seconds`. */
async function unitOfWorkLoad(url: string, groups: string[], connections: number, seconds: number): Promise<LoadResult> {
  const pool = createPool({ connectionString: url, max: connections });
  const db = createDb(pool);
  const deps = { db, logger: pino({ level: 'info' }, pino.destination('/dev/null')) };
  const input = { description: 'Bench dinner', amount: '12.34', paidBy: 'bench-u1', split: { mode: 'equal' as const } };
  const latencies: number[] = [];
  const until = Date.now() + seconds * 1000;
  const t0 = process.hrtime.bigint();
  try {
    await Promise.all(
      Array.from({ length: connections }, async () => {
        while (Date.now() < until) {
          const groupId = groups[Math.floor(Math.random() * groups.length)] as string;
          const start = process.hrtime.bigint();
          await handleGroupCommand(
            deps,
            { groupId, actorUserId: 'bench-u1', requestId: 'bench' },
            { type: 'AddExpense', expenseId: randomUUID(), input, now: new Date().toISOString() },
          );
          latencies.push(Number(process.hrtime.bigint() - start) / 1e6);
        }
      }),
    );
  } finally {
    await db.destroy();
  }
  const elapsed = Number(process.hrtime.bigint() - t0) / 1e9;
  return { tps: latencies.length / elapsed, p50ms: percentile(latencies, 50), p99ms: percentile(latencies, 99), count: latencies.length };
}

async function rawCopyRate(url: string): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const count = Number((await client.query('select count(*) as n from events')).rows[0].n);
    const t0 = process.hrtime.bigint();
    const stream = client.query(copyTo('copy (select stream_id, version, type, schema_version, data from events order by stream_id, version) to stdout'));
    for await (const _chunk of stream) {
      // drained, as fast as the server sends
    }
    return count / (Number(process.hrtime.bigint() - t0) / 1e9);
  } finally {
    await client.end();
  }
}

async function writeReport(): Promise<void> {
  const result = {
    date: new Date().toISOString(),
    command: ['npm run bench', ...(process.argv.length > 2 ? ['--', ...process.argv.slice(2)] : [])].join(' '),
    machine: { cores: cpus().length, memoryGiB: Math.round(totalmem() / 2 ** 30), node: process.version },
    options,
    seconds: round((Date.now() - started) / 1000, 0),
    rows: rows.map((r) => ({
      ...r,
      value: round(r.value, 3),
      ...(r.baselineValue === undefined ? {} : { baselineValue: round(r.baselineValue, 3) }),
      ...(r.ratio === undefined ? {} : { ratio: round(r.ratio, 3) }),
    })),
  };
  const fmt = (n: number) => (n >= 100 ? Math.round(n).toLocaleString('en-US') : String(round(n)));
  const md = [
    `| figure | FairShare | baseline | ratio | target | |`,
    `|---|---|---|---|---|---|`,
    ...rows.map(
      (r) =>
        `| ${r.figure} | ${fmt(r.value)} ${r.unit} | ${r.baselineValue === undefined ? '' : `${r.baseline}: ${fmt(r.baselineValue)}`} | ${r.ratio === undefined ? '' : `${round(r.ratio)}×`} | ${r.target ?? ''} | ${r.target ? (r.met ? 'met' : '**missed**') : ''} |`,
    ),
    '',
    ...rows.filter((r) => r.detail).map((r) => `- ${r.figure}: ${r.detail}`),
  ].join('\n');
  await mkdir(options.out, { recursive: true });
  await writeFile(path.join(options.out, 'results.json'), `${JSON.stringify(result, null, 2)}\n`);
  await writeFile(path.join(options.out, 'results.md'), `${md}\n`);
  process.stdout.write(`${md}\n\n(${result.seconds} s; ${options.out}/results.json)\n`);
}
