#!/usr/bin/env node
import { availableParallelism } from 'node:os';
import { Command, InvalidArgumentError } from 'commander';
import { loadConfig } from '../config.js';
import { connectDatabase, type Connection } from '../db/connect.js';
import { sql } from 'kysely';
import type { Logger } from 'pino';
import type { Db } from '../db/database.js';
import { assertEventLogMode } from '../store/log-mode.js';
import type { EventLog } from '../store/event-log.js';
import { rebuildProjection } from '../projections/rebuild.js';
import { auditUser } from '../replay/audit.js';
import { verifyProjection, type VerifyReport } from '../replay/verify.js';
import { verifyFromLog, type LogVerifyReport } from '../replay/verify-log.js';
import { eventProgress } from './progress.js';
import { migrateToLatest } from '../db/migrate.js';
import { createLogger } from '../log.js';
import { startServer } from '../server.js';
import { streamIdOf } from '../events/index.js';

const program = new Command()
  .name('fairshare')
  .description('FairShare: event-sourced expense sharing')
  .showHelpAfterError()
  .exitOverride((error) => process.exit(error.exitCode === 0 ? 0 : 2));

program
  .command('serve')
  .description('run the HTTP API (embedded PostgreSQL unless DATABASE_URL is set)')
  .option('-p, --port <port>', 'port to listen on (default: $PORT or 3000)', (v) => {
    const port = Number(v);
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new InvalidArgumentError('not a port');
    return port;
  })
  .action(async (options: { port?: number }) => {
    const config = loadConfig();
    if (options.port !== undefined) config.port = options.port;
    const logger = createLogger(config.logLevel, 1, config.logFormat);
    const server = await startServer(config, logger);
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      logger.info({ signal }, 'shutting down');
      server.close().then(
        () => process.exit(0),
        (error: unknown) => {
          logger.error({ err: error }, 'shutdown failed');
          process.exit(1);
        },
      );
    };
    process.on('SIGINT', () => stop('SIGINT'));
    process.on('SIGTERM', () => stop('SIGTERM'));
  });

program
  .command('migrate')
  .description('bring the database schema up to date, then exit')
  .action(async () => {
    const { applied } = await withDatabase(({ db }) => migrateToLatest(db));
    process.stdout.write(applied.length > 0 ? `applied: ${applied.join(', ')}\n` : 'schema is up to date\n');
  });

/** Runs a tool against the configured database; logs go to stderr, results to stdout. */
async function withDatabase<T>(fn: (connection: Connection, logger: Logger) => Promise<T>): Promise<T> {
  const config = loadConfig();
  const logger = createLogger(config.logLevel === 'info' ? 'warn' : config.logLevel, 2, config.logFormat);
  const connection = await connectDatabase({ ...config, attach: true }, logger);
  try {
    return await fn(connection, logger);
  } finally {
    await connection.close();
  }
}

/** A big machine's every core would also be that many pairs of connections on the database it checks. */
const DEFAULT_WORKERS_CAP = 4;
const defaultWorkers = () => Math.min(availableParallelism(), DEFAULT_WORKERS_CAP);

const replay = program.command('replay').description('prove the projection from the event log');

replay
  .command('verify')
  .description('fold the event log independently and compare it with the projection (exit 0 match, 1 drift, 2 error, 3 behind a KurrentDB log)')
  .option('-g, --group <groupId>', 'check only this group')
  .option(
    '--workers <n>',
    `threads that fold and compare, each a share of the groups and two database connections (default: one per core, at most ${DEFAULT_WORKERS_CAP})`,
    positiveInteger,
    defaultWorkers(),
  )
  .option(
    '--wait <seconds>',
    'with KurrentDB: how long to wait for the log subscriber to reach the log head (then lag is reported, exit 3)',
    positiveInteger,
    30,
  )
  .option('--json', 'print the report as JSON')
  .action(async (options: { group?: string; workers: number; wait: number; json?: boolean }) => {
    await withDatabase(async ({ db }) => {
      const handled = await withEventLog(db, async (eventLog) => {
        await requireGroup(db, eventLog, options.group);
        if (!eventLog) return false;
        // The log is in KurrentDB: fold it from there, once the log subscriber has caught up.
        const report = await verifyFromLog(db, eventLog, { groupId: options.group, waitMs: options.wait * 1000 });
        printVerifyReport(report, options.json);
        process.exitCode = report.mismatches.length > 0 ? 1 : report.lagging.length > 0 ? 3 : 0;
        return true;
      });
      if (handled) return;
      const report = await verifyWithProgress(db, options);
      printVerifyReport(report, options.json);
      process.exitCode = report.mismatches.length === 0 ? 0 : 1;
    });
  });

replay
  .command('rebuild')
  .description('rebuild the projection from the event log while serving, then verify it (exit 0 match, 1 drift, 2 error)')
  .option('-g, --group <groupId>', 'rebuild only this group')
  .option('--batch <events>', 'events per swap transaction (groups are never split)', positiveInteger, 5000)
  .option(
    '--workers <n>',
    `threads for the verify after the rebuild (default: one per core, at most ${DEFAULT_WORKERS_CAP})`,
    positiveInteger,
    defaultWorkers(),
  )
  .option('--json', 'print the reports as JSON')
  .action(async (options: { group?: string; batch: number; workers: number; json?: boolean }) => {
    await withDatabase(async ({ db }, logger) => {
      await withEventLog(db, async (eventLog) => {
        await requireGroup(db, eventLog, options.group);
        // (The progress bar counts PostgreSQL's log; with KurrentDB there is no total to show.)
        const progress = await eventProgress(db, 'rebuild', { groupId: options.group, quiet: options.json || eventLog !== undefined });
        const rebuilt = await rebuildProjection(db, {
          groupId: options.group,
          batchEvents: options.batch,
          onProgress: progress.update,
          logger,
          eventLog,
        }).finally(progress.stop);
        const verified = eventLog ? await verifyFromLog(db, eventLog, { groupId: options.group, waitMs: 1_000 }) : await verifyWithProgress(db, options);
        const ok = verified.mismatches.length === 0;
        if (options.json) {
          process.stdout.write(`${JSON.stringify({ ok, rebuild: rebuilt, verify: verified }, null, 2)}\n`);
        } else {
          process.stdout.write(
            `rebuilt ${rebuilt.groups} groups from ${rebuilt.events} events (${rebuilt.tailEvents} committed during the rebuild), ` +
              `${rebuilt.rows} rows written, ${rebuilt.removedGroups} groups without events removed\n`,
          );
          printVerifyReport(verified, false);
        }
        process.exitCode = ok ? 0 : 1;
      });
    });
  });

function positiveInteger(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('not a positive integer');
  return n;
}

async function verifyWithProgress(db: Db, options: { group?: string; workers: number; json?: boolean }): Promise<VerifyReport> {
  const progress = await eventProgress(db, 'verify', { groupId: options.group, quiet: options.json });
  return verifyProjection(db, { groupId: options.group, workers: options.workers, onProgress: progress.update }).finally(progress.stop);
}

function printVerifyReport(report: VerifyReport | LogVerifyReport, json: boolean | undefined): void {
  const lagging = 'lagging' in report ? report.lagging : [];
  if (json) {
    process.stdout.write(`${JSON.stringify({ ok: report.mismatches.length === 0 && lagging.length === 0, ...report }, null, 2)}\n`);
    return;
  }
  for (const l of lagging) {
    process.stdout.write(
      `LAG group=${l.groupId}: the log is at version ${l.loggedVersion}, the projection at ${l.projectedVersion} (the log subscriber has not caught up)\n`,
    );
  }
  for (const m of report.mismatches) {
    const who = m.userId ? ` user=${m.userId}` : m.expenseId ? ` expense=${m.expenseId}` : '';
    process.stdout.write(`DRIFT group=${m.groupId}${who} ${m.kind}: expected ${m.expected}, projection has ${m.actual}\n`);
  }
  process.stdout.write(
    report.mismatches.length === 0 && lagging.length > 0
      ? `LAG: ${lagging.length} of ${report.groups} groups behind the event log, no drift in the others (${report.events} events)\n`
      : report.mismatches.length === 0
        ? `OK: ${report.groups} groups, ${report.events} events; the projection matches the event log\n`
        : `DRIFT: ${report.mismatches.length} mismatches in ${new Set(report.mismatches.map((m) => m.groupId)).size} of ${report.groups} groups (${report.events} events)\n`,
  );
}

/**
 * Runs `fn` with the configured external event log (KurrentDB), or none in PostgreSQL
 * mode, once the database is known to have been run in that mode.
 */
async function withEventLog<T>(db: Db, fn: (eventLog: EventLog | undefined) => Promise<T>): Promise<T> {
  const { eventLog } = loadConfig();
  await assertEventLogMode(db, eventLog.kind);
  if (eventLog.kind !== 'kurrentdb') return fn(undefined);
  // Loaded only in this mode: the client brings gRPC and a native addon.
  const { KurrentDbEventLog } = await import('../store/kurrentdb-event-log.js');
  const log = KurrentDbEventLog.connect(eventLog.url);
  try {
    return await fn(log);
  } finally {
    await log.close();
  }
}

/** A mistyped --group must not pass as "0 groups, all fine"; a group only the log has is found (missing from the projection). */
async function requireGroup(db: Db, eventLog: EventLog | undefined, groupId: string | undefined): Promise<void> {
  if (groupId === undefined) return;
  const known = await sql<{ found: boolean }>`
    select exists (select 1 from events where stream_id = ${streamIdOf(groupId)})
        or exists (select 1 from groups where group_id = ${groupId}) as found`.execute(db);
  if (known.rows[0]?.found) return;
  if (eventLog && (await eventLog.readStream(streamIdOf(groupId), { limit: 1 })).length > 0) return;
  throw new Error(`no group ${groupId} in the event log or the projection`);
}

program
  .command('audit')
  .description("every event that moved a user's balance, with a running total (exit 0 match, 1 drift, 2 error)")
  .requiredOption('-g, --group <groupId>', 'the group')
  .requiredOption('-u, --user <userId>', 'the user')
  .option('--json', 'print the report as JSON')
  .action(async (options: { group: string; user: string; json?: boolean }) => {
    const report = await withDatabase(({ db }) => withEventLog(db, (eventLog) => auditUser(db, options.group, options.user, { eventLog })));
    if (!report) throw new Error(`no events for group ${options.group}`);
    if (options.json) {
      process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    } else {
      process.stdout.write(`audit of ${report.userId} in group ${report.groupId} (${report.currency})\n`);
      process.stdout.write(`${'version'.padStart(7)}  ${'change'.padStart(14)}  ${'balance'.padStart(14)}  what\n`);
      for (const e of report.entries) {
        const what = `${e.type === 'ExpenseDeleted' ? 'deleted: ' : ''}${e.kind === 'payment' ? 'payment' : 'expense'} ${e.expenseId} "${e.description}"`;
        process.stdout.write(`${String(e.version).padStart(7)}  ${e.delta.padStart(14)}  ${e.balance.padStart(14)}  ${what}\n`);
      }
      if (report.claimedBy) {
        const { userId, version } = report.claimedBy;
        process.stdout.write(`${String(version).padStart(7)}  claimed by ${userId}: this place's balance is theirs from here on (audit ${userId})\n`);
      }
      process.stdout.write(`event log balance ${report.balance}; served balance ${report.served ?? '(none)'}: ${report.matches ? 'MATCH' : 'DRIFT'}\n`);
    }
    process.exitCode = report.matches ? 0 : 1;
  });

program.parseAsync(process.argv).catch((error: unknown) => {
  process.stderr.write(`fairshare: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(2);
});
