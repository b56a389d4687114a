import type { ColumnType, Generated } from 'kysely';

type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;
type Int8 = ColumnType<bigint, bigint | number | string, bigint | number | string>;

export interface EventsTable {
  global_position: ColumnType<bigint, never, never>;
  transaction_id: ColumnType<string, never, never>;
  stream_id: string;
  version: number;
  event_id: string;
  type: string;
  schema_version: number;
  data: ColumnType<unknown, string, never>;
  metadata: ColumnType<unknown, string, never>;
  recorded_at: ColumnType<Date, never, never>;
}

export interface UsersTable {
  user_id: string;
  name: string;
  created_at: Generated<Date>;
}

/** A signed-in device (a bearer token) or a saved sign-in key (signs a new device in; never a bearer token). */
export type DeviceKind = 'device' | 'key';

export interface DevicesTable {
  device_id: Generated<string>;
  user_id: string;
  /** SHA-256 of the device's token or the key. */
  token_hash: Buffer;
  kind: ColumnType<DeviceKind, DeviceKind | undefined, never>;
  name: string;
  created_at: Generated<Date>;
  /** Moved forward at most once a minute (see src/users/devices.ts). */
  last_used_at: ColumnType<Date, Date | undefined, Date | string>;
}

export interface SignInCodesTable {
  /** SHA-256 of the code as normalised (see src/users/sign-in-codes.ts). */
  code_hash: Buffer;
  user_id: string;
  /** The device that made it: the code dies with it. */
  device_id: string;
  created_at: Generated<Date>;
  expires_at: ColumnType<Date, Date | string, never>;
}

export interface GroupsTable {
  group_id: string;
  name: string;
  currency: string;
  version: number;
  /** How many times a rebuild has rewritten this group's rows; part of its ETag. */
  projection_epoch: ColumnType<number, number | undefined, number>;
  /** Read-only while true (GroupArchived). */
  archived: ColumnType<boolean, boolean | undefined, boolean>;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface GroupMembersTable {
  group_id: string;
  user_id: string;
  name: string;
  /** 0-based order of joining; equal splits without `among` follow it. */
  position: number;
  joined_version: number;
  /** The version that took them out (MemberRemoved); null while a member. */
  removed_version: ColumnType<number | null, number | null | undefined, number | null>;
  /** A friend known only by a name (no account); false once claimed. */
  name_only: ColumnType<boolean, boolean | undefined, boolean>;
  /** The name-only id whose place this account claimed; null otherwise. */
  claimed_from: ColumnType<string | null, string | null | undefined, string | null>;
}

export interface UserBalancesTable {
  group_id: string;
  user_id: string;
  balance_minor: Int8;
}

export interface ExpensesTable {
  group_id: string;
  expense_id: string;
  kind: 'expense' | 'payment';
  description: string;
  currency: string;
  amount_minor: Int8;
  payers: ColumnType<Allocation, string, string>;
  shares: ColumnType<Allocation, string, string>;
  split: ColumnType<unknown, string, string>;
  occurred_at: Timestamp;
  deleted: boolean;
  first_version: number;
  last_version: number;
}

export type Allocation = { userId: string; amountMinor: number }[];

export interface IdempotencyKeysTable {
  actor_user_id: string;
  key: string;
  request_hash: string;
  /** Keys stored before outcomes were: the HTTP status and body they were answered with. */
  status: number | null;
  response: ColumnType<unknown, string | null, never>;
  /** The command's outcome (see unit-of-work), JSON. */
  outcome: ColumnType<unknown, string | null, never>;
  created_at: Generated<Date>;
}

export interface ProjectionChangesTable {
  transaction_id: ColumnType<string, never, never>;
  position: ColumnType<bigint, never, never>;
  group_id: string;
  version: number;
  /** A rebuild's repair at the same version (true), or a new version projected from an external event log (false). */
  rebuilt: boolean;
  recorded_at: ColumnType<Date, never, never>;
}

export interface LogCheckpointsTable {
  name: string;
  position: string;
  updated_at: ColumnType<Date, Date | undefined, Date>;
}

export interface InvitesTable {
  invite_id: string;
  group_id: string;
  token_hash: Buffer;
  created_by: string;
  created_at: Generated<Date>;
  expires_at: Date;
  revoked_at: Date | null;
  /** The name-only member whose place the link is for; null: a link to join as oneself. */
  name_only_id: ColumnType<string | null, string | null | undefined, string | null>;
}

export interface Database {
  events: EventsTable;
  users: UsersTable;
  devices: DevicesTable;
  sign_in_codes: SignInCodesTable;
  groups: GroupsTable;
  group_members: GroupMembersTable;
  user_balances: UserBalancesTable;
  expenses: ExpensesTable;
  idempotency_keys: IdempotencyKeysTable;
  projection_changes: ProjectionChangesTable;
  log_checkpoints: LogCheckpointsTable;
  invites: InvitesTable;
}
