import { spawn } from 'node:child_process';
import { Redis } from 'ioredis';
import type { FastifyInstance } from 'fastify';
import t from 'tap';
import { buildApp } from '../src/api/app.js';
import { Api, quietLogger, useTestApp } from './helpers/app.js';
import { call, freePort, startServerProcess } from './helpers/server-process.js';

// Sign-ups per address and writes per token, answered 429 problem+json with Retry-After;
// kept in memory, or in Redis (a real redis-server) so that every server process counts
// together.

const ctx = useTestApp(t);

const expense = (n: number, paidBy: string) => ({ description: `Item ${n}`, amount: '1.00', paidBy, split: { mode: 'equal' } });

t.test('in memory: the fourth sign-up from one address and the fifth write of one token are 429, and change nothing', async (t) => {
  const app = await buildApp({
    db: ctx.env.database.db,
    changes: ctx.env.changes,
    logger: quietLogger(),
    rateLimits: { signupsPerMinute: 3, writesPerMinute: 4 },
  });
  t.teardown(() => app.close());
  const signUp = (name: string, remoteAddress: string) => app.inject({ method: 'POST', url: '/users', payload: { name }, remoteAddress });

  const first = [];
  for (const name of ['A', 'B', 'C']) first.push(await signUp(name, '10.0.0.1'));
  t.same(
    first.map((r) => r.statusCode),
    [201, 201, 201],
  );
  const fourth = await signUp('D', '10.0.0.1');
  t.equal(fourth.statusCode, 429);
  t.match(fourth.headers['content-type'], /^application\/problem\+json/);
  t.match(fourth.json(), { status: 429, code: 'RATE_LIMITED', detail: /at most 3 a minute/ });
  t.ok(Number(fourth.headers['retry-after']) > 0 && Number(fourth.headers['retry-after']) <= 60, `Retry-After: ${fourth.headers['retry-after']}`);
  t.equal((await signUp('E', '10.0.0.2')).statusCode, 201, 'another address is not held back');

  const api = new Api(app);
  const [ann, bob] = first.map((r) => api.as(r.json().token));
  const annId = first[0]?.json().userId as string;
  const g = (await ann!.post('/groups', { name: 'Limited', currency: 'EUR' })).body.groupId as string;
  for (let n = 1; n <= 3; n++) t.equal((await ann!.post(`/groups/${g}/expenses`, expense(n, annId))).status, 201, `write ${n + 1}`);
  const refused = await ann!.post(`/groups/${g}/expenses`, expense(4, annId));
  t.equal(refused.status, 429, 'the fifth write of the token, across routes');
  t.equal(refused.body.code, 'RATE_LIMITED');
  t.ok(refused.headers['retry-after']);
  t.equal((await ann!.delete(`/groups/${g}/expenses/whatever`)).status, 429, 'every write route shares the budget');
  t.equal((await ctx.env.eventsOf(g)).length, 4, 'the refused writes appended nothing');
  t.equal((await ann!.get(`/groups/${g}/balances`)).status, 200, 'reads are not limited');
  t.equal((await bob!.post('/groups', { name: 'Own budget', currency: 'EUR' })).status, 201, "another token's budget is its own");
});

t.test("behind a reverse proxy (TRUST_PROXY): sign-ups count per forwarded address, and only the proxy's X-Forwarded-For is believed", async (t) => {
  const build = (trustProxy?: string[]) =>
    buildApp({
      db: ctx.env.database.db,
      changes: ctx.env.changes,
      logger: quietLogger(),
      rateLimits: { signupsPerMinute: 1, writesPerMinute: 100 },
      ...(trustProxy ? { trustProxy } : {}),
    });
  const signUp = (app: FastifyInstance, remoteAddress: string, forwardedFor: string) =>
    app.inject({ method: 'POST', url: '/users', payload: { name: 'Proxied' }, remoteAddress, headers: { 'x-forwarded-for': forwardedFor } });

  const proxied = await build(['10.1.0.0/16']);
  t.teardown(() => proxied.close());
  t.equal((await signUp(proxied, '10.1.2.3', '203.0.113.1')).statusCode, 201, 'a client behind the proxy');
  t.equal((await signUp(proxied, '10.1.2.3', '203.0.113.2')).statusCode, 201, 'another client behind the same proxy has its own limit');
  t.equal((await signUp(proxied, '10.1.9.9', '203.0.113.1')).statusCode, 429, 'the first client again, through another proxy of the range');
  t.equal((await signUp(proxied, '198.51.100.7', '203.0.113.3')).statusCode, 201, 'a client reaching the server directly');
  t.equal((await signUp(proxied, '198.51.100.7', '203.0.113.4')).statusCode, 429, 'cannot escape its limit by making up X-Forwarded-For');

  const direct = await build();
  t.teardown(() => direct.close());
  t.equal((await signUp(direct, '10.1.2.3', '203.0.113.5')).statusCode, 201);
  t.equal((await signUp(direct, '10.1.2.3', '203.0.113.6')).statusCode, 429, 'unset: X-Forwarded-For is ignored, the socket address counts');
});

t.test('with Redis: every server process counts against the same limit; an unreachable Redis lets requests through', async (t) => {
  const port = await freePort();
  const server = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  const exited = new Promise((resolve) => server.once('exit', resolve));
  t.teardown(async () => {
    server.kill('SIGKILL');
    await exited;
  });
  const clients: Redis[] = [];
  const apps: FastifyInstance[] = [];
  for (let i = 0; i < 2; i++) {
    const redis = new Redis(`redis://127.0.0.1:${port}`, { maxRetriesPerRequest: 1, connectTimeout: 1_000, retryStrategy: () => 200 });
    redis.on('error', () => undefined);
    clients.push(redis);
    apps.push(
      await buildApp({
        db: ctx.env.database.db,
        changes: ctx.env.changes,
        logger: quietLogger(),
        rateLimits: { signupsPerMinute: 1_000, writesPerMinute: 4, redis },
      }),
    );
  }
  t.teardown(async () => {
    for (const app of apps) await app.close();
    for (const redis of clients) redis.disconnect();
  });
  for (let i = 0; i < 100 && clients.some((c) => c.status !== 'ready'); i++) await new Promise((resolve) => setTimeout(resolve, 50));

  const [one, two] = apps.map((app) => new Api(app)) as [Api, Api];
  const ann = await one.signUp('Ann');
  const g = (await ann.api.post('/groups', { name: 'Shared', currency: 'EUR' })).body.groupId as string;
  const statuses = [];
  for (let n = 1; n <= 4; n++) statuses.push((await (n % 2 ? two : one).as(ann.token).post(`/groups/${g}/expenses`, expense(n, ann.userId))).status);
  t.same(statuses, [201, 201, 201, 429], 'four writes across two processes, then the limit');
  t.same(
    (await ctx.env.eventsOf(g)).map((e) => e.type),
    ['GroupCreated', 'ExpenseAdded', 'ExpenseAdded', 'ExpenseAdded'],
  );
  t.ok(Number(await clients[0]!.dbsize()) > 0, 'the counters live in Redis');

  server.kill('SIGKILL');
  await exited;
  const without = await one.as(ann.token).post(`/groups/${g}/expenses`, expense(9, ann.userId));
  t.equal(without.status, 201, 'Redis gone: the limits are skipped, not the requests');
});

t.test('fairshare serve takes its limits and its Redis from the environment', async (t) => {
  const port = await freePort();
  const redisServer = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  const redisGone = new Promise((resolve) => redisServer.once('exit', resolve));
  const env = { DATABASE_URL: ctx.env.database.url, RATE_LIMIT_SIGNUPS_PER_MINUTE: '2', REDIS_URL: `redis://127.0.0.1:${port}` };
  const servers = [await startServerProcess(env), await startServerProcess(env)];
  t.teardown(async () => {
    for (const server of servers) await server.stop();
    redisServer.kill('SIGKILL');
    await redisGone;
  });
  const answers = [];
  for (const [i, name] of ['One', 'Two', 'Three'].entries()) answers.push((await call(servers[i % 2]!.url, 'POST', '/users', undefined, { name })).status);
  t.same(answers, [201, 201, 429], 'two sign-ups a minute from this address, counted across both servers');
});
