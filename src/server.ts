import { createServer } from 'node:net';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { buildApp } from './api/app.js';
import { Redis } from 'ioredis';
import { LiveChanges } from './live/live-changes.js';
import type { Config } from './config.js';
import { connectDatabase } from './db/connect.js';
import { createDb, createPool } from './db/database.js';
import { migrateToLatest } from './db/migrate.js';
import { LogSubscriber } from './unit-of-work/log-subscriber.js';
import type { EventLog } from './store/event-log.js';
import { assertEventLogMode } from './store/log-mode.js';
import { forgetExpiredKeys } from './unit-of-work/lock-and-load.js';

export interface RunningServer {
  app: FastifyInstance;
  url: string;
  close(): Promise<void>;
}

/**
 * Refuses a port another program holds before anything else starts (the embedded
 * database takes seconds, and its log would bury the one line that matters).
 */
export async function assertPortFree(host: string, port: number): Promise<void> {
  if (port === 0) return;
  await new Promise<void>((resolve, reject) => {
    const probe = createServer();
    probe.once('error', (error: NodeJS.ErrnoException) => {
      const why = error.code === 'EADDRINUSE' ? 'is already in use by another program (another FairShare?)' : `cannot be used (${error.code ?? error.message})`;
      reject(new Error(`port ${port} on ${host} ${why}; stop that program, or choose another port with PORT=${port === 65535 ? 3001 : port + 1} or --port`));
    });
    probe.listen({ host, port, exclusive: true }, () => probe.close(() => resolve()));
  });
}

/** Starts everything `fairshare serve` runs: database, migrations, the log tail for live streams, HTTP. */
export async function startServer(config: Config, logger: Logger): Promise<RunningServer> {
  await assertPortFree(config.host, config.port);
  const connection = await connectDatabase(config, logger);
  let changes: LiveChanges | undefined;
  let app: FastifyInstance | undefined;
  let eventLog: EventLog | undefined;
  let subscriber: LogSubscriber | undefined;
  let redis: Redis | undefined;
  let forgetting: NodeJS.Timeout | undefined;
  const close = async () => {
    clearInterval(forgetting);
    await app?.close();
    await redis?.quit().catch(() => undefined);
    await subscriber?.close();
    await eventLog?.close();
    await changes?.close();
    await connection.close();
  };
  try {
    // Migrations on a connection of their own: the serving pool's statement timeout is not for them.
    const migrating = createDb(createPool({ connectionString: connection.url, max: 1, applicationName: 'fairshare-migrate' }));
    const { applied } = await migrateToLatest(migrating).finally(() => migrating.destroy());
    logger.info({ applied }, applied.length > 0 ? 'migrations applied' : 'schema up to date');
    await assertEventLogMode(connection.db, config.eventLog.kind);
    // Idempotency-Key records past their lifetime go, now and every hour (any process may).
    const forget = () =>
      forgetExpiredKeys(connection.db).then(
        (removed) => removed > 0 && logger.info({ removed }, 'expired Idempotency-Key records removed'),
        (error: unknown) => logger.warn({ err: error }, 'removing expired Idempotency-Key records failed'),
      );
    await forget();
    forgetting = setInterval(() => void forget(), 3_600_000).unref();
    changes = new LiveChanges(connection.db, logger);
    await changes.start();
    if (config.eventLog.kind === 'kurrentdb') {
      // Loaded only in this mode: the client brings gRPC and a native addon.
      const { KurrentDbEventLog } = await import('./store/kurrentdb-event-log.js');
      eventLog = KurrentDbEventLog.connect(config.eventLog.url, { appendTimeoutMs: config.eventLog.appendTimeoutMs });
      subscriber = new LogSubscriber(connection.db, eventLog, logger);
      subscriber.start();
    }
    const { redisUrl, ...perMinute } = config.rateLimits;
    if (redisUrl) {
      // Rate-limit counters shared by every server process. A Redis that cannot be
      // reached skips the limits (logged) rather than refusing the requests.
      redis = new Redis(redisUrl, { maxRetriesPerRequest: 1, connectTimeout: 1_000 });
      redis.on('error', (error: Error) => logger.warn({ err: error }, 'Redis (rate limits) cannot be reached'));
    }
    app = await buildApp({
      db: connection.db,
      changes,
      logger,
      operatorTokens: config.operatorTokens,
      eventLog,
      liveStreamsPerToken: config.liveStreamsPerToken,
      requestTimeoutMs: config.requestTimeoutMs,
      maxWaitingPerGroup: config.writesWaitingPerGroup,
      corsOrigins: config.corsOrigins,
      trustProxy: config.trustProxy,
      rateLimits: { ...perMinute, redis },
    });
    const url = await app.listen({ port: config.port, host: config.host });
    logger.info({ url, embedded: config.databaseUrl === undefined, eventLog: config.eventLog.kind }, 'FairShare is listening');
    return { app, url, close };
  } catch (error) {
    await close().catch((closeError: unknown) => logger.error({ err: closeError }, 'shutdown after failed start'));
    throw error;
  }
}
