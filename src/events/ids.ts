/** Every group's events form one stream, named after the group. */
export const GROUP_STREAM_PREFIX = 'group-';

export const streamIdOf = (groupId: string): string => `${GROUP_STREAM_PREFIX}${groupId}`;

/** The group a stream belongs to; undefined for a stream that is not a group's. */
export const groupIdOf = (streamId: string): string | undefined =>
  streamId.startsWith(GROUP_STREAM_PREFIX) ? streamId.slice(GROUP_STREAM_PREFIX.length) : undefined;

/** A SQL LIKE pattern that matches every group stream. */
export const GROUP_STREAMS_LIKE = `${GROUP_STREAM_PREFIX}%`;
