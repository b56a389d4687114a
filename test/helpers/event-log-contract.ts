import { randomUUID } from 'node:crypto';
import type { Test } from 'tap';
import { streamIdOf, type EventEnvelope, type GroupEvent } from '../../src/events/index.js';
import { StreamVersionConflict, type EventLog, type PositionedEvent } from '../../src/store/event-log.js';
import { newEnvelopes } from '../../src/store/event-store.js';

/**
 * What every EventLog must do, whichever store is behind it. Run by one test file per
 * implementation; `open` gives a log over an empty store (or one whose other streams
 * the suite ignores: it only looks at streams it made).
 */
export function eventLogContract(t: Test, open: () => Promise<{ log: EventLog; close(): Promise<void> }>): void {
  let log: EventLog;
  let close: () => Promise<void>;
  t.before(async () => {
    ({ log, close } = await open());
  });
  t.teardown(() => close());

  /** A fresh group stream's first events: created, then `expenses` expenses. */
  const newGroup = (expenses = 2) => {
    const groupId = `c-${randomUUID()}`;
    const streamId = streamIdOf(groupId);
    const events: GroupEvent[] = [
      { type: 'GroupCreated', data: { groupId, name: 'Trip — ünï', currency: 'EUR', members: [{ userId: 'u1', name: 'Ann' }] } },
      ...Array.from({ length: expenses }, (_, i) => expenseAdded(`e${i + 1}`, 100 + i)),
    ];
    return { groupId, streamId, envelopes: newEnvelopes(streamId, 0, events, { requestId: 'r1', actorUserId: 'u1' }, new Date('2026-11-25T10:00:00.123Z')) };
  };
  const next = (streamId: string, fromVersion: number, events: GroupEvent[]) =>
    newEnvelopes(streamId, fromVersion, events, { actorUserId: 'u1', idempotencyKey: 'k1' }, new Date('2026-11-25T11:00:00Z'));
  /** What a log must give back of an envelope (the global position is the log's own). */
  const facts = (e: EventEnvelope) => ({
    eventId: e.eventId,
    streamId: e.streamId,
    version: e.version,
    type: e.type,
    schemaVersion: e.schemaVersion,
    data: e.data,
    metadata: e.metadata,
    recordedAt: e.recordedAt.toISOString(),
  });
  /** The whole log, read a page at a time from `after`, only the streams in `streams`. */
  const readEverything = async (streams: Set<string>, after?: PositionedEvent['position']) => {
    const out: PositionedEvent[] = [];
    for (let from = after; ;) {
      const page = await log.readAll({ after: from, limit: 3 });
      out.push(...page.filter((p) => streams.has(p.event.streamId)));
      if (page.length < 3) return out;
      from = (page.at(-1) as PositionedEvent).position;
    }
  };

  t.test('appends a new stream and reads it back exactly', async (t) => {
    const { streamId, envelopes } = newGroup(2);
    const appended = await log.append(streamId, 0, envelopes);
    t.match(appended, { version: 3 });
    t.type(appended.position, 'string');
    const read = await log.readStream(streamId);
    t.same(read.map(facts), envelopes.map(facts));
    t.same(
      (await log.readStream(streamId, { after: 1 })).map((e) => e.version),
      [2, 3],
    );
    t.same(
      (await log.readStream(streamId, { after: 1, limit: 1 })).map((e) => e.version),
      [2],
    );
    t.same(await log.readStream(streamIdOf(`c-${randomUUID()}`)), [], 'a stream never written reads empty');

    const more = next(streamId, 3, [{ type: 'ExpenseDeleted', data: { expenseId: 'e1' } }]);
    t.match(await log.append(streamId, 3, more), { version: 4 });
    t.same((await log.readStream(streamId)).map(facts), [...envelopes, ...more].map(facts));
  });

  t.test('an append at any version but the stream’s own is a conflict and stores nothing', async (t) => {
    const { streamId, envelopes } = newGroup(1);
    await log.append(streamId, 0, envelopes);
    const late = next(streamId, 1, [expenseAdded('x', 5)]);
    const error = await log.append(streamId, 1, late).then(
      () => undefined,
      (e: unknown) => e,
    );
    t.type(error, StreamVersionConflict);
    t.match(error, { streamId, expectedVersion: 1, actualVersion: 2 });
    for (const expected of [0, 3, 7]) {
      await t.rejects(log.append(streamId, expected, next(streamId, expected, [expenseAdded('y', 5)])), { name: 'StreamVersionConflict', actualVersion: 2 });
    }
    const nowhere = streamIdOf(`c-${randomUUID()}`);
    await t.rejects(log.append(nowhere, 1, next(nowhere, 1, [expenseAdded('z', 5)])), { name: 'StreamVersionConflict', actualVersion: 0 });
    t.equal((await log.readStream(streamId)).length, 2);
    t.same(await log.readStream(nowhere), []);
  });

  t.test('re-sending the same events stores them once; other events at that version conflict', async (t) => {
    const { streamId, envelopes } = newGroup(2);
    await log.append(streamId, 0, envelopes);
    t.match(await log.append(streamId, 0, envelopes), { version: 3 });
    const different = newGroup(2).envelopes.map((e) => ({ ...e, streamId }));
    await t.rejects(log.append(streamId, 0, different), { name: 'StreamVersionConflict', actualVersion: 3 });
    t.same(
      (await log.readStream(streamId)).map((e) => e.eventId),
      envelopes.map((e) => e.eventId),
    );
  });

  t.test('concurrent appends at one version: exactly one wins each time', async (t) => {
    const { streamId, envelopes } = newGroup(0);
    await log.append(streamId, 0, envelopes);
    let version = 1;
    for (let round = 0; round < 5; round++) {
      const tries = Array.from({ length: 8 }, (_, i) => log.append(streamId, version, next(streamId, version, [expenseAdded(`r${round}-${i}`, 10 + i)])));
      const results = await Promise.allSettled(tries);
      const won = results.filter((r) => r.status === 'fulfilled');
      t.equal(won.length, 1, `round ${round}: one winner`);
      for (const r of results) if (r.status === 'rejected') t.type(r.reason, StreamVersionConflict);
      version += 1;
    }
    t.same(
      (await log.readStream(streamId)).map((e) => e.version),
      [1, 2, 3, 4, 5, 6],
    );
  });

  t.test('the whole log: every event once, in order, from any position', async (t) => {
    const a = newGroup(2);
    const b = newGroup(1);
    await log.append(a.streamId, 0, a.envelopes);
    await log.append(b.streamId, 0, b.envelopes);
    const tail = next(a.streamId, 3, [{ type: 'ExpenseDeleted', data: { expenseId: 'e2' } }]);
    await log.append(a.streamId, 3, tail);
    const mine = new Set([a.streamId, b.streamId]);
    const all = await readEverything(mine);
    t.same(
      all.map((p) => facts(p.event)),
      [...a.envelopes, ...b.envelopes, ...tail].map(facts),
    );
    t.equal(new Set(all.map((p) => p.position)).size, all.length, 'each event its own position');
    for (let i = 0; i < all.length; i++) {
      const after = await readEverything(mine, all[i]?.position);
      t.same(
        after.map((p) => p.event.eventId),
        all.slice(i + 1).map((p) => p.event.eventId),
        `after event ${i}`,
      );
    }
  });

  t.test('the head is the last event, and positions order along the log', async (t) => {
    const a = newGroup(1);
    await log.append(a.streamId, 0, a.envelopes);
    const mine = await readEverything(new Set([a.streamId]));
    const [first, second] = mine.map((p) => p.position) as [PositionedEvent['position'], PositionedEvent['position']];
    t.equal(await log.head(), second, 'the head is the last event appended');
    t.ok(log.compare(first, second) < 0);
    t.ok(log.compare(second, first) > 0);
    t.equal(log.compare(second, second), 0);
  });

  t.test('positions round-trip as text; `start` reads from the beginning; anything else is not a position', async (t) => {
    const a = newGroup(1);
    await log.append(a.streamId, 0, a.envelopes);
    const mine = new Set([a.streamId]);
    const fromStart = await readEverything(mine, log.start);
    t.same(
      fromStart.map((p) => p.event.eventId),
      (await readEverything(mine)).map((p) => p.event.eventId),
      'after `start` is the whole log',
    );
    t.equal(fromStart.length, 2);
    for (const p of fromStart) t.ok(log.isPosition(p.position), `${p.position} is a position`);
    t.ok(log.isPosition(log.start));
    for (const text of [
      '',
      'x',
      '1',
      '-1.2',
      '-1/2',
      '1.2.3',
      '1/2/3',
      ' 1.2',
      '99999999999999999999999.1',
      '1e3.1',
      '18446744073709551616.1',
      '1.9223372036854775808',
      '18446744073709551616/0',
      '1/2',
    ])
      t.notOk(log.isPosition(text), `${JSON.stringify(text)} is not`);
  });

  t.test('a subscription hands over history, says when it caught up, then follows live appends', async (t) => {
    const a = newGroup(1);
    await log.append(a.streamId, 0, a.envelopes);
    const seen: PositionedEvent[] = [];
    let waiting: { count: number; resolve: () => void } | undefined;
    const subscription = log.subscribe({
      onEvents: async (events) => {
        seen.push(...events.filter((p) => p.event.streamId === a.streamId));
        if (waiting && seen.length >= waiting.count) waiting.resolve();
      },
    });
    const seenCount = (count: number) => (seen.length >= count ? Promise.resolve() : new Promise<void>((resolve) => (waiting = { count, resolve })));
    await subscription.caughtUp;
    t.same(
      seen.map((p) => p.event.eventId),
      a.envelopes.map((e) => e.eventId),
      'history first',
    );
    const live = next(a.streamId, 2, [expenseAdded('live', 7)]);
    await log.append(a.streamId, 2, live);
    await seenCount(3);
    t.same(seen.at(-1)?.event.eventId, live[0]?.eventId, 'then the live append');
    await subscription.close();
    await subscription.done;

    // From a position: only what came after it.
    const from = seen[0]?.position;
    const later: string[] = [];
    const resumed = log.subscribe({
      after: from,
      onEvents: async (events) => {
        later.push(...events.filter((p) => p.event.streamId === a.streamId).map((p) => p.event.eventId));
      },
    });
    await resumed.caughtUp;
    t.same(later, [a.envelopes[1]?.eventId, live[0]?.eventId]);
    await resumed.close();
  });

  t.test('a failing subscriber ends its subscription with the error', async (t) => {
    const a = newGroup(0);
    await log.append(a.streamId, 0, a.envelopes);
    const subscription = log.subscribe({
      onEvents: async () => {
        throw new Error('the subscriber broke');
      },
    });
    await t.rejects(subscription.done, /the subscriber broke/);
    await subscription.close();
  });
}

function expenseAdded(expenseId: string, amountMinor: number): GroupEvent {
  return {
    type: 'ExpenseAdded',
    data: {
      expenseId,
      kind: 'expense',
      description: `Item ${expenseId} "quoted"\ttab`,
      currency: 'EUR',
      amountMinor,
      payers: [{ userId: 'u1', amountMinor }],
      shares: [{ userId: 'u1', amountMinor }],
      split: { mode: 'equal' },
      occurredAt: '2026-11-25T10:00:00.000Z',
    },
  };
}
