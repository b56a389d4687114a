// The peer a TypeScript user would pick instead: Emmett's PostgreSQL event store, used
// the way its documentation shows, for the same add-expense workload. fastify route →
// the bearer token looked up in FairShare's devices and users (the same work FairShare does)
// → Emmett's CommandHandler (reads the group's stream, evolves the state, decides,
// appends with the expected version) with an inline Pongo projection keeping every
// member's balance in the same transaction → 201 with the version and the balances.
// A bench dependency only; FairShare never loads Emmett.
import { createHash, randomUUID } from 'node:crypto';
import { CommandHandler, type Event } from '@event-driven-io/emmett';
import { getPostgreSQLEventStore, pongoSingleStreamProjection } from '@event-driven-io/emmett-postgresql';
import Fastify from 'fastify';
import pg from 'pg';
import { allocate } from '../src/money/allocate.js';
import { formatMinor } from '../src/money/decimal.js';

type GroupCreated = Event<'GroupCreated', { groupId: string; members: string[] }>;
type ExpenseAdded = Event<
  'ExpenseAdded',
  {
    groupId: string;
    expenseId: string;
    amountMinor: number;
    payers: { userId: string; amountMinor: number }[];
    shares: { userId: string; amountMinor: number }[];
  }
>;
type GroupEvent = GroupCreated | ExpenseAdded;

interface Group {
  members: string[];
  balances: Record<string, number>;
}

const evolve = (state: Group, event: GroupEvent): Group => {
  switch (event.type) {
    case 'GroupCreated':
      return { members: event.data.members, balances: Object.fromEntries(event.data.members.map((m) => [m, 0])) };
    case 'ExpenseAdded': {
      const balances = { ...state.balances };
      for (const p of event.data.payers) balances[p.userId] = (balances[p.userId] ?? 0) + p.amountMinor;
      for (const s of event.data.shares) balances[s.userId] = (balances[s.userId] ?? 0) - s.amountMinor;
      return { ...state, balances };
    }
  }
};
const initialState = (): Group => ({ members: [], balances: {} });
// Concurrent commands on one group conflict on the expected version; Emmett retries them.
const handle = CommandHandler({ evolve, initialState, retry: { onVersionConflict: 20 } });

type BalancesDocument = {
  _id?: string;
  balances: Record<string, number>;
};

const balancesProjection = pongoSingleStreamProjection<BalancesDocument, GroupEvent>({
  collectionName: 'bench_balances',
  canHandle: ['GroupCreated', 'ExpenseAdded'],
  getDocumentId: (event) => event.data.groupId,
  evolve: (document: BalancesDocument | null, event: GroupEvent): BalancesDocument => {
    const balances = { ...(document?.balances ?? {}) };
    if (event.type === 'GroupCreated') for (const m of event.data.members) balances[m] = 0;
    else {
      for (const p of event.data.payers) balances[p.userId] = (balances[p.userId] ?? 0) + p.amountMinor;
      for (const s of event.data.shares) balances[s.userId] = (balances[s.userId] ?? 0) - s.amountMinor;
    }
    return { balances };
  },
});

const url = process.env.DATABASE_URL as string;
const eventStore = getPostgreSQLEventStore(url, { projections: [{ type: 'inline', projection: balancesProjection }] as never });
const users = new pg.Pool({ connectionString: url, max: 20, application_name: 'emmett-bench' });
const streamOf = (groupId: string) => `group-${groupId}`;

const app = Fastify({ logger: false });

// The bench creates each group's stream once before it measures.
app.post<{ Body: { groupId: string; members: string[] } }>('/groups', async (request, reply) => {
  const { groupId, members } = request.body;
  await handle(eventStore, streamOf(groupId), () => [{ type: 'GroupCreated', data: { groupId, members } }]);
  return reply.code(201).send({ groupId });
});

app.post<{ Params: { groupId: string } }>('/groups/:groupId/expenses', async (request, reply) => {
  const tokenHash = createHash('sha256')
    .update((request.headers.authorization ?? '').slice('Bearer '.length))
    .digest();
  const user = await users.query("select u.user_id from devices d join users u on u.user_id = d.user_id where d.token_hash = $1 and d.kind = 'device'", [
    tokenHash,
  ]);
  const payer = user.rows[0]?.user_id as string | undefined;
  if (!payer) return reply.code(401).send();
  const { groupId } = request.params;
  const amountMinor = 1234;
  const result = await handle(eventStore, streamOf(groupId), (state) => {
    const shares = allocate(
      BigInt(amountMinor),
      state.members.map(() => 1n),
    ).map((amount, i) => ({ userId: state.members[i] as string, amountMinor: Number(amount) }));
    return [{ type: 'ExpenseAdded', data: { groupId, expenseId: randomUUID(), amountMinor, payers: [{ userId: payer, amountMinor }], shares } }];
  });
  return reply.code(201).send({
    version: Number(result.nextExpectedStreamVersion),
    balances: result.newState.members.map((userId) => ({ userId, balance: formatMinor(BigInt(result.newState.balances[userId] ?? 0), 2) })),
  });
});

const listening = await app.listen({ port: Number(process.env.PORT ?? 0), host: '127.0.0.1' });
process.stdout.write(`listening ${listening}\n`);
process.on('SIGTERM', () => void app.close().then(() => Promise.all([users.end(), eventStore.close()]).then(() => process.exit(0))));
