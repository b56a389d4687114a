// The floor of this stack: fastify and pg with nothing else. Each route sends exactly
// the statements FairShare's route sends for the same request, with the same SQL text
// (built by FairShare's own statement builders, compiled by kysely without running
// through it) as named prepared statements, and none of the rest: no validation, no
// decider, no projector, no logging. Adding an expense: token lookup, BEGIN, lock and
// load, append and project, COMMIT. Reading balances: the one statement.
import { createHash, randomUUID } from 'node:crypto';
import Fastify from 'fastify';
import { Kysely, PostgresDialect, type CompiledQuery, type RawBuilder } from 'kysely';
import { createPool } from '../src/db/database.js';
import type { Database } from '../src/db/schema.js';
import { streamIdOf, type EventEnvelope } from '../src/events/index.js';
import { allocate } from '../src/money/allocate.js';
import { formatMinor } from '../src/money/decimal.js';
import type { RowChanges } from '../src/projections/projector.js';
import { groupBalancesStatement } from '../src/read-model/group-reads.js';
import { appendAndProjectStatement } from '../src/unit-of-work/append-and-project.js';
import { lockAndLoadStatement, readBeforeTheLock, type LoadedRow } from '../src/unit-of-work/lock-and-load.js';
import { userByTokenStatement } from '../src/users/users.js';

const pool = createPool({ connectionString: process.env.DATABASE_URL as string, max: 20, applicationName: 'fairshare-minimal' });
// Only compiles statements; every statement runs through pg directly.
const compiler = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });

const names = new Map<string, string>();
const prepared = (q: CompiledQuery | RawBuilder<unknown>) => {
  const { sql: text, parameters } = 'compile' in q ? q.compile(compiler) : q;
  let name = names.get(text);
  if (!name) names.set(text, (name = `m_${createHash('sha1').update(text).digest('hex').slice(0, 24)}`));
  return { name, text, values: parameters as unknown[] };
};

const EXPENSE = { description: 'Bench dinner', amountMinor: 1234, paidBy: 'bench-u1' };

const app = Fastify({ logger: false });

app.post<{ Params: { groupId: string } }>('/groups/:groupId/expenses', async (request, reply) => {
  const tokenHash = createHash('sha256')
    .update((request.headers.authorization ?? '').slice('Bearer '.length))
    .digest();
  const user = await pool.query(prepared(userByTokenStatement(compiler, tokenHash).compile()));
  const actor = user.rows[0]?.userId as string;
  const { groupId } = request.params;
  const client = await pool.connect();
  try {
    await client.query('begin');
    // As FairShare does: a load that waited for the lock and read an older snapshot runs once more.
    let loaded: LoadedRow;
    do loaded = (await client.query<LoadedRow>(prepared(lockAndLoadStatement(groupId, { actorUserId: actor })))).rows[0] as LoadedRow;
    while (readBeforeTheLock(loaded));
    const members = loaded.members ?? [];
    const version = loaded.version + 1;
    const expenseId = randomUUID();
    const shares = allocate(
      BigInt(EXPENSE.amountMinor),
      members.map(() => 1n),
    ).map((amount, i) => ({ userId: members[i]?.userId as string, amountMinor: Number(amount) }));
    const payers = [{ userId: EXPENSE.paidBy, amountMinor: EXPENSE.amountMinor }];
    const data = {
      expenseId,
      kind: 'expense' as const,
      description: EXPENSE.description,
      currency: loaded.currency,
      amountMinor: EXPENSE.amountMinor,
      payers,
      shares,
      split: { mode: 'equal' as const, among: members.map((m) => m.userId) },
      occurredAt: loaded.now.toISOString(),
    };
    const event = {
      type: 'ExpenseAdded',
      data,
      eventId: randomUUID(),
      streamId: streamIdOf(groupId),
      version,
      schemaVersion: 1,
      metadata: { requestId: String(request.id), actorUserId: actor },
      recordedAt: loaded.now,
      globalPosition: 0n,
    } as EventEnvelope;
    const balances = members.map((m) => {
      const previous = BigInt(m.balance);
      const paid = m.userId === EXPENSE.paidBy ? BigInt(EXPENSE.amountMinor) : 0n;
      return { userId: m.userId, name: m.name, balance: previous + paid - BigInt(shares.find((s) => s.userId === m.userId)?.amountMinor ?? 0), previous };
    });
    const changes: RowChanges = {
      groupId,
      group: {
        row: {
          name: loaded.name as string,
          currency: loaded.currency,
          version,
          archived: loaded.archived,
          createdAt: loaded.created_at,
          updatedAt: loaded.now,
        },
        expectedVersion: loaded.version,
      },
      newMembers: [],
      changedMembers: [],
      droppedBalances: [],
      balances,
      expenses: [
        {
          expenseId,
          row: { ...data, deleted: false, firstVersion: version, lastVersion: version },
          previousLastVersion: undefined,
        },
      ],
    };
    const statement = appendAndProjectStatement([event], changes, undefined);
    statement.check((await client.query(prepared(statement.query))).rows[0]);
    await client.query('commit');
    return reply.code(201).send({
      version,
      balances: balances.map((b) => ({ userId: b.userId, name: b.name, balance: formatMinor(b.balance, 2) })),
    });
  } catch (error) {
    await client.query('rollback').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
});

app.get<{ Params: { groupId: string } }>('/groups/:groupId/balances', async (request, reply) => {
  const tokenHash = createHash('sha256')
    .update((request.headers.authorization ?? '').slice('Bearer '.length))
    .digest();
  const { rows } = await pool.query<{ name: string; currency: string; version: number; user_id: string; member_name: string; balance_minor: bigint }>(
    prepared(groupBalancesStatement(request.params.groupId, { tokenHash })),
  );
  const first = rows[0];
  if (!first) return reply.code(404).send();
  return {
    groupId: request.params.groupId,
    currency: first.currency,
    version: first.version,
    balances: rows.map((r) => ({ userId: r.user_id, name: r.member_name, balance: formatMinor(r.balance_minor, 2) })),
  };
});

const url = await app.listen({ port: Number(process.env.PORT ?? 0), host: '127.0.0.1' });
process.stdout.write(`listening ${url}\n`);
process.on('SIGTERM', () => void app.close().then(() => pool.end().then(() => process.exit(0))));
