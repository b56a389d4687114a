#!/usr/bin/env node
import { Command, InvalidArgumentError } from 'commander';
import { loadConfig } from '../config.js';
import { connectDatabase, type Connection } from '../db/connect.js';
import { releaseEmbeddedExitHooks } from '../db/embedded.js';
import { auditUser } from '../replay/audit.js';
import { verifyProjection } from '../replay/verify.js';
import { migrateToLatest } from '../db/migrate.js';
import { createLogger } from '../log.js';
import { startServer } from '../server.js';

releaseEmbeddedExitHooks();

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
    const logger = createLogger(config.logLevel);
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
async function withDatabase<T>(fn: (connection: Connection) => Promise<T>): Promise<T> {
  const config = loadConfig();
  const logger = createLogger(config.logLevel === 'info' ? 'warn' : config.logLevel, 2);
  const connection = await connectDatabase({ ...config, attach: true }, logger);
  try {
    return await fn(connection);
  } finally {
    await connection.close();
  }
}

const replay = program.command('replay').description('prove the projection from the event log');

replay
  .command('verify')
  .description('fold the event log independently and compare it with the projection (exit 0 match, 1 drift, 2 error)')
  .option('-g, --group <groupId>', 'check only this group')
  .option('--json', 'print the report as JSON')
  .action(async (options: { group?: string; json?: boolean }) => {
    const showProgress = process.stderr.isTTY && !options.json;
    let last = 0;
    const report = await withDatabase(({ db }) =>
      verifyProjection(db, {
        groupId: options.group,
        onProgress: ({ events, groups }) => {
          if (!showProgress || Date.now() - last < 500) return;
          last = Date.now();
          process.stderr.write(`\rverified ${groups} groups, ${events} events`);
        },
      }),
    );
    if (showProgress && last > 0) process.stderr.write('\n');
    if (options.json) {
      process.stdout.write(`${JSON.stringify({ ok: report.mismatches.length === 0, ...report }, null, 2)}\n`);
    } else {
      for (const m of report.mismatches) {
        const who = m.userId ? ` user=${m.userId}` : m.expenseId ? ` expense=${m.expenseId}` : '';
        process.stdout.write(`DRIFT group=${m.groupId}${who} ${m.kind}: expected ${m.expected}, projection has ${m.actual}\n`);
      }
      process.stdout.write(
        report.mismatches.length === 0
          ? `OK: ${report.groups} groups, ${report.events} events; the projection matches the event log\n`
          : `DRIFT: ${report.mismatches.length} mismatches in ${new Set(report.mismatches.map((m) => m.groupId)).size} of ${report.groups} groups (${report.events} events)\n`,
      );
    }
    process.exitCode = report.mismatches.length === 0 ? 0 : 1;
  });

program
  .command('audit')
  .description("every event that moved a user's balance, with a running total (exit 0 match, 1 drift, 2 error)")
  .requiredOption('-g, --group <groupId>', 'the group')
  .requiredOption('-u, --user <userId>', 'the user')
  .option('--json', 'print the report as JSON')
  .action(async (options: { group: string; user: string; json?: boolean }) => {
    const report = await withDatabase(({ db }) => auditUser(db, options.group, options.user));
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
      process.stdout.write(`event log balance ${report.balance}; served balance ${report.served ?? '(none)'}: ${report.matches ? 'MATCH' : 'DRIFT'}\n`);
    }
    process.exitCode = report.matches ? 0 : 1;
  });

program.parseAsync(process.argv).catch((error: unknown) => {
  process.stderr.write(`fairshare: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(2);
});
