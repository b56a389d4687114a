import { z } from 'zod';

/** Ids of users, groups and expenses: client-supplied or server-made, same rule. */
export const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;
export const Id = z.string().regex(ID_PATTERN, 'must match ^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$');

export const streamIdOf = (groupId: string): string => `group-${groupId}`;
