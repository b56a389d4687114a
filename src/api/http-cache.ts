import type { FastifyReply, FastifyRequest } from 'fastify';

/**
 * The ETag of any group resource is its version: it changes exactly when the group
 * does. A rebuild that repaired the group's rows without a new event adds its epoch
 * (`"12.1"`), so a copy cached before the repair is never confirmed by a 304.
 */
export const etagOf = (version: number, epoch = 0): string => (epoch === 0 ? `"${version}"` : `"${version}.${epoch}"`);

/** True (and the 304 sent) when the client's cached copy is still the current one. */
export function notModified(request: FastifyRequest, reply: FastifyReply, group: { version: number; epoch: number }): boolean {
  const tag = etagOf(group.version, group.epoch);
  reply.header('etag', tag).header('cache-control', 'private, no-cache');
  const header = request.headers['if-none-match'];
  if (!header) return false;
  const matches = header.trim() === '*' || header.split(',').some((candidate) => candidate.trim().replace(/^W\//, '') === tag);
  if (matches) reply.code(304).send();
  return matches;
}

/** `If-Match: "12"` (or `"12.1"` after a rebuild) → 12: writes are checked against the version. */
export const parseIfMatch = (header: string | undefined): number | undefined =>
  header === undefined ? undefined : Number.parseInt(header.replace(/^W\//, '').replaceAll('"', ''), 10);
