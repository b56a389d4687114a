/** The FairShare HTTP API as the page uses it: JSON in, JSON or problem+json out. */

export interface FieldError {
  path: string;
  message: string;
}

export interface Problem {
  status: number;
  code: string;
  detail: string;
  errors?: FieldError[];
}

export class ApiError extends Error {
  constructor(readonly problem: Problem) {
    super(problem.detail);
  }
}

export interface Balance {
  userId: string;
  name: string;
  /** Decimal string in the group currency, e.g. "-12.34". */
  balance: string;
}

export interface BalancesView {
  groupId: string;
  currency: string;
  version: number;
  balances: Balance[];
}

export interface Allocation {
  userId: string;
  amount: string;
}

export type SplitSpec =
  | { mode: 'equal'; among?: string[] }
  | { mode: 'exact'; shares: { userId: string; amount: string }[] }
  | { mode: 'percent'; shares: { userId: string; percent: string }[] }
  | { mode: 'shares'; shares: { userId: string; weight: number }[] };

export interface ExpenseInput {
  /** Made by the page for a new expense, so sending it twice records it once. */
  expenseId?: string;
  kind?: 'expense' | 'payment';
  description: string;
  amount: string;
  paidBy?: string;
  payers?: Allocation[];
  split: SplitSpec;
  /** When it happened (ISO 8601); absent: now, or as it was for an edit. */
  occurredAt?: string;
}

export interface Expense {
  expenseId: string;
  kind: 'expense' | 'payment';
  description: string;
  currency: string;
  amount: string;
  payers: Allocation[];
  shares: Allocation[];
  split: SplitSpec;
  occurredAt: string;
  deleted: boolean;
  version: number;
}

/** One event of a group's log, as stored: amounts in `data` are integer minor units. */
export interface LogEvent {
  version: number;
  type: string;
  /** The fields of every type the page reads (each type has some of them). */
  data: {
    name?: string;
    currency?: string;
    members?: { userId: string; name: string }[];
    userId?: string;
    invitedBy?: string;
    nameOnly?: boolean;
    nameOnlyId?: string;
    expenseId?: string;
    kind?: 'expense' | 'payment';
    description?: string;
    amountMinor?: number;
    payers?: { userId: string; amountMinor: number }[];
    shares?: { userId: string; amountMinor: number }[];
  };
  metadata: { actorUserId?: string; requestId?: string };
  recordedAt: string;
}

export interface Group {
  groupId: string;
  name: string;
  currency: string;
  version: number;
  /** Read-only while archived. */
  archived: boolean;
  /** `nameOnly`: a friend without an account, known by the name a member gave (they claim the place through an invite link). */
  members: { userId: string; name: string; nameOnly?: boolean }[];
  /** Who left or was removed: their names stay on old expenses. */
  formerMembers: { userId: string; name: string; nameOnly?: boolean }[];
}

export interface Me {
  userId: string;
  name: string;
  groups: { groupId: string; name: string; currency: string; version: number; archived: boolean; balance: string }[];
  /** The balance summed over the groups, per currency. */
  totals: { currency: string; balance: string }[];
}

export interface WriteResult {
  version: number;
  balances: Balance[];
  expense?: Expense;
}

export interface InviteLink {
  inviteId: string;
  createdBy: { userId: string; name: string };
  createdAt: string;
  expiresAt: string;
  /** Only when it was just made: it is never shown again. */
  token?: string;
  /** The name-only member whose place it gives; null: join as yourself. */
  place: InvitePlace | null;
}

export interface InviteView {
  groupId: string;
  groupName: string;
  archived: boolean;
  invitedBy: { userId: string; name: string };
  expiresAt: string;
  /** The name-only member whose place the link gives (taken: claimed already, or removed); null: join as yourself. */
  place: InvitePlace | null;
}

export interface InvitePlace {
  userId: string;
  name: string;
  taken: boolean;
}

export interface Transfer {
  from: string;
  to: string;
  amount: string;
}

export interface DeviceView {
  deviceId: string;
  /** `key`: a saved sign-in key, which only signs new devices in. */
  kind: 'device' | 'key';
  name: string;
  createdAt: string;
  lastUsedAt: string;
  /** The device this page runs on. */
  current: boolean;
}

/** A device just signed in: its bearer token is shown only this once. */
export interface SignedIn {
  userId: string;
  name: string;
  deviceId: string;
  token: string;
}

/** A Splitwise CSV file read against the group: each column's member and each row as it would be recorded. */
export interface ImportPreview {
  version: number;
  columns: { column: number; name: string; userId: string | null }[];
  members: { userId: string; name: string }[];
  rows: {
    line: number;
    date: string;
    description: string;
    category: string;
    kind: 'expense' | 'payment' | null;
    amount: string | null;
    payers: Allocation[];
    shares: Allocation[];
    status: 'new' | 'present' | 'skipped' | 'problem';
    problems: string[];
  }[];
  toImport: number;
  problems: number;
  totalsAgree: boolean | null;
}

export interface ImportRequest {
  csv: string;
  mapping?: { column: number; userId: string | null }[];
}

export class Api {
  /** `onSignedOut`: a request sent with the token was refused as unauthenticated (the device was revoked). */
  constructor(
    readonly token: string | null,
    private readonly onSignedOut?: () => void,
  ) {}

  /** Says the token no longer works (as a 401 does), e.g. when the live stream is refused. */
  signedOut(): void {
    this.onSignedOut?.();
  }

  async request<T>(method: string, path: string, body?: unknown, idempotencyKey?: string): Promise<T> {
    const headers: Record<string, string> = {};
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    if (idempotencyKey) headers['idempotency-key'] = idempotencyKey;
    if (body !== undefined) headers['content-type'] = 'application/json';
    let res: Response;
    try {
      res = await fetch(path, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
    } catch {
      throw new ApiError({ status: 0, code: 'OFFLINE', detail: 'The server cannot be reached. Check your connection and try again.' });
    }
    const text = await res.text();
    const json = text ? (JSON.parse(text) as unknown) : undefined;
    if (!res.ok) {
      if (res.status === 401 && this.token) this.onSignedOut?.();
      const problem = json as Partial<Problem> | undefined;
      throw new ApiError({
        status: res.status,
        code: problem?.code ?? 'ERROR',
        detail: problem?.detail ?? res.statusText,
        ...(problem?.errors ? { errors: problem.errors } : {}),
      });
    }
    return json as T;
  }

  signUp = (name: string, deviceName: string) => this.request<SignedIn>('POST', '/users', { name, deviceName });
  /** Signs this device in with a one-time code or a saved sign-in key. */
  signIn = (with_: { code: string } | { key: string }, deviceName: string) => this.request<SignedIn>('POST', '/sign-in', { ...with_, deviceName });
  devices = () => this.request<{ devices: DeviceView[] }>('GET', '/me/devices');
  renameDevice = (deviceId: string, name: string) => this.request<DeviceView>('PATCH', `/me/devices/${enc(deviceId)}`, { name });
  revokeDevice = (deviceId: string) => this.request<null>('DELETE', `/me/devices/${enc(deviceId)}`);
  signInCode = () => this.request<{ code: string; expiresAt: string }>('POST', '/me/sign-in-codes', {});
  signInKey = (name: string) => this.request<Omit<DeviceView, 'current'> & { key: string }>('POST', '/me/sign-in-keys', { name });
  me = () => this.request<Me>('GET', '/me');
  user = (userId: string) => this.request<{ userId: string; name: string }>('GET', `/users/${enc(userId)}`);
  createGroup = (input: { name: string; currency: string }, key: string) => this.request<Group>('POST', '/groups', input, key);
  group = (g: string) => this.request<Group>('GET', `/groups/${enc(g)}`);
  addMember = (g: string, userId: string, key: string) => this.request<Group>('POST', `/groups/${enc(g)}/members`, { userId }, key);
  updateGroup = (g: string, change: { name?: string; archived?: boolean }, key: string) => this.request<Group>('PATCH', `/groups/${enc(g)}`, change, key);
  invites = (g: string) => this.request<{ items: InviteLink[] }>('GET', `/groups/${enc(g)}/invites`);
  /** A link to join; with `forMember` (a name-only member's id) a link that takes that place. */
  createInvite = (g: string, key: string, forMember?: string) =>
    this.request<InviteLink>('POST', `/groups/${enc(g)}/invites`, forMember === undefined ? {} : { forMember }, key);
  revokeInvite = (g: string, inviteId: string) => this.request<null>('DELETE', `/groups/${enc(g)}/invites/${enc(inviteId)}`);
  invite = (token: string) => this.request<InviteView>('GET', `/invites/${enc(token)}`);
  /** Joins; a link made for a name-only member's place takes that place, its balance and history. */
  acceptInvite = (token: string, key: string) => this.request<Group>('POST', `/invites/${enc(token)}/accept`, undefined, key);
  /** Adds a friend who has no account, by name. */
  addByName = (g: string, name: string, key: string) => this.request<Group>('POST', `/groups/${enc(g)}/members`, { name }, key);
  /** Removes a member; your own user id: leave the group. */
  removeMember = (g: string, userId: string, key: string) => this.request<Group>('DELETE', `/groups/${enc(g)}/members/${enc(userId)}`, undefined, key);
  balances = (g: string) => this.request<BalancesView>('GET', `/groups/${enc(g)}/balances`);
  settlements = (g: string) => this.request<{ version: number; transfers: Transfer[] }>('GET', `/groups/${enc(g)}/settlements`);
  /** A page of expenses, deleted ones included, newest first; `q` searches descriptions, `member` keeps what they paid or share. */
  expenses = (g: string, options: { q?: string; member?: string; cursor?: string; limit?: number } = {}) => {
    const query = new URLSearchParams({ includeDeleted: 'true', limit: String(options.limit ?? 200) });
    if (options.q) query.set('q', options.q);
    if (options.member) query.set('member', options.member);
    if (options.cursor) query.set('cursor', options.cursor);
    return this.request<{ items: Expense[]; nextCursor: string | null }>('GET', `/groups/${enc(g)}/expenses?${query}`);
  };
  /** One expense as it stands now, deleted or not. */
  expense = (g: string, e: string) => this.request<Expense>('GET', `/groups/${enc(g)}/expenses/${enc(e)}`);
  /** The group's event log from version `after` + 1, at most `limit` events, in version order. */
  events = (g: string, after: number, limit: number) =>
    this.request<{ items: LogEvent[]; nextAfter: number }>('GET', `/groups/${enc(g)}/events?after=${after}&limit=${limit}`);
  preview = (g: string, input: ExpenseInput) =>
    this.request<{ expense: Omit<Expense, 'expenseId' | 'occurredAt' | 'deleted' | 'version'>; version: number }>(
      'POST',
      `/groups/${enc(g)}/expenses/preview`,
      input,
    );
  addExpense = (g: string, input: ExpenseInput, key: string) => this.request<WriteResult>('POST', `/groups/${enc(g)}/expenses`, input, key);
  editExpense = (g: string, e: string, input: ExpenseInput, key: string) =>
    this.request<WriteResult>('PUT', `/groups/${enc(g)}/expenses/${enc(e)}`, input, key);
  deleteExpense = (g: string, e: string, key: string) => this.request<WriteResult>('DELETE', `/groups/${enc(g)}/expenses/${enc(e)}`, undefined, key);
  importPreview = (g: string, body: ImportRequest) => this.request<ImportPreview>('POST', `/groups/${enc(g)}/import/preview`, body);
  importCsv = (g: string, body: ImportRequest) =>
    this.request<{ imported: number; alreadyPresent: number; skipped: number; version: number; balances: Balance[] }>('POST', `/groups/${enc(g)}/import`, body);

  /** The group as a Splitwise-format CSV file, and the file name the server gives it (a fetch: the token goes in a header, never in a link). */
  async exportCsv(g: string): Promise<{ name: string; text: string }> {
    let res: Response;
    try {
      res = await fetch(`/groups/${enc(g)}/export.csv`, { headers: this.token ? { authorization: `Bearer ${this.token}` } : {} });
    } catch {
      throw new ApiError({ status: 0, code: 'OFFLINE', detail: 'The server cannot be reached. Check your connection and try again.' });
    }
    if (!res.ok) {
      if (res.status === 401 && this.token) this.onSignedOut?.();
      const problem = (await res.json().catch(() => undefined)) as Partial<Problem> | undefined;
      throw new ApiError({ status: res.status, code: problem?.code ?? 'ERROR', detail: problem?.detail ?? res.statusText });
    }
    const name = /filename="([^"]+)"/.exec(res.headers.get('content-disposition') ?? '')?.[1] ?? 'fairshare.csv';
    return { name, text: await res.text() };
  }
}

const enc = encodeURIComponent;
