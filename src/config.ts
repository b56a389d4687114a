import { isIP } from 'node:net';
import type { LogFormat } from './log.js';
import { z } from 'zod';

/** A comma-separated list (blanks and empty items dropped), each item matching `item`. */
const commaList = (item: z.ZodString) =>
  z
    .string()
    .transform((v) =>
      v
        .split(',')
        .map((part) => part.trim())
        .filter((part) => part !== ''),
    )
    .pipe(z.array(item))
    .default([]);

/** An IP address or a CIDR range (10.0.0.0/8, fd00::/8). */
const isAddressOrRange = (value: string): boolean => {
  const [address = '', bits, ...rest] = value.split('/');
  const family = isIP(address);
  if (family === 0 || rest.length > 0) return false;
  return bits === undefined || (/^\d{1,3}$/.test(bits) && Number(bits) <= (family === 4 ? 32 : 128));
};

/**
 * Which proxies' X-Forwarded-For to believe (fastify's trustProxy): `true` (any: only
 * when nothing but the proxy can reach the server) or the proxies' addresses. Not a hop
 * count: fastify trusts nobody for one, as it cannot check who the peer is.
 */
const TrustProxy = z.string().transform((value, ctx): boolean | string[] => {
  const v = value.trim();
  if (v === 'true' || v === 'false') return v === 'true';
  const items = v
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
  if (items.length > 0 && items.every(isAddressOrRange)) return items;
  ctx.addIssue({ code: 'custom', message: "must be true, false, or the proxies' addresses or CIDR ranges, such as 10.0.0.0/8,127.0.0.1" });
  return z.NEVER;
});

const Env = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  HOST: z.string().min(1).default('127.0.0.1'),
  DATABASE_URL: z.string().min(1).optional(),
  FAIRSHARE_DATA_DIR: z.string().min(1).default('./.fairshare'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  LOG_FORMAT: z.enum(['auto', 'pretty', 'json']).default('auto'),
  FAIRSHARE_OPERATOR_TOKENS: commaList(z.string().regex(/^[A-Za-z0-9._~+/=-]{32,200}$/, 'operator tokens must be 32-200 URL-safe characters')),
  FAIRSHARE_EVENT_LOG: z.enum(['postgres', 'kurrentdb']).default('postgres'),
  KURRENTDB_URL: z
    .string()
    .regex(/^(kurrentdb|kurrent|kdb|esdb)(\+discover)?:\/\/\S+$/, 'must be a KurrentDB connection string such as kurrentdb://host:2113?tls=false')
    .optional(),
  RATE_LIMIT_SIGNUPS_PER_MINUTE: z.coerce.number().int().min(1).max(100_000_000).default(20),
  RATE_LIMIT_WRITES_PER_MINUTE: z.coerce.number().int().min(1).max(100_000_000).default(300),
  REDIS_URL: z
    .string()
    .regex(/^rediss?:\/\/\S+$/, 'must be a Redis URL such as redis://localhost:6379')
    .optional(),
  CORS_ORIGINS: commaList(z.string().regex(/^https?:\/\/[^/\s]+$/, 'CORS origins are scheme://host[:port], such as https://app.example.com')),
  WRITES_WAITING_PER_GROUP: z.coerce.number().int().min(1).max(100_000).default(256),
  REQUEST_TIMEOUT_MS: z.coerce.number().int().min(1_000).max(600_000).default(30_000),
  LIVE_STREAMS_PER_TOKEN: z.coerce.number().int().min(1).max(10_000).default(20),
  TRUST_PROXY: TrustProxy.default(false),
  DATABASE_STATEMENT_TIMEOUT_MS: z.coerce.number().int().min(100).max(3_600_000).default(10_000),
  KURRENTDB_APPEND_TIMEOUT_MS: z.coerce.number().int().min(100).max(120_000).default(5_000),
});

export interface Config {
  port: number;
  host: string;
  /** Unset: run PostgreSQL embedded, with its data under dataDir. */
  databaseUrl: string | undefined;
  dataDir: string;
  logLevel: z.infer<typeof Env>['LOG_LEVEL'];
  /** auto: pretty text at a terminal, JSON lines otherwise (see src/log.ts). */
  logFormat: LogFormat;
  /** Bearer tokens that may read operator routes (the global event feed); several allow rotation. */
  operatorTokens: string[];
  /** Sign-ups per address and writes per token, per minute; shared through Redis when redisUrl is set. */
  rateLimits: { signupsPerMinute: number; writesPerMinute: number; redisUrl: string | undefined };
  /** Origins whose pages may call the API from a browser; empty: CORS closed. */
  corsOrigins: string[];
  /** Whose X-Forwarded-For gives the client's address (rate limits, logs); false: nobody's. */
  trustProxy: boolean | string[];
  /** Writes to one group that may wait in a process before more are refused as busy. */
  writesWaitingPerGroup: number;
  /** A request must arrive whole within this many ms (slow senders are cut). */
  requestTimeoutMs: number;
  /** Live streams one bearer token may hold open at once. */
  liveStreamsPerToken: number;
  /** The server's statements are cancelled after this many ms (503 DATABASE_TIMEOUT); the CLI's are not limited. */
  statementTimeoutMs: number;
  /** Where the events live: PostgreSQL (with the projection) or a KurrentDB cluster. */
  eventLog: { kind: 'postgres' } | { kind: 'kurrentdb'; url: string; appendTimeoutMs: number };
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  // An empty variable (`DATABASE_URL= npm start`) means unset, as in most tools.
  const given = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== ''));
  const parsed = Env.safeParse(given);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new Error(`invalid configuration: ${problems}`);
  }
  const e = parsed.data;
  if (e.FAIRSHARE_EVENT_LOG === 'kurrentdb' && e.KURRENTDB_URL === undefined) {
    throw new Error('invalid configuration: KURRENTDB_URL: required when FAIRSHARE_EVENT_LOG=kurrentdb');
  }
  return {
    port: e.PORT,
    host: e.HOST,
    databaseUrl: e.DATABASE_URL,
    dataDir: e.FAIRSHARE_DATA_DIR,
    logLevel: e.LOG_LEVEL,
    logFormat: e.LOG_FORMAT,
    operatorTokens: e.FAIRSHARE_OPERATOR_TOKENS,
    liveStreamsPerToken: e.LIVE_STREAMS_PER_TOKEN,
    statementTimeoutMs: e.DATABASE_STATEMENT_TIMEOUT_MS,
    requestTimeoutMs: e.REQUEST_TIMEOUT_MS,
    writesWaitingPerGroup: e.WRITES_WAITING_PER_GROUP,
    corsOrigins: e.CORS_ORIGINS,
    trustProxy: e.TRUST_PROXY,
    rateLimits: { signupsPerMinute: e.RATE_LIMIT_SIGNUPS_PER_MINUTE, writesPerMinute: e.RATE_LIMIT_WRITES_PER_MINUTE, redisUrl: e.REDIS_URL },
    eventLog:
      e.FAIRSHARE_EVENT_LOG === 'kurrentdb'
        ? { kind: 'kurrentdb', url: e.KURRENTDB_URL as string, appendTimeoutMs: e.KURRENTDB_APPEND_TIMEOUT_MS }
        : { kind: 'postgres' },
  };
}
