import type pg from 'pg';
import type { Logger } from 'pino';
import { createDb, createPool, type Db } from './database.js';
import { startEmbeddedPostgres } from './embedded.js';

export interface Connection {
  url: string;
  pool: pg.Pool;
  db: Db;
  close(): Promise<void>;
}

/** Connects to DATABASE_URL, or starts the embedded PostgreSQL when there is none. */
export async function connectDatabase(
  options: { databaseUrl: string | undefined; dataDir: string; poolSize?: number; attach?: boolean; statementTimeoutMs?: number },
  logger: Logger,
): Promise<Connection> {
  const embedded = options.databaseUrl ? undefined : await startEmbeddedPostgres({ dataDir: options.dataDir, logger, attach: options.attach ?? false });
  const url = options.databaseUrl ?? (embedded as NonNullable<typeof embedded>).url;
  const pool = createPool({
    connectionString: url,
    ...(options.poolSize ? { max: options.poolSize } : {}),
    ...(options.statementTimeoutMs ? { statementTimeoutMs: options.statementTimeoutMs } : {}),
  });
  pool.on('error', (error) => logger.warn({ err: error }, 'idle database connection failed'));
  const db = createDb(pool);
  return {
    url,
    pool,
    db,
    async close() {
      await db.destroy();
      await embedded?.stop();
    },
  };
}
