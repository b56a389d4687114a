import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';

/** dist/web, seen from the built server (dist/src/api) or from the sources (src/api, in tests). */
function webRoot(): string | undefined {
  for (const relative of ['../../web/', '../../dist/web/']) {
    const dir = fileURLToPath(new URL(relative, import.meta.url));
    if (existsSync(`${dir}index.html`)) return dir;
  }
  return undefined;
}

/**
 * Serves the web page and its modules (built by `npm run build` into dist/web) at `/`,
 * one route per file, so nothing shadows the API. The page may run only its own
 * scripts: the CSP allows the one inline import map by its hash.
 */
export async function registerWebUi(app: FastifyInstance, logger: Logger): Promise<void> {
  const root = webRoot();
  if (!root) {
    logger.warn('the web UI is not built (no dist/web/index.html); run npm run build');
    return;
  }
  const page = readFileSync(`${root}index.html`, 'utf8');
  const importMap = /<script type="importmap">([\s\S]*?)<\/script>/.exec(page)?.[1] ?? '';
  const csp = [
    "default-src 'self'",
    `script-src 'self' 'sha256-${createHash('sha256').update(importMap).digest('base64')}'`,
    "style-src 'self'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; ');
  await app.register(async (scope) => {
    scope.addHook('onSend', async (_request, reply) => {
      // The page's own CSP in place of the API's (helmet, src/api/app.ts, sets the other headers).
      reply.header('content-security-policy', csp);
    });
    await scope.register(fastifyStatic, { root, prefix: '/', wildcard: false, index: ['index.html'], cacheControl: true, maxAge: 0 });
  });
}
