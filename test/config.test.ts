import t from 'tap';
import { loadConfig } from '../src/config.js';

t.test('defaults follow DESIGN.md section 7', async (t) => {
  t.match(loadConfig({}), {
    port: 3000,
    host: '127.0.0.1',
    databaseUrl: undefined,
    dataDir: './.fairshare',
    logLevel: 'info',
    operatorTokens: [],
    liveStreamsPerToken: 20,
  });
  t.equal(loadConfig({ LIVE_STREAMS_PER_TOKEN: '5' }).liveStreamsPerToken, 5);
  t.throws(() => loadConfig({ LIVE_STREAMS_PER_TOKEN: '0' }), /LIVE_STREAMS_PER_TOKEN/);
  t.same(loadConfig({}).rateLimits, { signupsPerMinute: 20, writesPerMinute: 300, redisUrl: undefined });
  t.same(loadConfig({ RATE_LIMIT_SIGNUPS_PER_MINUTE: '5', RATE_LIMIT_WRITES_PER_MINUTE: '7', REDIS_URL: 'redis://cache:6379' }).rateLimits, {
    signupsPerMinute: 5,
    writesPerMinute: 7,
    redisUrl: 'redis://cache:6379',
  });
  t.throws(() => loadConfig({ REDIS_URL: 'cache:6379' }), /REDIS_URL: must be a Redis URL/);
  t.equal(loadConfig({}).requestTimeoutMs, 30_000);
  t.equal(loadConfig({}).writesWaitingPerGroup, 256);
  t.same(loadConfig({}).corsOrigins, []);
  t.same(loadConfig({ CORS_ORIGINS: 'https://a.example, http://localhost:5173,' }).corsOrigins, ['https://a.example', 'http://localhost:5173']);
  t.throws(() => loadConfig({ CORS_ORIGINS: '*' }), /CORS_ORIGINS/);
  t.equal(loadConfig({ WRITES_WAITING_PER_GROUP: '10' }).writesWaitingPerGroup, 10);
  t.equal(loadConfig({ REQUEST_TIMEOUT_MS: '5000' }).requestTimeoutMs, 5_000);
  t.throws(() => loadConfig({ REQUEST_TIMEOUT_MS: '0' }), /REQUEST_TIMEOUT_MS/);
  t.throws(() => loadConfig({ RATE_LIMIT_WRITES_PER_MINUTE: 'many' }), /RATE_LIMIT_WRITES_PER_MINUTE/);
  t.equal(loadConfig({ DATABASE_URL: '' }).databaseUrl, undefined, 'an empty variable means unset');
  t.equal(loadConfig({}).statementTimeoutMs, 10_000);
  t.equal(loadConfig({ DATABASE_STATEMENT_TIMEOUT_MS: '2500' }).statementTimeoutMs, 2_500);
  t.throws(() => loadConfig({ DATABASE_STATEMENT_TIMEOUT_MS: '0' }), /DATABASE_STATEMENT_TIMEOUT_MS/);
});

t.test('TRUST_PROXY: nobody by default; true, or the proxies by address or range', async (t) => {
  t.equal(loadConfig({}).trustProxy, false);
  t.equal(loadConfig({ TRUST_PROXY: 'true' }).trustProxy, true);
  t.equal(loadConfig({ TRUST_PROXY: 'false' }).trustProxy, false);
  t.same(loadConfig({ TRUST_PROXY: '10.0.0.0/8, 127.0.0.1,fd00::/8' }).trustProxy, ['10.0.0.0/8', '127.0.0.1', 'fd00::/8']);
  for (const bad of ['1', 'yes', '10.0.0.0/33', 'proxy.internal', '127.0.0.1/8/8', '::1/129']) {
    t.throws(() => loadConfig({ TRUST_PROXY: bad }), /TRUST_PROXY: must be true, false, or the proxies' addresses/, bad);
  }
});

t.test('operator tokens: a comma-separated list, each long enough to be a secret', async (t) => {
  const a = 'a'.repeat(32);
  const b = 'op_' + 'b'.repeat(40);
  t.same(loadConfig({ FAIRSHARE_OPERATOR_TOKENS: `${a}, ${b},` }).operatorTokens, [a, b]);
  t.throws(() => loadConfig({ FAIRSHARE_OPERATOR_TOKENS: 'short' }), /operator tokens must be 32-200/);
  t.throws(() => loadConfig({ FAIRSHARE_OPERATOR_TOKENS: `${a} with space` }), /operator tokens/);
});

t.test('bad values are refused with the variable named', async (t) => {
  t.throws(() => loadConfig({ PORT: 'eighty' }), /invalid configuration: PORT/);
  t.throws(() => loadConfig({ LOG_LEVEL: 'loud' }), /LOG_LEVEL/);
});

t.test('the event log: PostgreSQL unless KurrentDB is chosen, and then its URL is required', async (t) => {
  t.same(loadConfig({}).eventLog, { kind: 'postgres' });
  t.same(loadConfig({ FAIRSHARE_EVENT_LOG: 'kurrentdb', KURRENTDB_URL: 'kurrentdb://db:2113?tls=false' }).eventLog, {
    kind: 'kurrentdb',
    url: 'kurrentdb://db:2113?tls=false',
    appendTimeoutMs: 5000,
  });
  t.equal(
    (
      loadConfig({ FAIRSHARE_EVENT_LOG: 'kurrentdb', KURRENTDB_URL: 'kurrentdb://db:2113', KURRENTDB_APPEND_TIMEOUT_MS: '1500' }).eventLog as {
        appendTimeoutMs: number;
      }
    ).appendTimeoutMs,
    1500,
  );
  t.throws(() => loadConfig({ KURRENTDB_APPEND_TIMEOUT_MS: '5' }), /KURRENTDB_APPEND_TIMEOUT_MS/);
  t.same(loadConfig({ KURRENTDB_URL: 'kurrentdb://db:2113' }).eventLog, { kind: 'postgres' }, 'a URL alone changes nothing');
  t.throws(() => loadConfig({ FAIRSHARE_EVENT_LOG: 'kurrentdb' }), /KURRENTDB_URL: required/);
  t.throws(() => loadConfig({ FAIRSHARE_EVENT_LOG: 'kurrentdb', KURRENTDB_URL: 'http://db:2113' }), /KURRENTDB_URL: must be a KurrentDB connection string/);
  t.throws(() => loadConfig({ FAIRSHARE_EVENT_LOG: 'mongo' }), /FAIRSHARE_EVENT_LOG/);
});
