import { Kysely, PostgresDialect, type Transaction } from 'kysely';
import pg from 'pg';
import type { Database } from './schema.js';

export type Db = Kysely<Database>;
export type Tx = Transaction<Database>;

const INT8_OID = 20;

/**
 * pg hands int8 over as a string by default. Money and positions are int8, so they
 * become BigInt here, deliberately, and never pass through a float.
 */
const types = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === INT8_OID && format !== 'binary') return (value: string) => BigInt(value);
    return pg.types.getTypeParser(oid, format);
  },
} as unknown as pg.CustomTypesConfig;

export interface DatabaseOptions {
  connectionString: string;
  max?: number;
  applicationName?: string;
}

export function createPool(options: DatabaseOptions): pg.Pool {
  return new pg.Pool({
    connectionString: options.connectionString,
    max: options.max ?? 20,
    types,
    application_name: options.applicationName ?? 'fairshare',
    connectionTimeoutMillis: 10_000,
  });
}

export function createDb(pool: pg.Pool): Db {
  return new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
}

export function createClient(connectionString: string): pg.Client {
  return new pg.Client({ connectionString, types, application_name: 'fairshare-listen' });
}

/**
 * Runs several reads as one consistent snapshot (REPEATABLE READ, read only), so a
 * version and the balances shown with it always belong together, and an audit sees
 * the log and the projection as of one instant while writes go on.
 */
export function readSnapshot<T>(db: Db, fn: (tx: Tx) => Promise<T>): Promise<T> {
  return db.transaction().setIsolationLevel('repeatable read').setAccessMode('read only').execute(fn);
}
