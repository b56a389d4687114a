import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { plainEnv } from './helpers/server-process.js';

// The benchmark is a script, not a test; this runs it at tiny sizes so it cannot rot.
// No figure is asserted: these machines are shared and a smoke run measures nothing.

t.test('npm run bench -- --quick produces every figure with its baseline', async (t) => {
  const out = await mkdtemp(path.join(tmpdir(), 'fairshare-bench-smoke-'));
  t.teardown(() => rm(out, { recursive: true, force: true }));
  const admin = process.env.FAIRSHARE_TEST_ADMIN_URL ?? process.env.DATABASE_URL ?? '';
  const run = spawnSync(process.execPath, ['build/bench/main.js', '--quick', '--out', out], {
    env: plainEnv({ DATABASE_URL: admin }),
    encoding: 'utf8',
    timeout: 200_000,
  });
  t.equal(run.status, 0, run.stderr.slice(-3000));
  const result = JSON.parse(await readFile(path.join(out, 'results.json'), 'utf8'));
  const figures: string[] = result.rows.map((r: any) => r.figure);
  for (const pattern of [
    /^add expense, many groups, concurrency (1|8|64)$/,
    /^add expense, many groups, concurrency 8, against pgbench$/,
    /^add expense, many groups, concurrency 8, against Emmett$/,
    /^live update delay across processes, p99$/,
    /^idle cost of the log tail$/,
    /^add expense, one hot group, concurrency 64$/,
    /^balances read, concurrency 8$/,
    /^balances read with If-None-Match \(304\), concurrency 64$/,
    /^add expense mean latency on a \d+-event group$/,
    // One per core, and one worker (the same run on a one-core machine).
    availableParallelism() > 1 ? /^replay verify, \d+ events, \d+ workers \(one per core\)$/ : /^replay verify, \d+ events, 1 worker$/,
    /^replay verify, \d+ events, 1 worker$/,
    /^replay rebuild then verify, \d+ events$/,
    /^verify peak memory/,
    /^settlements for 500 members$/,
  ]) {
    t.ok(
      figures.some((f) => pattern.test(f)),
      `has ${pattern}`,
    );
  }
  for (const row of result.rows) {
    t.ok(Number.isFinite(row.value) && row.value > 0, `${row.figure}: a positive measurement`);
    if (row.baseline !== undefined) t.ok(Number.isFinite(row.ratio), `${row.figure}: a ratio against ${row.baseline}`);
  }
  t.match(await readFile(path.join(out, 'results.md'), 'utf8'), /\| figure \| FairShare \| baseline \| ratio \| target \|/);
});
