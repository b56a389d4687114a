import { randomUUID } from 'node:crypto';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import cors from '@fastify/cors';
import helmet from '@fastify/helmet';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { jsonSchemaTransform, serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Logger } from 'pino';
import type { LiveChanges } from '../live/live-changes.js';
import { createPool, optionsOf, poolOf, type Db } from '../db/database.js';
import { PostgresEventLog } from '../store/postgres-event-log.js';
import type { EventLog } from '../store/event-log.js';
import type { ApiDeps } from './context.js';
import { registerProblemHandlers, sendProblem } from './problem.js';
import { eventFeedRoutes } from './routes/event-feed.js';
import { expenseRoutes } from './routes/expenses.js';
import { groupRoutes } from './routes/groups.js';
import { groupViewRoutes } from './routes/group-views.js';
import { healthRoutes } from './routes/health.js';
import { userRoutes } from './routes/users.js';
import { meLiveRoutes } from './routes/me-live.js';
import { inviteRoutes } from './routes/invites.js';
import { deviceRoutes } from './routes/devices.js';
import { csvRoutes } from './routes/csv.js';
import { DeviceStreams } from './device-streams.js';
import { registerWebUi } from './web-ui.js';
import { GroupQueue } from '../unit-of-work/group-queue.js';
import { DEFAULT_RATE_LIMITS, registerRateLimits, type RateLimits } from './rate-limits.js';

export interface AppOptions {
  db: Db;
  /** Change announcements for live streams (started and closed by the caller). */
  changes: LiveChanges;
  logger: Logger;
  clock?: () => Date;
  newId?: () => string;
  /** Bearer tokens for operator routes; none → those routes answer 403. */
  operatorTokens?: readonly string[];
  /** An event log outside PostgreSQL (KurrentDB); absent: PostgreSQL's own. */
  eventLog?: EventLog | undefined;
  /** Live streams one bearer token may hold open at once (default 20). */
  liveStreamsPerToken?: number;
  /** Sign-up and write limits (default DEFAULT_RATE_LIMITS, in memory). */
  rateLimits?: RateLimits;
  /** Origins whose pages may call the API from a browser (CORS); none (the default): only the API's own page. */
  corsOrigins?: readonly string[];
  /** Whose X-Forwarded-For names the client (fastify's trustProxy; default false: the socket's address). */
  trustProxy?: boolean | string[];
  /** Writes to one group that may wait in this process before more are refused with 429 GROUP_BUSY (default 256). */
  maxWaitingPerGroup?: number;
  /** A request (headers and body) must arrive within this many ms, or its connection is closed with 408 (default 30 s). */
  requestTimeoutMs?: number;
  /** How often open live streams check that their devices were not revoked in another process (default 5 s). */
  deviceCheckMs?: number;
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,100}$/;

/** Builds the HTTP app; infrastructure comes in ready-made and is closed by the caller. */
export async function buildApp(options: AppOptions): Promise<FastifyInstance> {
  const requestTimeoutMs = options.requestTimeoutMs ?? 30_000;
  const app = Fastify({
    loggerInstance: options.logger as FastifyBaseLogger,
    // Answered by the onRequest hook below, as problem+json.
    return503OnClosing: false,
    trustProxy: options.trustProxy ?? false,
    bodyLimit: 64 * 1024,
    // Errors the router meets before any route runs, as problem+json like every other.
    frameworkErrors: (error, _request, reply) =>
      error.code === 'FST_ERR_MAX_PARAM_LENGTH'
        ? sendProblem(reply, 414, 'URI_TOO_LONG', 'a path segment is longer than 100 characters')
        : sendProblem(reply, 400, 'BAD_URL', 'the URL is not valid'),
    // Slow senders (a body a byte at a time) are cut: the whole request must arrive in
    // time, the headers sooner, and Node checks often enough to notice. Responses, such
    // as a live stream, are not limited by this.
    requestTimeout: requestTimeoutMs,
    http: {
      headersTimeout: Math.min(requestTimeoutMs, 20_000),
      connectionsCheckingInterval: Math.max(100, Math.min(5_000, Math.floor(requestTimeoutMs / 4))),
    },
    // One line per request (below) instead of fastify's two.
    logController: new LogController({ disableRequestLogging: true }),
    // Trust a caller's X-Request-Id when it looks like one, so logs join up across services.
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
  }).withTypeProvider<ZodTypeProvider>();

  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  registerProblemHandlers(app);
  // Many clients send `Content-Type: application/json` on every request, DELETE included.
  // A bodiless method with that header and no body is fine; elsewhere an empty JSON body
  // stays an error. Everything else goes to fastify's own (prototype-poisoning-safe) parser.
  const json = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    if (body === '' && (request.method === 'DELETE' || request.method === 'GET')) return done(null, undefined);
    return json(request, body as string, done);
  });
  let closing = false;
  app.decorateRequest('user', null);
  app.decorateRequest('deviceId', null);
  app.decorateRequest('asker', null);
  app.addHook('onSend', async (request, reply) => {
    reply.header('x-request-id', request.id);
    // Answers still going out while the server closes end their keep-alive connection,
    // or an idle client's socket would hold the close open until keepAliveTimeout (72 s).
    if (closing) reply.header('connection', 'close');
  });
  app.addHook('onResponse', async (request, reply) => {
    // An invite token in a URL is a credential: the log keeps only its first characters.
    const url = request.url.replace(/\/invites\/(fsi_[A-Za-z0-9_-]{4})[A-Za-z0-9_-]*/, '/invites/$1…');
    request.log.info(
      {
        req: { method: request.method, url, host: request.host, remoteAddress: request.ip, remotePort: request.socket?.remotePort },
        res: reply,
        responseTime: reply.elapsedTime,
      },
      'request completed',
    );
  });

  const rateLimits = await registerRateLimits(app, options.rateLimits ?? DEFAULT_RATE_LIMITS);
  // The readiness check has a connection of its own: a pool full of commands waiting
  // for their turn must not make a healthy database look gone (nor the other way round).
  const readiness = createPool({
    ...optionsOf(poolOf(options.db)),
    max: 1,
    applicationName: 'fairshare-ready',
    connectTimeoutMs: 2_000,
    statementTimeoutMs: 2_000,
  });
  readiness.on('error', (error) => options.logger.debug({ err: error }, 'the readiness connection failed'));
  app.addHook('onClose', () => readiness.end());
  const deps: ApiDeps = {
    db: options.db,
    logger: options.logger,
    changes: options.changes,
    // After a command commits here, this process's live streams hear it at once.
    announce: (o) => options.changes.committed({ groupId: o.groupId, currency: o.currency, version: o.version, epoch: o.epoch, balances: o.balances }),
    clock: options.clock ?? (() => new Date()),
    newId: options.newId ?? randomUUID,
    liveStreams: new Set(),
    closing: () => closing,
    liveStreamsPerToken: options.liveStreamsPerToken ?? 20,
    liveStreamsByToken: new Map(),
    deviceStreams: new DeviceStreams(options.db, options.logger, options.deviceCheckMs ?? 5_000),
    queue: new GroupQueue(options.maxWaitingPerGroup ?? 256),
    rateLimits,
    operatorTokens: options.operatorTokens ?? [],
    eventLog: options.eventLog,
    log: options.eventLog ?? new PostgresEventLog(options.db),
    ready: () => readiness.query('select 1'),
  };
  // Shutting down: requests still arriving on open connections are refused as such
  // (problem+json, Retry-After, the connection closed); those in flight finish.
  app.addHook('onRequest', async (_request, reply) => {
    if (!closing) return;
    reply.header('connection', 'close').header('retry-after', '1');
    return sendProblem(reply, 503, 'SHUTTING_DOWN', 'the server is shutting down; try again in a moment');
  });
  // Open live streams would hold the server open forever; end them on close.
  app.addHook('preClose', async () => {
    closing = true;
    for (const close of [...deps.liveStreams]) close();
    await deps.deviceStreams.close();
  });

  // CORS is closed unless origins are configured: the page is served from the API's own
  // origin and needs none. Tokens are bearer headers, never cookies: no credentials mode.
  if (options.corsOrigins && options.corsOrigins.length > 0) {
    await app.register(cors, {
      origin: [...options.corsOrigins],
      methods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'],
      allowedHeaders: ['authorization', 'content-type', 'if-match', 'if-none-match', 'idempotency-key', 'x-request-id'],
      exposedHeaders: ['etag', 'retry-after', 'x-request-id', 'x-ratelimit-limit', 'x-ratelimit-remaining', 'x-ratelimit-reset'],
      maxAge: 600,
    });
  }
  // Security headers on every answer (nosniff, frame and referrer policies, HSTS behind
  // TLS). API answers are data: their CSP allows nothing. The page and /docs send their own.
  await app.register(helmet, {
    contentSecurityPolicy: {
      useDefaults: false,
      directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"], baseUri: ["'none'"], formAction: ["'none'"] },
    },
  });
  await app.register(swagger, {
    openapi: {
      info: {
        title: 'FairShare',
        version: '0.1.0',
        description: 'Event-sourced expense sharing. Amounts are decimal strings in the group currency; errors are application/problem+json.',
      },
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer', description: 'A user token from POST /users' },
          operator: { type: 'http', scheme: 'bearer', description: 'An operator token from FAIRSHARE_OPERATOR_TOKENS' },
        },
      },
    },
    transform: jsonSchemaTransform,
  });
  // The docs page sends its own CSP: Swagger UI's default for its files, less
  // upgrade-insecure-requests (a server reached over plain HTTP must keep working), and
  // with inline styles, which Swagger UI applies (its scripts stay 'self' only).
  await app.register(swaggerUi, {
    routePrefix: '/docs',
    staticCSP:
      "default-src 'self'; base-uri 'self'; font-src 'self' https: data:; frame-ancestors 'self'; img-src 'self' data: validator.swagger.io; object-src 'none'; script-src 'self'; script-src-attr 'none'; style-src 'self' 'unsafe-inline'",
  });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  await app.register(healthRoutes(deps));
  await app.register(userRoutes(deps));
  await app.register(meLiveRoutes(deps));
  await app.register(deviceRoutes(deps));
  await app.register(groupRoutes(deps));
  await app.register(expenseRoutes(deps));
  await app.register(groupViewRoutes(deps));
  await app.register(inviteRoutes(deps));
  await app.register(eventFeedRoutes(deps));
  await app.register(csvRoutes(deps));
  await registerWebUi(app, options.logger);
  await app.ready();
  return app;
}
