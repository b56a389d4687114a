import type { FastifyReply, FastifyRequest } from 'fastify';

/** The ETag of any group resource is its version: it changes exactly when the group does. */
export const etagOf = (version: number): string => `"${version}"`;

/** True (and the 304 sent) when the client's cached copy is still the current version. */
export function notModified(request: FastifyRequest, reply: FastifyReply, version: number): boolean {
  const tag = etagOf(version);
  reply.header('etag', tag).header('cache-control', 'private, no-cache');
  const header = request.headers['if-none-match'];
  if (!header) return false;
  const matches =
    header.trim() === '*' || header.split(',').some((candidate) => candidate.trim().replace(/^W\//, '') === tag);
  if (matches) reply.code(304).send();
  return matches;
}

/** `If-Match: "12"` → 12 (the route schema has already checked the shape). */
export const parseIfMatch = (header: string | undefined): number | undefined =>
  header === undefined ? undefined : Number(header.replace(/^W\//, '').replaceAll('"', ''));
