import type { FastifyReply, FastifyRequest } from 'fastify';
import type { IfMatch } from '../unit-of-work/command-handler.js';

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

/**
 * `If-Match` for a write (RFC 9110 §13.1.1): `*` (the group must exist, which every
 * write on one needs anyway), or the ETags the client holds. Comparison is strong: a
 * weak tag never matches, and neither does a tag that is not a group ETag. Already
 * checked against WriteHeaders' pattern.
 */
export function parseIfMatch(header: string | undefined): IfMatch | undefined {
  if (header === undefined) return undefined;
  if (header.trim() === '*') return '*';
  const tags: { version: number; epoch: number }[] = [];
  for (const item of header.split(',')) {
    const strong = /^"(\d{1,10})(?:\.(\d{1,10}))?"$/.exec(item.trim());
    if (strong) tags.push({ version: Number(strong[1]), epoch: Number(strong[2] ?? 0) });
  }
  return tags;
}
