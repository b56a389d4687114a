import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import t from 'tap';
import { createTestDatabase } from './helpers/database.js';
import { startServerProcess } from './helpers/server-process.js';

// The README's curl walkthrough, exactly as written, against a real server: every call
// must succeed (curl --fail-with-body), and a second run must too (issue #14 §8).

t.test('the README walkthrough runs, and runs again', async (t) => {
  const readme = await readFile('README.md', 'utf8');
  const section = readme.slice(readme.indexOf('## Try it with curl'));
  const block = /```sh\n([\s\S]*?)```/.exec(section)?.[1];
  if (!block) throw new Error('no sh block under "Try it with curl"');
  t.match(block, /^B=http:\/\/127\.0\.0\.1:3000$/m);
  const database = await createTestDatabase();
  t.teardown(() => database.close());
  const server = await startServerProcess({ DATABASE_URL: database.url });
  t.teardown(() => server.stop());
  // Every call must answer 2xx; the live stream would run until Ctrl-C: one second of it.
  const script = [
    'set -euo pipefail',
    'curl() { if [[ "$*" == */live* ]]; then command curl --max-time 1 "$@" || true; else command curl --fail-with-body "$@"; fi; }',
    block.replace(/^B=http:\/\/127\.0\.0\.1:3000$/m, `B=${server.url}`),
  ].join('\n');
  for (const run of [1, 2]) {
    const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
      execFile('bash', ['-c', script], { timeout: 60_000 }, (error, stdout, stderr) =>
        resolve({ code: error ? (typeof error.code === 'number' ? error.code : null) : 0, stdout, stderr }),
      ),
    );
    t.equal(code, 0, `run ${run} succeeds: ${stderr}${stdout.slice(-400)}`);
    t.match(stdout, /"version":2,"balances":\[\{"userId":"[^"]+","name":"Ann","balance":"5\.00"\}/, `run ${run}: Ann is owed 5.00 after dinner`);
    t.match(stdout, /event: balances/, `run ${run}: the live stream speaks`);
    t.match(stdout, /"name":"Ann's phone"[^}]*"current":true/, `run ${run}: the phone is signed in with the code`);
    t.match(stdout, /"key":"fsk_/, `run ${run}: a sign-in key`);
  }
});
