import type { FastifyError, FastifyInstance, FastifyReply } from 'fastify';
import { hasZodFastifySchemaValidationErrors, isResponseSerializationError } from 'fastify-type-provider-zod';
import { DomainError, type FieldError } from '../commands/errors.js';
import { isStatementTimeout, isUnavailable } from '../db/errors.js';
import { EventLogUnavailable } from '../store/event-log.js';

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  406: 'Not Acceptable',
  409: 'Conflict',
  412: 'Precondition Failed',
  413: 'Content Too Large',
  414: 'URI Too Long',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Content',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

export function sendProblem(reply: FastifyReply, status: number, code: string, detail: string, errors?: FieldError[]): FastifyReply {
  return reply
    .code(status)
    .type('application/problem+json; charset=utf-8')
    .send({
      type: `https://fairshare.dev/problems/${code.toLowerCase().replaceAll('_', '-')}`,
      title: TITLES[status] ?? 'Error',
      status,
      detail,
      code,
      ...(errors && errors.length > 0 ? { errors } : {}),
    });
}

// Fastify's own request errors, with the codes clients see for them.
const FASTIFY_CODES: Record<string, [number, string]> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: [415, 'UNSUPPORTED_MEDIA_TYPE'],
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: [400, 'INVALID_CONTENT_LENGTH'],
  FST_ERR_CTP_BODY_TOO_LARGE: [413, 'BODY_TOO_LARGE'],
  FST_ERR_CTP_EMPTY_JSON_BODY: [400, 'MALFORMED_JSON'],
  FST_ERR_CTP_INVALID_JSON_BODY: [400, 'MALFORMED_JSON'],
  FST_ERR_CTP_EMPTY_TYPE: [415, 'UNSUPPORTED_MEDIA_TYPE'],
  FST_ERR_CTP_INVALID_TYPE: [415, 'UNSUPPORTED_MEDIA_TYPE'],
};

const CONTEXTS: Record<string, string> = { querystring: 'query/', params: 'params/', headers: 'header/', body: '' };

/** How long a client told 503 (the database or the event log is away) is asked to wait. */
export const RETRY_AFTER_SECONDS = 5;

/** Maps every error to problem+json in one place. A 5xx never shows internals. */
export function registerProblemHandlers(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (error instanceof DomainError) {
      if (error.code === 'GROUP_BUSY') reply.header('retry-after', '1');
      return sendProblem(reply, error.status, error.code, error.message, error.errors);
    }
    if (hasZodFastifySchemaValidationErrors(error)) {
      const prefix = CONTEXTS[error.validationContext ?? 'body'] ?? '';
      const errors = error.validation.map((v) => ({
        path: `${prefix}${v.instancePath.replace(/^\//, '')}`.replace(/\/$/, '') || '(body)',
        message: v.message ?? 'is invalid',
      }));
      const detail = errors.map((e) => `${e.path}: ${e.message}`).join('; ');
      return sendProblem(reply, 400, 'VALIDATION_FAILED', detail, errors);
    }
    const known = error.code ? FASTIFY_CODES[error.code] : undefined;
    if (known) return sendProblem(reply, known[0], known[1], error.message);
    if (error instanceof SyntaxError || error.code === 'FST_ERR_BAD_JSON') {
      return sendProblem(reply, 400, 'MALFORMED_JSON', 'the body is not valid JSON');
    }
    const status = error.statusCode ?? 500;
    if (status >= 400 && status < 500 && !isResponseSerializationError(error)) {
      return sendProblem(reply, status, 'BAD_REQUEST', error.message);
    }
    if (error instanceof EventLogUnavailable) {
      request.log.warn({ err: error, maybeStored: error.maybeStored }, 'request failed: the event log did not answer');
      return sendProblem(
        reply.header('retry-after', String(RETRY_AFTER_SECONDS)),
        503,
        'EVENT_LOG_UNAVAILABLE',
        'the event log cannot be reached; try again shortly. A write retried with the same expenseId or Idempotency-Key is applied at most once',
      );
    }
    if (isStatementTimeout(error)) {
      request.log.warn({ err: error }, 'request failed: a statement ran past the database statement timeout');
      return sendProblem(
        reply.header('retry-after', String(RETRY_AFTER_SECONDS)),
        503,
        'DATABASE_TIMEOUT',
        'the database did not answer in time; try again shortly. A write retried with the same expenseId or Idempotency-Key is applied at most once',
      );
    }
    request.log.error({ err: error }, 'request failed');
    if (isUnavailable(error)) {
      return sendProblem(
        reply.header('retry-after', String(RETRY_AFTER_SECONDS)),
        503,
        'DATABASE_UNAVAILABLE',
        'the database cannot be reached; try again shortly',
      );
    }
    return sendProblem(reply, 500, 'INTERNAL_ERROR', 'something went wrong on our side');
  });

  app.setNotFoundHandler((request, reply) => sendProblem(reply, 404, 'NOT_FOUND', `no route ${request.method} ${request.url.split('?')[0]}`));
}
