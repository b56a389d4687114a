import type { FastifyInstance, InjectOptions } from 'fastify';
import pino from 'pino';
import { buildApp } from '../../src/api/app.js';
import type { RateLimits } from '../../src/api/rate-limits.js';
import { LiveChanges } from '../../src/live/live-changes.js';
import { streamIdOf, type EventEnvelope } from '../../src/events/index.js';
import type { EventLog, LogPosition } from '../../src/store/event-log.js';
import { PostgresEventLog } from '../../src/store/postgres-event-log.js';
import { KurrentDbEventLog } from '../../src/store/kurrentdb-event-log.js';
import { LogSubscriber } from '../../src/unit-of-work/log-subscriber.js';
import type { HandlerDeps } from '../../src/unit-of-work/command-handler.js';
import { rebuildProjection, type RebuildOptions, type RebuildReport } from '../../src/projections/rebuild.js';
import { verifyProjection, type Mismatch, type VerifyReport } from '../../src/replay/verify.js';
import { verifyFromLog } from '../../src/replay/verify-log.js';
import { createTestDatabase, type TestDatabase } from './database.js';
import { startKurrentDbDouble, type KurrentDbDouble } from './kurrentdb-double.js';

/**
 * Which event log the shared suites run against: PostgreSQL (the default), or KurrentDB
 * mode with the gRPC double as the log (`FAIRSHARE_TEST_EVENT_LOG=kurrentdb-double`;
 * the `*.kurrentdb.test.ts` files set it and run a suite a second time).
 */
export const testEventLogMode = (): 'postgres' | 'kurrentdb-double' =>
  process.env.FAIRSHARE_TEST_EVENT_LOG === 'kurrentdb-double' ? 'kurrentdb-double' : 'postgres';

export interface TestApp {
  app: FastifyInstance;
  database: TestDatabase;
  changes: LiveChanges;
  /** The log the app appends to: PostgreSQL's events table, or the KurrentDB double's. */
  eventLog: EventLog;
  /** The KurrentDB double, in that mode. */
  double: KurrentDbDouble | undefined;
  /** The environment a server or CLI process needs to use this app's log (empty for PostgreSQL). */
  logEnv: Record<string, string>;
  /** A group's events as its log holds them, in version order. */
  eventsOf(groupId: string): Promise<EventEnvelope[]>;
  /** Dependencies for calling the unit of work directly, as another server process of this deployment would. */
  handlerDeps(extra?: Partial<HandlerDeps>): HandlerDeps;
  /** Resolves once the projection has every event the log holds for the group (repairs take a moment in KurrentDB mode). */
  projected(groupId: string): Promise<void>;
  /** Resolves once the log subscriber (KurrentDB mode) has passed everything in the log now. */
  settled(): Promise<void>;
  /** `replay verify` as this mode's CLI runs it (whole log, or one group). */
  verify(options?: { groupId?: string }): Promise<VerifyReport>;
  /** `replay rebuild` from this mode's log. */
  rebuild(options?: Omit<RebuildOptions, 'eventLog'>): Promise<RebuildReport>;
  close(): Promise<void>;
}

export const quietLogger = () => pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });

/**
 * A fresh database and app, set up as `fairshare serve` sets itself up: in KurrentDB
 * mode (see testEventLogMode) with a double as the log and a log subscriber running.
 * An `eventLog` passed in is used as it is (its owner starts and closes what it needs).
 */
/** Limits no test reaches by accident (load tests write thousands of times with one token). */
export const UNREACHED_RATE_LIMITS: RateLimits = { signupsPerMinute: 1_000_000, writesPerMinute: 1_000_000 };

export interface TestAppOptions {
  clock?: () => Date;
  operatorTokens?: string[];
  logger?: pino.Logger;
  eventLog?: EventLog;
  liveStreamsPerToken?: number;
  /** Default: limits no test reaches (the rate-limit tests set their own). */
  rateLimits?: RateLimits;
  /** How often open live streams check their devices (default 5 s). */
  deviceCheckMs?: number;
}

export async function startTestApp(options: TestAppOptions = {}): Promise<TestApp> {
  const database = await createTestDatabase();
  const logger = options.logger ?? quietLogger();
  const changes = new LiveChanges(database.db, logger);
  await changes.start();
  let double: KurrentDbDouble | undefined;
  let ownLog: KurrentDbEventLog | undefined;
  let subscriber: LogSubscriber | undefined;
  if (!options.eventLog && testEventLogMode() === 'kurrentdb-double') {
    double = await startKurrentDbDouble();
    ownLog = KurrentDbEventLog.connect(double.url);
    subscriber = new LogSubscriber(database.db, ownLog, logger);
    subscriber.start();
  }
  const eventLog = options.eventLog ?? ownLog ?? new PostgresEventLog(database.db);
  const app = await buildApp({
    db: database.db,
    changes,
    logger,
    rateLimits: UNREACHED_RATE_LIMITS,
    ...options,
    ...(eventLog.kind === 'kurrentdb' ? { eventLog } : {}),
  });
  return {
    app,
    database,
    changes,
    eventLog,
    double,
    logEnv: double ? { FAIRSHARE_EVENT_LOG: 'kurrentdb', KURRENTDB_URL: double.url } : {},
    eventsOf: (groupId) => eventLog.readStream(streamIdOf(groupId)),
    handlerDeps: (extra = {}) => ({ db: database.db, logger: quietLogger(), ...(ownLog ? { eventLog: ownLog } : {}), ...extra }),
    async projected(groupId) {
      for (let waited = 0; ; waited += 20) {
        const logged = (await eventLog.readStream(streamIdOf(groupId))).length;
        const row = await database.query<{ version: number }>('select version from groups where group_id = $1', [groupId]);
        if ((row.rows[0]?.version ?? 0) >= logged) return;
        if (waited > 15_000) throw new Error(`group ${groupId}: the projection stays behind the log (${row.rows[0]?.version} < ${logged})`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    },
    async settled() {
      if (!ownLog) return;
      const head = await ownLog.head();
      for (let waited = 0; head !== undefined; waited += 20) {
        const row = await database.query<{ position: string }>(`select position from log_checkpoints where name = 'projector'`);
        const at = row.rows[0]?.position as LogPosition | undefined;
        if (at !== undefined && ownLog.compare(at, head) >= 0) return;
        if (waited > 15_000) throw new Error(`the log subscriber stays behind the log (${at} < ${head})`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    },
    async verify(options = {}) {
      if (!ownLog) return verifyProjection(database.db, options);
      // A group the projection has not reached is lag, not drift; here both fail the check.
      const report = await verifyFromLog(database.db, ownLog, { ...options, waitMs: 15_000 });
      const lag = report.lagging.map((l) => ({
        groupId: l.groupId,
        kind: 'lag',
        expected: `version ${l.loggedVersion}`,
        actual: `version ${l.projectedVersion}`,
      }));
      return { ...report, mismatches: [...report.mismatches, ...(lag as unknown as Mismatch[])] };
    },
    rebuild: (options = {}) => rebuildProjection(database.db, { ...options, ...(ownLog ? { eventLog: ownLog } : {}) }),
    async close() {
      await app.close();
      await subscriber?.close();
      await ownLog?.close();
      await double?.close();
      await changes.close();
      await database.close();
    },
  };
}

/**
 * The usual setup of a test file: one app on its own database, opened before the first
 * test and closed after the last. `ctx.env` and `ctx.api` are ready inside tests.
 */
export function useTestApp(
  t: { before(fn: () => Promise<void>): unknown; teardown(fn: () => Promise<void>): unknown },
  options: TestAppOptions = {},
): { env: TestApp; api: Api } {
  const ctx = {} as { env: TestApp; api: Api };
  t.before(async () => {
    ctx.env = await startTestApp(options);
    ctx.api = new Api(ctx.env.app);
  });
  t.teardown(() => ctx.env.close());
  return ctx;
}

export interface ApiResponse<T = any> {
  status: number;
  body: T;
  headers: Record<string, string | string[] | number | undefined>;
}

/** A tiny client over app.inject: `as(token)` adds the bearer header. */
export class Api {
  constructor(
    readonly app: FastifyInstance,
    readonly token?: string,
  ) {}

  as(token: string): Api {
    return new Api(this.app, token);
  }

  async request<T = any>(method: InjectOptions['method'], url: string, body?: unknown, headers: Record<string, string> = {}): Promise<ApiResponse<T>> {
    const response = await this.app.inject({
      method,
      url,
      headers: { ...(this.token ? { authorization: `Bearer ${this.token}` } : {}), ...headers },
      ...(body === undefined ? {} : { payload: body as InjectOptions['payload'] }),
    });
    const text = response.body;
    return { status: response.statusCode, body: text ? JSON.parse(text) : undefined, headers: response.headers };
  }

  get<T = any>(url: string, headers?: Record<string, string>) {
    return this.request<T>('GET', url, undefined, headers);
  }
  post<T = any>(url: string, body?: unknown, headers?: Record<string, string>) {
    return this.request<T>('POST', url, body, headers);
  }
  put<T = any>(url: string, body?: unknown, headers?: Record<string, string>) {
    return this.request<T>('PUT', url, body, headers);
  }
  delete<T = any>(url: string, headers?: Record<string, string>) {
    return this.request<T>('DELETE', url, undefined, headers);
  }
  patch<T = any>(url: string, body?: unknown, headers?: Record<string, string>) {
    return this.request<T>('PATCH', url, body, headers);
  }

  /** Signs up a user and returns a client acting as them. */
  async signUp(name: string, userId?: string): Promise<{ api: Api; userId: string; token: string; deviceId: string }> {
    const res = await this.post('/users', { name, ...(userId ? { userId } : {}) });
    if (res.status !== 201) throw new Error(`sign-up failed: ${res.status} ${JSON.stringify(res.body)}`);
    return { api: this.as(res.body.token), userId: res.body.userId, token: res.body.token, deviceId: res.body.deviceId };
  }
}
