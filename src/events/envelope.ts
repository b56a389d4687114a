import { z } from 'zod';
import type { GroupEvent } from './group-events.js';

export const EventMetadata = z.object({
  requestId: z.string().optional(),
  actorUserId: z.string().optional(),
  idempotencyKey: z.string().optional(),
});
export type EventMetadata = z.infer<typeof EventMetadata>;

/** A stored event as the log holds it. */
export type EventEnvelope = GroupEvent & {
  eventId: string;
  streamId: string;
  version: number;
  schemaVersion: number;
  metadata: EventMetadata;
  recordedAt: Date;
  globalPosition: bigint;
};
