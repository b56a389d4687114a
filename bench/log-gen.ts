import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { allocate } from '../src/money/allocate.js';
import { streamIdOf } from '../src/events/index.js';

export const BENCH_MEMBERS = ['bench-u1', 'bench-u2', 'bench-u3', 'bench-u4'];

/**
 * Writes valid group streams straight into the events table with one COPY: a
 * GroupCreated with four members, then expenses split equally, every tenth event
 * deleting the expense before it. Millions of events in seconds, no HTTP; a rebuild
 * then projects them.
 */
export async function copyEvents(url: string, groups: { groupId: string; events: number }[]): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  let written = 0;
  try {
    const rows = (function* () {
      for (const { groupId, events } of groups) {
        const stream = streamIdOf(groupId);
        yield line(stream, 1, 'GroupCreated', {
          groupId,
          name: `Bench ${groupId}`,
          currency: 'EUR',
          members: BENCH_MEMBERS.map((userId) => ({ userId, name: userId })),
        });
        let lastExpense = '';
        for (let version = 2; version <= events; version++) {
          if (version % 10 === 0 && lastExpense) {
            yield line(stream, version, 'ExpenseDeleted', { expenseId: lastExpense });
            lastExpense = '';
            continue;
          }
          const amountMinor = 1_000 + (version % 97);
          const payer = BENCH_MEMBERS[version % BENCH_MEMBERS.length] as string;
          const shares = allocate(
            BigInt(amountMinor),
            BENCH_MEMBERS.map(() => 1n),
          );
          lastExpense = `e${version}`;
          yield line(stream, version, 'ExpenseAdded', {
            expenseId: lastExpense,
            kind: 'expense',
            description: `Bench expense ${version}`,
            currency: 'EUR',
            amountMinor,
            payers: [{ userId: payer, amountMinor }],
            shares: BENCH_MEMBERS.map((userId, i) => ({ userId, amountMinor: Number(shares[i]) })),
            split: { mode: 'equal', among: BENCH_MEMBERS },
            occurredAt: '2026-11-01T12:00:00.000Z',
          });
        }
        written += events;
      }
    })();
    const source = Readable.from(batches(rows, 1_000));
    await pipeline(source, client.query(copyFrom('copy events (stream_id, version, event_id, type, schema_version, data, metadata) from stdin')));
  } finally {
    await client.end();
  }
  return written;
}

function line(stream: string, version: number, type: string, data: unknown): string {
  const json = JSON.stringify(data).replaceAll('\\', '\\\\');
  return `${stream}\t${version}\t${crypto.randomUUID()}\t${type}\t1\t${json}\t{}\n`;
}

function* batches(lines: Iterable<string>, size: number): Generator<string> {
  let chunk: string[] = [];
  for (const l of lines) {
    chunk.push(l);
    if (chunk.length >= size) {
      yield chunk.join('');
      chunk = [];
    }
  }
  if (chunk.length > 0) yield chunk.join('');
}
