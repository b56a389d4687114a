import { chmod, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { call, CLI, plainEnv, startServerProcess } from './helpers/server-process.js';
import { spawnSync } from 'node:child_process';

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
