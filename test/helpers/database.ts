import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { createDb, createPool, type Db } from '../../src/db/database.js';
import { migrateToLatest } from '../../src/db/migrate.js';

export interface TestDatabase {
  url: string;
  pool: pg.Pool;
  db: Db;
  /** Runs SQL as an operator would (outside the app), e.g. to corrupt or inspect. */
  query<T extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values?: unknown[]): Promise<pg.QueryResult<T>>;
  close(): Promise<void>;
}

const adminUrl = (): string => {
  const url = process.env.FAIRSHARE_TEST_ADMIN_URL ?? process.env.DATABASE_URL;
  if (!url) throw new Error('run the tests with `npm test` (it provides PostgreSQL), or set DATABASE_URL');
  return url;
};

/** A fresh, migrated database of its own for one test file; dropped on close. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const name = `fs_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl() });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  const url = new URL(adminUrl());
  url.pathname = `/${name}`;
  const pool = createPool({ connectionString: url.toString(), max: 30 });
  // pg-pool's end() resolves before its clients' sockets have closed; the forced drop
  // below can reach one of them first, and an idle client's error with no listener
  // would crash the test process (the server's own pool logs these instead).
  pool.on('error', () => undefined);
  const db = createDb(pool);
  await migrateToLatest(db);
  return {
    url: url.toString(),
    pool,
    db,
    query: (text, values) => pool.query(text, values),
    async close() {
      await db.destroy();
      const cleanup = new pg.Client({ connectionString: adminUrl() });
      await cleanup.connect();
      await cleanup.query(`drop database if exists ${name} with (force)`);
      await cleanup.end();
    },
  };
}
