import { z } from 'zod';
import { SplitSpec } from './split.js';

// Event schemas check shape only: every event ever written must stay readable to
// verify, audit, rebuild and /events. Input limits (lengths, counts, the largest
// amount, the id pattern) belong to the command and API schemas, so tightening one
// never makes history unreadable.

/** Minor units: a whole number that is not negative (a safe integer, as zod's int() is). */
const Minor = z.number().int().min(0);
const Allocation = z.array(z.strictObject({ userId: z.string(), amountMinor: Minor }));
const Member = z.strictObject({ userId: z.string(), name: z.string() });

export const GroupCreated = z.strictObject({
  groupId: z.string(),
  name: z.string(),
  currency: z.string(),
  members: z.array(Member),
});
/** `invitedBy`: who brought them in (by invite link, or by adding their user id); absent in events from before it was kept. */
export const MemberAdded = Member.extend({
  invitedBy: z.string().optional(),
  /** A friend without an account (yet), known by the name a member gave; absent: an account's holder. */
  nameOnly: z.boolean().optional(),
});
/**
 * Someone with an account takes a name-only member's place (through an invite link):
 * from here on `nameOnlyId` is `userId` in the group, with the same place, balance and
 * history (every past expense that names the one names the other).
 */
export const MemberClaimed = z.strictObject({ nameOnlyId: z.string(), userId: z.string(), name: z.string(), invitedBy: z.string().optional() });
export const ExpenseAdded = z.strictObject({
  expenseId: z.string(),
  kind: z.enum(['expense', 'payment']),
  description: z.string(),
  currency: z.string(),
  amountMinor: Minor,
  payers: Allocation,
  shares: Allocation,
  split: SplitSpec,
  occurredAt: z.iso.datetime({ offset: true }),
});
export const ExpenseDeleted = z.strictObject({ expenseId: z.string() });
export const GroupRenamed = z.strictObject({ name: z.string() });
/** A member removed by another, or who left (the event's actor is the member). Their past expenses keep their name. */
export const MemberRemoved = z.strictObject({ userId: z.string() });
/** Read-only from here on, still listed; GroupUnarchived opens it again. */
export const GroupArchived = z.strictObject({});
export const GroupUnarchived = z.strictObject({});

export type GroupCreated = z.infer<typeof GroupCreated>;
export type MemberAdded = z.infer<typeof MemberAdded>;
export type MemberClaimed = z.infer<typeof MemberClaimed>;
export type ExpenseAdded = z.infer<typeof ExpenseAdded>;
export type ExpenseDeleted = z.infer<typeof ExpenseDeleted>;
export type GroupRenamed = z.infer<typeof GroupRenamed>;
export type MemberRemoved = z.infer<typeof MemberRemoved>;
export type GroupArchived = z.infer<typeof GroupArchived>;
export type GroupUnarchived = z.infer<typeof GroupUnarchived>;

/** One group stream's events: `{ type, data }`, discriminated by `type`. */
export type GroupEvent =
  | { type: 'GroupCreated'; data: GroupCreated }
  | { type: 'MemberAdded'; data: MemberAdded }
  | { type: 'MemberClaimed'; data: MemberClaimed }
  | { type: 'ExpenseAdded'; data: ExpenseAdded }
  | { type: 'ExpenseDeleted'; data: ExpenseDeleted }
  | { type: 'GroupRenamed'; data: GroupRenamed }
  | { type: 'MemberRemoved'; data: MemberRemoved }
  | { type: 'GroupArchived'; data: GroupArchived }
  | { type: 'GroupUnarchived'; data: GroupUnarchived };
export type GroupEventType = GroupEvent['type'];

/** The schema version new events are written with, per type. */
export const CURRENT_SCHEMA_VERSION: Record<GroupEventType, number> = {
  GroupCreated: 1,
  MemberAdded: 1,
  MemberClaimed: 1,
  ExpenseAdded: 1,
  ExpenseDeleted: 1,
  GroupRenamed: 1,
  MemberRemoved: 1,
  GroupArchived: 1,
  GroupUnarchived: 1,
};

const dataSchemas = {
  GroupCreated,
  MemberAdded,
  MemberClaimed,
  ExpenseAdded,
  ExpenseDeleted,
  GroupRenamed,
  MemberRemoved,
  GroupArchived,
  GroupUnarchived,
} as const;

/**
 * Upcasters lift stored data one schema version up: `upcasters[type][v]` turns a
 * version-v payload into version v+1. Old shapes stay readable forever this way;
 * none exist yet because every type is still at version 1.
 */
const upcasters: Partial<Record<GroupEventType, Record<number, (data: unknown) => unknown>>> = {};

export class UnreadableEventError extends Error {}

/** Reads a stored event into its current shape, upcasting older schema versions. */
export function decodeGroupEvent(type: string, schemaVersion: number, data: unknown): GroupEvent {
  if (!(type in dataSchemas)) throw new UnreadableEventError(`unknown event type ${type}`);
  const eventType = type as GroupEventType;
  const current = CURRENT_SCHEMA_VERSION[eventType];
  if (schemaVersion > current) {
    throw new UnreadableEventError(`${type} v${schemaVersion} is newer than this code (v${current})`);
  }
  let payload = data;
  for (let v = schemaVersion; v < current; v++) {
    const up = upcasters[eventType]?.[v];
    if (!up) throw new UnreadableEventError(`no upcaster for ${type} v${v}`);
    payload = up(payload);
  }
  return { type: eventType, data: dataSchemas[eventType].parse(payload) } as GroupEvent;
}
