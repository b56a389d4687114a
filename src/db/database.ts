import { createHash } from 'node:crypto';
import { Kysely, PostgresDialect, type PostgresPool, type PostgresPoolClient, type Transaction } from 'kysely';
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
  /** The server cancels a statement running longer than this (PostgreSQL's statement_timeout); unset: no limit. */
  statementTimeoutMs?: number;
  /** Give up opening a connection after this long (default 10 s). */
  connectTimeoutMs?: number;
}

const poolOptions = new WeakMap<pg.Pool, DatabaseOptions>();

export function createPool(options: DatabaseOptions): pg.Pool {
  const pool = new pg.Pool({
    connectionString: options.connectionString,
    max: options.max ?? 20,
    types,
    application_name: options.applicationName ?? 'fairshare',
    connectionTimeoutMillis: options.connectTimeoutMs ?? 10_000,
    ...(options.statementTimeoutMs ? { statement_timeout: options.statementTimeoutMs } : {}),
  });
  // A connection that dies while checked out (the server restarted, pg_terminate_backend)
  // fails its queries, and pg also emits 'error' on the client, which pg-pool listens to
  // only while the client is idle: unheard, it would crash the process. The queries'
  // own errors say what happened (503 to the request); the pool drops the dead client.
  pool.on('connect', (client) => client.on('error', () => undefined));
  poolOptions.set(pool, options);
  return pool;
}

/** The options `pool` was made with (by createPool), so another thread can open its own pool alike. */
export function optionsOf(pool: pg.Pool): DatabaseOptions {
  const options = poolOptions.get(pool);
  if (!options) throw new Error('this pool was not made by createPool');
  return options;
}

const pools = new WeakMap<Db, pg.Pool>();

export function createDb(pool: pg.Pool): Db {
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool: preparing(pool) }) });
  pools.set(db, pool);
  return db;
}

/**
 * The pg pool behind `db`, for what kysely cannot do (a COPY stream). Connections taken
 * from it count against the same limit as the queries of `db`.
 */
export function poolOf(db: Db): pg.Pool {
  const pool = pools.get(db);
  if (!pool) throw new Error('this Kysely instance was not made by createDb');
  return pool;
}

/** How many distinct statements one connection prepares at most (the rest run unnamed). */
export const PREPARED_PER_CONNECTION = 200;
const preparedOn = new WeakMap<pg.PoolClient, Set<string>>();
const statementNames = new Map<string, string>();

/** A stable name for a statement's text: the same text gets the same name on every connection. */
function statementName(text: string): string {
  let name = statementNames.get(text);
  if (name === undefined) {
    name = `fs_${createHash('sha1').update(text).digest('hex').slice(0, 24)}`;
    if (statementNames.size >= 10 * PREPARED_PER_CONNECTION) statementNames.clear();
    statementNames.set(text, name);
  }
  return name;
}

/**
 * Kysely sends every statement unnamed, so PostgreSQL parses and plans it again on
 * every call; for the short statements of a command that is most of their cost. This
 * pool runs parameterised statements as named prepared statements instead: the first
 * call on a connection prepares, later calls only bind and execute. A connection
 * prepares at most PREPARED_PER_CONNECTION distinct texts (statements whose text
 * varies, such as multi-row inserts, cannot grow the server's memory without bound);
 * the hot statements come first and stay prepared for the connection's life.
 */
function preparing(pool: pg.Pool): PostgresPool {
  return {
    async connect(): Promise<PostgresPoolClient> {
      const client = await pool.connect();
      const names = preparedOn.get(client) ?? new Set<string>();
      preparedOn.set(client, names);
      const query = (text: string | pg.Submittable, values: readonly unknown[] = []) => {
        if (typeof text !== 'string') return client.query(text); // a cursor
        if (values.length === 0) return client.query(text);
        const name = statementName(text);
        if (!names.has(name)) {
          if (names.size >= PREPARED_PER_CONNECTION) return client.query(text, values as unknown[]);
          names.add(name);
        }
        return client.query({ name, text, values: values as unknown[] });
      };
      return {
        query: query as unknown as PostgresPoolClient['query'],
        release: () => client.release(),
      };
    },
    end: () => pool.end(),
  };
}

/**
 * Runs several reads as one consistent snapshot (REPEATABLE READ, read only), so a
 * version and the balances shown with it always belong together, and an audit sees
 * the log and the projection as of one instant while writes go on.
 */
export function readSnapshot<T>(db: Db, fn: (tx: Tx) => Promise<T>): Promise<T> {
  return db.transaction().setIsolationLevel('repeatable read').setAccessMode('read only').execute(fn);
}
