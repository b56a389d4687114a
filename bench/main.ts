#!/usr/bin/env node
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, cpus, tmpdir, totalmem } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { Kysely, PostgresDialect, type RawBuilder } from 'kysely';
import pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import pino from 'pino';
import { createDb, createPool } from '../src/db/database.js';
import { freePort, startEmbeddedPostgres } from '../src/db/embedded.js';
import { groupBalancesStatement } from '../src/read-model/group-reads.js';
import { migrateToLatest } from '../src/db/migrate.js';
import { handleGroupCommand } from '../src/unit-of-work/command-handler.js';
import { settle } from '../src/money/settlements.js';
import { rebuildProjection } from '../src/projections/rebuild.js';
import { httpLoad } from './http-load.js';
import { BENCH_MEMBERS, copyEvents } from './log-gen.js';
import { pgbench, type LoadResult, type PgbenchRun } from './pgbench.js';
import type { Database } from '../src/db/schema.js';
import { median, percentile, ratio, round } from './stats.js';

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
  .option('--only <figures>', 'comma-separated figures to run: writes,reads,live,history,replay,settle', 'writes,reads,live,history,replay,settle')
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

type Repeated = LoadResult & { runs: number[] };

async function repeat(n: number, fn: () => Promise<LoadResult>): Promise<Repeated> {
  const runs: LoadResult[] = [];
  for (let i = 0; i < n; i++) runs.push(await fn());
  return summarise(runs);
}

/**
 * Two loads compared with each other, run in alternating order (A B, B A, A B, …), so a
 * drift of this shared machine during the run falls on both alike.
 */
async function paired(n: number, a: () => Promise<LoadResult>, b: () => Promise<LoadResult>): Promise<[Repeated, Repeated]> {
  const ra: LoadResult[] = [];
  const rb: LoadResult[] = [];
  for (let i = 0; i < n; i++) {
    if (i % 2 === 0) {
      ra.push(await a());
      rb.push(await b());
    } else {
      rb.push(await b());
      ra.push(await a());
    }
  }
  return [summarise(ra), summarise(rb)];
}

function summarise(runs: LoadResult[]): Repeated {
  return {
    tps: median(runs.map((r) => r.tps)),
    p50ms: median(runs.map((r) => r.p50ms)),
    p99ms: median(runs.map((r) => r.p99ms)),
    count: runs.reduce((a, r) => a + r.count, 0),
    runs: runs.map((r) => r.tps),
  };
}

/** How far the repetitions of a figure lay apart: "min–max" of their rates. */
const spread = (r: Repeated): string => `${round(Math.min(...r.runs), 0)}–${round(Math.max(...r.runs), 0)}`;

/** Between phases: the rows the previous phase wrote are vacuumed and analysed, so no phase pays for another's. */
async function vacuum(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query('vacuum analyze');
  } finally {
    await client.end();
  }
}

/** Compiles FairShare's statements for pgbench; it never connects. */
const compiler = new Kysely<Database>({ dialect: new PostgresDialect({ pool: new pg.Pool() }) });

/**
 * A FairShare statement as pgbench runs it: its parameters written in, those named in
 * `expressions` replaced by pgbench expressions (such as a random group).
 */
function compiledForPgbench(statement: RawBuilder<unknown>, expressions: Record<string, string>): string {
  const { sql: text, parameters } = statement.compile(compiler);
  const literal = (value: unknown): string => {
    if (typeof value === 'string') return expressions[value] ?? `'${value.replaceAll("'", "''")}'`;
    if (Buffer.isBuffer(value)) return `'\\x${value.toString('hex')}'::bytea`;
    if (value === null || value === undefined) return 'null';
    return String(value);
  };
  return `${text.replace(/\$(\d+)/g, (_, n: string) => literal(parameters[Number(n) - 1]))};`;
}

/** Writes one expense at a time to `writer` and times how long its push takes to reach a live stream on `reader`. */
async function crossProcessDelays(writer: string, reader: string, token: string, expense: string, writes: number): Promise<number[]> {
  const controller = new AbortController();
  const res = await fetch(`${reader}/groups/g1/live`, { headers: { authorization: `Bearer ${token}` }, signal: controller.signal });
  if (!res.ok || !res.body) throw new Error(`the live stream answered ${res.status}`);
  const seen = new Map<number, number>();
  const waiting = new Map<number, () => void>();
  const decoder = new TextDecoder();
  const reading = (async () => {
    let buffer = '';
    for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
      buffer += decoder.decode(chunk, { stream: true });
      let end;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const version = Number(/^id: (\d+)$/m.exec(block)?.[1] ?? Number.NaN);
        if (Number.isNaN(version)) continue;
        seen.set(version, performance.now());
        waiting.get(version)?.();
      }
    }
  })().catch(() => undefined);
  const delays: number[] = [];
  try {
    for (let i = 0; i < writes; i++) {
      const answer = await fetch(`${writer}/groups/g1/expenses`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: expense,
      });
      const answered = performance.now();
      const { version } = (await answer.json()) as { version: number };
      if (!seen.has(version)) {
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`version ${version} never reached the other server's stream`)), 10_000);
          waiting.set(version, () => (clearTimeout(timer), resolve()));
        });
      }
      delays.push(Math.max(0, (seen.get(version) as number) - answered));
      // A pause between writes, so each one meets a tail that is idle, as it mostly is.
      await new Promise((r) => setTimeout(r, 20 + Math.random() * 60));
    }
  } finally {
    controller.abort();
    await reading;
  }
  return delays;
}

/** Statements per second the database runs for everything connected to it while nobody sends a request. */
async function idleQueriesPerSecond(url: string, seconds: number): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const count = async () =>
      Number((await client.query('select xact_commit + xact_rollback as n from pg_stat_database where datname = current_database()')).rows[0].n);
    await new Promise((r) => setTimeout(r, 1_500)); // statistics are flushed about once a second
    const before = await count();
    await new Promise((r) => setTimeout(r, seconds * 1000 + 1_500));
    const after = await count();
    return (after - before - 1) / (seconds + 1.5);
  } finally {
    await client.end();
  }
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

/** Starts a Node process and waits until `readyUrl` answers one of `ready` (whatever it logs, at any level). */
async function startProcess(args: string[], env: Record<string, string>, readyUrl: string, what = args.join(' '), ready = [200]): Promise<ChildProcess> {
  // Its output is discarded, so logging never blocks it.
  // A load test sets FairShare's rate limits out of its way (the other servers ignore these).
  const limits = { RATE_LIMIT_SIGNUPS_PER_MINUTE: '100000000', RATE_LIMIT_WRITES_PER_MINUTE: '100000000' };
  const child = spawn(process.execPath, args, { env: { ...process.env, ...limits, ...env }, stdio: 'ignore' });
  children.push(child);
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`${what} exited ${child.exitCode}`);
    if (
      await fetch(readyUrl).then(
        (r) => ready.includes(r.status),
        () => false,
      )
    )
      return child;
    if (i > 600) throw new Error(`${what} did not start`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Stops a process the bench started, gracefully (so a --cpu-prof profile from BENCH_NODE_ARGS gets written). */
const stopProcess = (child: ChildProcess) =>
  new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.once('exit', () => (clearTimeout(timer), resolve()));
    child.kill('SIGTERM');
  });

const stopChildren = () => Promise.all(children.map(stopProcess));

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

  // The same-shape raw SQL for pgbench: the version bump, one event insert, the balance updates.
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
  const rawWrite = (groupExpr: string) => `\\set g ${groupExpr}
BEGIN;
UPDATE raw_groups SET version = version + 1 WHERE group_id = :g RETURNING version AS v \\gset
INSERT INTO raw_events (stream_id, version, event_id, type, schema_version, data, metadata) VALUES ('group-' || :g, :v, gen_random_uuid(), 'ExpenseAdded', 1, '${data}', '{}');
UPDATE raw_balances b SET balance_minor = b.balance_minor + d.delta FROM (VALUES ('bench-u1', 925), ('bench-u2', -309), ('bench-u3', -308), ('bench-u4', -308)) AS d(user_id, delta) WHERE b.group_id = :g AND b.user_id = d.user_id;
COMMIT;
`;

  // The floor of this stack: fastify + pg running FairShare's own statements and nothing else.
  const minimalPort = await freePort();
  const minimal = `http://127.0.0.1:${minimalPort}`;
  const minimalServer = await startProcess(
    [...nodeArgs, path.join(ROOT, 'build/bench/minimal-server.js')],
    { DATABASE_URL: url, PORT: String(minimalPort) },
    `${minimal}/groups/g1/balances`,
    'the minimal route',
    [200, 404],
  );
  // The peer: Emmett's PostgreSQL event store with an inline projection of the balances.
  const emmettPort = await freePort();
  const emmett = `http://127.0.0.1:${emmettPort}`;
  const emmettServer = await startProcess(
    [path.join(ROOT, 'build/bench/emmett-server.js')],
    { DATABASE_URL: url, PORT: String(emmettPort) },
    `${emmett}/groups/none/expenses`,
    'the Emmett peer',
    [401, 404],
  ).catch((error: unknown) => {
    say(`  the Emmett peer could not start, so it is not measured: ${String(error)}`);
    return undefined;
  });
  const emmettUp = emmettServer !== undefined;
  if (emmettUp) for (const groupId of groups) await call(emmett, 'POST', '/groups', undefined, { groupId, members: BENCH_MEMBERS });

  if (only.has('writes')) {
    say('1. add-expense throughput and latency (FairShare vs the minimal route, pgbench on the same-shape SQL, and Emmett)');
    await vacuum(url);
  }
  for (const connections of only.has('writes') ? [1, 8, 64] : []) {
    const once = (target: string) => () =>
      httpLoad({
        url: target,
        ...httpRun(connections),
        method: 'POST',
        body: expense,
        headers: auth,
        ok: [201],
        next: () => ({ path: `/groups/${randomGroup()}/expenses` }),
      });
    const [http, floor] = await paired(options.reps, once(base), once(minimal));
    const sql = await repeat(options.reps, () => pgbench(url, rawWrite(`random(1, ${options.groups})`), pgbenchRun(connections)));
    const peer = emmettUp ? await repeat(options.reps, once(emmett)) : undefined;
    const atTarget = connections === 8;
    record({
      figure: `add expense, many groups, concurrency ${connections}`,
      value: http.tps,
      unit: 'req/s',
      baseline: 'minimal fastify + pg route, same statements',
      baselineValue: floor.tps,
      ratio: ratio(http.tps, floor.tps),
      ...(atTarget ? { target: '≥ 0.80×', met: ratio(http.tps, floor.tps) >= 0.8 } : {}),
      detail: `p50 ${round(http.p50ms)} / p99 ${round(http.p99ms)} ms, spread ${spread(http)}; minimal route p50 ${round(floor.p50ms)} / p99 ${round(floor.p99ms)} ms, spread ${spread(floor)}`,
    });
    record({
      figure: `add expense, many groups, concurrency ${connections}, against pgbench`,
      value: http.tps,
      unit: 'req/s',
      baseline: 'pgbench, same-shape SQL',
      baselineValue: sql.tps,
      ratio: ratio(http.tps, sql.tps),
      ...(atTarget ? { target: '≥ 0.50×', met: ratio(http.tps, sql.tps) >= 0.5 } : {}),
      detail: `raw SQL p50 ${round(sql.p50ms)} / p99 ${round(sql.p99ms)} ms, spread ${spread(sql)}`,
    });
    if (peer) {
      record({
        figure: `add expense, many groups, concurrency ${connections}, against Emmett`,
        value: http.tps,
        unit: 'req/s',
        baseline: 'Emmett PostgreSQL store + inline projection',
        baselineValue: peer.tps,
        ratio: ratio(http.tps, peer.tps),
        target: '> 1.0×',
        met: ratio(http.tps, peer.tps) > 1,
        detail: `Emmett p50 ${round(peer.p50ms)} / p99 ${round(peer.p99ms)} ms, spread ${spread(peer)}`,
      });
    }
  }
  if (only.has('writes')) {
    const hot = await repeat(options.reps, () =>
      httpLoad({ url: base, ...httpRun(64), method: 'POST', body: expense, headers: auth, ok: [201], next: () => ({ path: '/groups/hot/expenses' }) }),
    );
    const hotSql = await repeat(options.reps, () => pgbench(url, rawWrite('0'), pgbenchRun(64)));
    record({
      figure: 'add expense, one hot group, concurrency 64',
      value: hot.tps,
      unit: 'req/s',
      baseline: 'pgbench, same-shape SQL on one row',
      baselineValue: hotSql.tps,
      ratio: ratio(hot.tps, hotSql.tps),
      detail: `p50 ${round(hot.p50ms)} / p99 ${round(hot.p99ms)} ms (commands on one group queue on its row lock)`,
    });
    // Where the time goes: the unit of work called in this process, without HTTP, auth or JSON.
    const work = await repeat(options.reps, () => unitOfWorkLoad(url, groups, 8, options.seconds));
    record({
      figure: 'add expense without HTTP (the command handler in-process), concurrency 8',
      value: work.tps,
      unit: 'commands/s',
      detail: `p50 ${round(work.p50ms)} / p99 ${round(work.p99ms)} ms, spread ${spread(work)}; a diagnostic figure`,
    });
    // Everything the writes wrote (FairShare's own and the minimal route's) must still verify.
    const verified = await timeProcess([CLI, 'replay', 'verify', '--json'], { DATABASE_URL: url, LOG_LEVEL: 'warn' });
    if (!(JSON.parse(verified.stdout) as { ok: boolean }).ok) throw new Error(`replay verify found drift after the writes:\n${verified.stdout}`);
    say('  replay verify after the writes: OK');
  }

  if (only.has('reads')) {
    say('2. balance reads (FairShare vs the minimal route; the trivial route and pgbench as context)');
    await vacuum(url);
    const etags = new Map<string, string>();
    for (const g of groups) etags.set(g, (await call(base, 'GET', `/groups/${g}/balances`, token)).etag);
    const trivialPort = await freePort();
    const trivialServer = await startProcess(
      [path.join(ROOT, 'build/bench/trivial-server.js')],
      { PORT: String(trivialPort) },
      `http://127.0.0.1:${trivialPort}/groups/g1/balances`,
      'the trivial route',
    );
    const tokenHash = createHash('sha256').update(token).digest('hex');
    const rawRead = `\\set g random(1, ${options.groups})
${compiledForPgbench(groupBalancesStatement('GROUP', { tokenHash: Buffer.from(tokenHash, 'hex') }), { GROUP: `'g' || :g` })}
`;
    for (const connections of [8, 64]) {
      const once =
        (target: string, cached = false) =>
        () =>
          httpLoad({
            url: target,
            ...httpRun(connections),
            headers: { authorization: `Bearer ${token}` },
            ok: cached ? [304] : [200],
            next: () => {
              const g = randomGroup();
              return { path: `/groups/${g}/balances`, ...(cached ? { headers: { 'if-none-match': etags.get(g) as string } } : {}) };
            },
          });
      const [uncached, floor] = await paired(options.reps, once(base), once(minimal));
      const triv = await repeat(options.reps, once(`http://127.0.0.1:${trivialPort}`));
      const sql = await repeat(options.reps, () => pgbench(url, rawRead, pgbenchRun(connections)));
      for (const cached of [false, true]) {
        const http = cached ? await repeat(options.reps, once(base, true)) : uncached;
        const r = ratio(http.tps, floor.tps);
        record({
          figure: `balances read${cached ? ' with If-None-Match (304)' : ''}, concurrency ${connections}`,
          value: http.tps,
          unit: 'req/s',
          baseline: 'minimal fastify + pg route, same statement',
          baselineValue: floor.tps,
          ratio: r,
          ...(connections === 8 && !cached ? { target: '≥ 0.90×', met: r >= 0.9 } : {}),
          detail: `p99 ${round(http.p99ms)} ms, spread ${spread(http)} (minimal p99 ${round(floor.p99ms)} ms); trivial route ${round(triv.tps)} req/s → ${round(ratio(http.tps, triv.tps))}×; pgbench on the same statement ${round(sql.tps)} tx/s → ${round(ratio(http.tps, sql.tps))}×`,
        });
      }
    }
    await stopProcess(trivialServer);
  }
  // The baselines are done: from here on only FairShare's own processes are connected.
  await Promise.all([minimalServer, emmettServer].flatMap((child) => (child ? [stopProcess(child)] : [])));

  if (only.has('live')) {
    say('3. live updates across processes (a write on one server, its push on another)');
    const otherPort = await freePort();
    const other = `http://127.0.0.1:${otherPort}`;
    await startProcess(
      [...nodeArgs, CLI, 'serve'],
      { DATABASE_URL: url, PORT: String(otherPort), LOG_LEVEL: 'warn' },
      `${other}/health/ready`,
      'a second server',
    );
    const delays = await crossProcessDelays(base, other, token, expense, options.quick ? 10 : 200);
    record({
      figure: 'live update delay across processes, p99',
      value: percentile(delays, 99),
      unit: 'ms',
      target: '≤ 250 ms',
      met: percentile(delays, 99) <= 250,
      detail: `p50 ${round(percentile(delays, 50))} ms, max ${round(Math.max(...delays))} ms over ${delays.length} writes (from the writer's response to the push on the other server's stream)`,
    });
    // The idle cost, apart from autovacuum after the writes: two servers on a database of their own.
    const idleUrl = await createDatabase();
    const idleServers = [];
    for (let i = 0; i < 2; i++) {
      const idlePort = await freePort();
      idleServers.push(
        await startProcess(
          [CLI, 'serve'],
          { DATABASE_URL: idleUrl, PORT: String(idlePort), LOG_LEVEL: 'warn' },
          `http://127.0.0.1:${idlePort}/health/ready`,
          'an idle server',
        ),
      );
    }
    const idle = await idleQueriesPerSecond(idleUrl, options.quick ? 3 : 10);
    await Promise.all(idleServers.map(stopProcess));
    record({
      figure: 'idle cost of the log tail',
      value: idle / 2,
      unit: 'statements/s per process',
      detail: `${round(idle)} statements/s from two idle server processes on a database of their own (pg_stat_database)`,
    });
  }

  if (only.has('history')) {
    say(`4. add-expense latency on a group with ${options.history} events vs one with 10`);
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
    await vacuum(url);
    const once = (groupId: string) => () =>
      httpLoad({ url: base, ...httpRun(1), method: 'POST', body: expense, headers: auth, ok: [201], next: () => ({ path: `/groups/${groupId}/expenses` }) });
    const [long, short] = await paired(options.reps, once('history-long'), once('history-short'));
    record({
      // At concurrency 1 the mean latency is 1 / rate, to the microsecond; autocannon's
      // percentiles come in whole milliseconds, too coarse for a 2 ms command.
      figure: `add expense mean latency on a ${options.history}-event group`,
      value: 1000 / long.tps,
      unit: 'ms',
      baseline: '10-event group',
      baselineValue: 1000 / short.tps,
      ratio: ratio(short.tps, long.tps),
      target: '≤ 1.20×',
      met: ratio(short.tps, long.tps) <= 1.2,
      detail: `p50 ${round(long.p50ms)} vs ${round(short.p50ms)} ms, p99 ${round(long.p99ms)} vs ${round(short.p99ms)} ms (whole ms)`,
    });
  }

  // The servers are done: the replay figures get the machine to themselves.
  await stopChildren();

  if (only.has('replay')) {
    say(`5. replay verify and rebuild over ${options.events} events (vs a raw COPY of the same events)`);
    const bigUrl = await createDatabase();
    const perGroup = options.groupEvents;
    const bigGroups = (count: number, from: number) =>
      Array.from({ length: Math.ceil(count / perGroup) }, (_, i) => ({ groupId: `big${from + i}`, events: perGroup }));
    const generated = Date.now();
    const written = await copyEvents(bigUrl, bigGroups(options.events, 0));
    say(`  generated ${written} events with COPY in ${round((Date.now() - generated) / 1000)} s`);
    const cores = availableParallelism();
    const measureLog = async (events: number) => {
      const copyRate = [];
      for (let i = 0; i < options.reps; i++) copyRate.push(await rawCopyRate(bigUrl));
      const rebuild = await timeProcess([...nodeArgs, CLI, 'replay', 'rebuild', '--json'], { DATABASE_URL: bigUrl, LOG_LEVEL: 'warn' });
      const rebuilt = JSON.parse(rebuild.stdout) as { ok: boolean };
      if (!rebuilt.ok) throw new Error('the rebuilt projection does not verify');
      const raw = median(copyRate);
      const verifyWith = async (workers: number) => {
        const runs = [];
        for (let i = 0; i < options.reps; i++)
          runs.push(
            await timeProcess([...nodeArgs, CLI, 'replay', 'verify', '--json', '--workers', String(workers)], { DATABASE_URL: bigUrl, LOG_LEVEL: 'warn' }),
          );
        for (const run of runs) if (!(JSON.parse(run.stdout) as { ok: boolean }).ok) throw new Error('replay verify found drift in the generated log');
        const rate = events / median(runs.map((v) => v.seconds));
        record({
          figure: `replay verify, ${events} events, ${workers === 1 ? '1 worker' : `${workers} workers (one per core)`}`,
          value: rate,
          unit: 'events/s',
          baseline: 'COPY … TO STDOUT',
          baselineValue: raw,
          ratio: ratio(rate, raw),
          ...(workers === cores ? { target: '≥ 0.50×', met: ratio(rate, raw) >= 0.5 } : {}),
          detail: `peak RSS ${round(median(runs.map((v) => v.maxRssMb)), 0)} MB; median of ${runs.length} runs, whole process`,
        });
        return median(runs.map((v) => v.maxRssMb));
      };
      const rss = await verifyWith(cores);
      if (cores > 1) await verifyWith(1);
      record({
        figure: `replay rebuild then verify, ${events} events`,
        value: events / rebuild.seconds,
        unit: 'events/s',
        baseline: 'COPY … TO STDOUT',
        baselineValue: raw,
        ratio: ratio(events / rebuild.seconds, raw),
        detail: `peak RSS ${round(rebuild.maxRssMb, 0)} MB; one run (it rewrites every row)`,
      });
      return rss;
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

  if (only.has('settle')) say('6. settlement computation');
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
