import type { TestApp } from './app.js';

/**
 * Balances of a group computed straight from its events, as the app's log (PostgreSQL
 * or KurrentDB) holds them, with a loop: Σ payers − Σ shares over expenses whose latest
 * event is not a delete. Shares no code with the projector, so the tests can hold one
 * against the other.
 */
export async function foldBalances(env: TestApp, groupId: string): Promise<Map<string, bigint>> {
  const rows = (await env.eventsOf(groupId)) as { type: string; data: any; version: number }[];
  const members = new Map<string, bigint>();
  const live = new Map<string, { payers: any[]; shares: any[] }>();
  rows.forEach((row, i) => {
    if (row.version !== i + 1) throw new Error(`gap in stream at version ${i + 1}`);
    if (row.type === 'GroupCreated') for (const m of row.data.members) members.set(m.userId, 0n);
    if (row.type === 'MemberAdded') members.set(row.data.userId, 0n);
    if (row.type === 'ExpenseAdded') live.set(row.data.expenseId, row.data);
    if (row.type === 'ExpenseDeleted') live.delete(row.data.expenseId);
  });
  for (const expense of live.values()) {
    for (const p of expense.payers) members.set(p.userId, (members.get(p.userId) ?? 0n) + BigInt(p.amountMinor));
    for (const s of expense.shares) members.set(s.userId, (members.get(s.userId) ?? 0n) - BigInt(s.amountMinor));
  }
  return members;
}

/** The projection's balances and version for a group, read directly from its tables, and its stream's length in the log. */
export async function projectedBalances(env: TestApp, groupId: string) {
  const { database } = env;
  const { rows } = await database.query<{ user_id: string; balance_minor: string }>(
    'select user_id, balance_minor::text from user_balances where group_id = $1',
    [groupId],
  );
  const version = await database.query<{ version: number }>('select version from groups where group_id = $1', [groupId]);
  return {
    balances: new Map(rows.map((r) => [r.user_id, BigInt(r.balance_minor)])),
    version: version.rows[0]?.version,
    eventCount: (await env.eventsOf(groupId)).length,
  };
}

/** Minor units from an API decimal string, for comparing with folded balances. */
export const toMinor = (decimal: string, digits: number): bigint => {
  const negative = decimal.startsWith('-');
  const [whole = '0', fraction = ''] = decimal.replace('-', '').split('.');
  const value = BigInt(whole + fraction.padEnd(digits, '0'));
  return negative ? -value : value;
};
