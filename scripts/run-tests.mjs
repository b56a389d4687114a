#!/usr/bin/env node
// Runs the whole test suite against a real PostgreSQL: DATABASE_URL when set (tests
// create and drop their own databases on it), otherwise a throwaway embedded server.
// Prints "N passed, N failed" from tap's totals as the last line, for CI.
import { spawn } from 'node:child_process';
import { mkdtemp, rm, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { startEmbeddedPostgres } from '../dist/src/db/embedded.js';

const logger = pino({ level: process.env.LOG_LEVEL ?? 'warn' }, pino.destination(2));
let embedded;
let dataDir;
let adminUrl = process.env.DATABASE_URL;
if (!adminUrl) {
  dataDir = await mkdtemp(path.join(tmpdir(), 'fairshare-test-'));
  await chmod(dataDir, 0o755);
  try {
    embedded = await startEmbeddedPostgres({ dataDir, logger, database: 'postgres' });
  } catch (error) {
    // One sentence (e.g. a checkout the database's user cannot reach), not a stack.
    process.stderr.write(`npm test: ${error instanceof Error ? error.message : String(error)}\n`);
    await rm(dataDir, { recursive: true, force: true });
    process.exit(2);
  }
  adminUrl = embedded.adminUrl;
}
// Ctrl-C reaches tap and this script alike: tap ends its run, this one still cleans up below.
process.on('SIGINT', () => undefined);

const child = spawn(process.execPath, [path.resolve('node_modules/tap/dist/esm/run.mjs'), ...process.argv.slice(2)], {
  env: { ...process.env, FAIRSHARE_TEST_ADMIN_URL: adminUrl, FORCE_COLOR: '0' },
  stdio: ['ignore', 'pipe', 'inherit'],
});
let tail = '';
child.stdout.on('data', (chunk) => {
  process.stdout.write(chunk);
  tail = (tail + chunk.toString('utf8')).slice(-4000);
});
const code = await new Promise((resolve) => child.on('close', (c, signal) => resolve(c ?? (signal ? 1 : 0))));

await embedded?.stop();
if (dataDir) await rm(dataDir, { recursive: true, force: true });

const totals = [...tail.matchAll(/# \{ total: (\d+)(?:, pass: (\d+))?(?:, fail: (\d+))?[^}]*\}/g)].at(-1);
const passed = Number(totals?.[2] ?? 0);
const failed = Number(totals?.[3] ?? 0);
process.stdout.write(`\n${passed} passed, ${failed} failed\n`);
process.exit(code === 0 && totals ? 0 : code || 1);
