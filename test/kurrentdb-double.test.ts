import { once } from 'node:events';
import { randomUUID } from 'node:crypto';
import t, { type Test } from 'tap';
import {
  BACKWARDS,
  END,
  KurrentDBClient,
  START,
  StreamNotFoundError,
  UnavailableError,
  WrongExpectedVersionError,
  binaryEvent,
  eventTypeFilter,
  jsonEvent,
  streamNameFilter,
  type AppendResult,
  type AppendStreamState,
  type AllStreamResolvedEvent,
  type AllStreamSubscription,
  type CatchupSubscription,
  type CaughtUp,
  type EventData,
  type Position,
  type StreamSubscription,
  type ResolvedEvent,
} from '@kurrent/kurrentdb-client';
import { startKurrentDbDouble, type KurrentDbDouble, type KurrentDbDoubleOptions } from './helpers/kurrentdb-double.js';

// The real @kurrent/kurrentdb-client (and its Rust bridge for reads) against the KurrentDB test
// double, over real gRPC. Appends go through BatchAppend unless the call carries credentials
// (then Append); reads go through the bridge; subscriptions through the client's own gRPC.

const BATCH_APPEND = '/event_store.client.streams.Streams/BatchAppend';
const APPEND = '/event_store.client.streams.Streams/Append';
// Credentials make the client append through Append; on tls=false they are not sent.
const credentials = { username: 'admin', password: 'changeit' };
const appendPaths = [
  { path: 'BatchAppend', options: {} },
  { path: 'Append', options: { credentials } },
] as const;

async function connect(t: Test, options?: KurrentDbDoubleOptions): Promise<{ double: KurrentDbDouble; client: KurrentDBClient }> {
  const double = await startKurrentDbDouble(options);
  const client = KurrentDBClient.connectionString(double.url);
  t.teardown(async () => {
    await client.dispose();
    await double.close();
  });
  return { double, client };
}

const event = (type: string, data: Record<string, unknown> = {}) => jsonEvent({ id: randomUUID(), type, data });

async function collect<E>(iterable: AsyncIterable<E>): Promise<E[]> {
  const items: E[] = [];
  for await (const item of iterable) items.push(item);
  return items;
}

const revisions = (events: readonly ResolvedEvent[]) => events.map((e) => e.event?.revision);
const types = (events: readonly ResolvedEvent[]) => events.map((e) => e.event?.type);
const streamIds = (events: readonly ResolvedEvent[]) => events.map((e) => e.event?.streamId);

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

async function within<T>(promise: Promise<T>, what: string, ms = 5000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

type Entry = { kind: 'event'; streamId: string; type: string } | { kind: 'checkpoint'; position: Position } | { kind: 'caughtUp'; info: CaughtUp };

// Follows a subscription and keeps what it saw, in order: events, checkpoints, caught-up.
function follow(subscription: (AllStreamSubscription | StreamSubscription) & CatchupSubscription, log: Entry[] = []) {
  const waiting = new Set<() => void>();
  const seen = (entry: Entry) => {
    log.push(entry);
    for (const wake of waiting) wake();
    waiting.clear();
  };
  subscription.on('data', (resolved: ResolvedEvent | AllStreamResolvedEvent) => {
    seen({ kind: 'event', streamId: resolved.event?.streamId ?? '', type: resolved.event?.type ?? '' });
  });
  subscription.on('caughtUp', (info: CaughtUp) => seen({ kind: 'caughtUp', info }));
  const failed = once(subscription, 'error');
  failed.catch(() => undefined);
  return {
    log,
    async until(what: string, done: () => boolean): Promise<void> {
      await within(
        (async () => {
          while (!done()) await new Promise<void>((wake) => waiting.add(wake));
        })(),
        what,
      );
    },
    caughtUp: () => log.some((entry) => entry.kind === 'caughtUp'),
    events: () => log.filter((entry) => entry.kind === 'event'),
    error: async (): Promise<unknown> => (await within(failed, 'the subscription to fail'))[0],
  };
}

t.test('appends through BatchAppend and reads the stream back forwards, backwards and from a revision', async (t) => {
  const { double, client } = await connect(t);
  const sent = [event('Opened', { n: 1 }), event('Named', { n: 2 }), event('Closed', { n: 3 })];

  const result = await client.appendToStream('group-a', sent, { streamState: 'no_stream' });

  t.equal(result.nextExpectedRevision, 2n);
  t.same(result.position, double.all().at(-1)?.position, 'the result carries the position of the last event');
  t.ok(double.rpcs().includes(BATCH_APPEND), 'the client appended through BatchAppend');
  t.notOk(double.rpcs().includes(APPEND));

  const forwards = await collect(client.readStream('group-a'));
  t.same(revisions(forwards), [0n, 1n, 2n]);
  t.same(
    forwards.map((e) => e.event?.id),
    sent.map((e) => e.id),
  );
  t.same(
    forwards.map((e) => e.event?.data),
    [{ n: 1 }, { n: 2 }, { n: 3 }],
  );
  t.same(types(await collect(client.readStream('group-a', { direction: BACKWARDS, fromRevision: END }))), ['Closed', 'Named', 'Opened']);
  t.same(revisions(await collect(client.readStream('group-a', { fromRevision: 1n }))), [1n, 2n]);
  t.same(revisions(await collect(client.readStream('group-a', { direction: BACKWARDS, fromRevision: 1n }))), [1n, 0n]);
  t.same(revisions(await collect(client.readStream('group-a', { fromRevision: 1n, maxCount: 1 }))), [1n]);
});

t.test('joins the batches of one BatchAppend write until the one marked final', async (t) => {
  const { double, client } = await connect(t);
  await client.appendToStream('group-a', event('Opened'));
  const sent = [event('A', { pad: 'x'.repeat(40) }), event('B', { pad: 'y'.repeat(40) }), event('C', { pad: 'z'.repeat(40) })];

  // A batch size below one event's size makes the client send every event in its own message.
  const result = await client.appendToStream('group-a', sent, { streamState: 0n, batchAppendSize: 64 });

  t.equal(result.nextExpectedRevision, 3n);
  t.same(
    double.stream('group-a').map((e) => e.id),
    [double.stream('group-a')[0]?.id, ...sent.map((e) => e.id)],
  );
});

t.test('appends through Append when the call carries credentials or BatchAppend is not advertised', async (t) => {
  const withCredentials = await connect(t);
  await withCredentials.client.appendToStream('group-a', event('Opened'), { credentials });
  t.ok(withCredentials.double.rpcs().includes(APPEND));
  t.notOk(withCredentials.double.rpcs().includes(BATCH_APPEND));

  const withoutBatchAppend = await connect(t, { advertiseBatchAppend: false });
  const result = await withoutBatchAppend.client.appendToStream('group-a', [event('Opened'), event('Named')]);
  t.equal(result.nextExpectedRevision, 1n);
  t.ok(withoutBatchAppend.double.rpcs().includes(APPEND));
  t.notOk(withoutBatchAppend.double.rpcs().includes(BATCH_APPEND));
  t.same(types(await collect(withoutBatchAppend.client.readStream('group-a'))), ['Opened', 'Named']);
});

t.test('keeps payloads as sent: JSON and binary data, custom metadata, ids, created time', async (t) => {
  const created = new Date('2024-05-06T07:08:09.123Z');
  const { double, client } = await connect(t, { clock: () => created });
  const id = randomUUID();
  await client.appendToStream('group-a', [
    jsonEvent({ id, type: 'Opened', data: { name: 'trip' }, metadata: { causationId: 'c-1' } }),
    binaryEvent({ type: 'Scanned', data: new Uint8Array([0, 1, 254, 255]), metadata: new Uint8Array([7]) }),
  ]);

  const [json, binary] = await collect(client.readStream('group-a'));
  t.equal(json?.event?.id, id);
  t.equal(json?.event?.isJson, true);
  t.same(json?.event?.metadata, { causationId: 'c-1' });
  t.equal(binary?.event?.isJson, false);
  t.same(binary?.event?.data, new Uint8Array([0, 1, 254, 255]));
  t.same(binary?.event?.metadata, new Uint8Array([7]));
  t.equal(double.stream('group-a')[0]?.created, BigInt(created.getTime()) * 10_000n, 'created is stored in .NET ticks since the epoch');
  // The bridge (reads) keeps whole seconds of `created`; subscriptions keep milliseconds.
  t.equal(Math.floor((json?.event?.created.getTime() ?? 0) / 1000), Math.floor(created.getTime() / 1000));
  const subscription = client.subscribeToAll({ fromPosition: START });
  t.teardown(() => subscription.unsubscribe());
  const followed = follow(subscription);
  await followed.until('the history', () => followed.caughtUp());
  const [first] = await collect(client.readAll({ maxCount: 1 }));
  t.equal(first?.event?.id, id);
  const live = [] as ResolvedEvent[];
  subscription.on('data', (resolved: ResolvedEvent) => live.push(resolved));
  await client.appendToStream('group-b', jsonEvent({ type: 'Opened', data: {} }));
  await followed.until('the live event', () => live.length === 1);
  t.equal(live[0]?.event?.created.getTime(), created.getTime());
});

t.test('a wrong expected version is a WrongExpectedVersionError carrying the expected and the actual state', async (t) => {
  for (const { path, options } of appendPaths) {
    const { client } = await connect(t);
    await client.appendToStream('group-a', [event('Opened'), event('Named')], options);
    const cases: { streamName: string; streamState: AppendStreamState; actual: bigint | 'no_stream' }[] = [
      { streamName: 'group-a', streamState: 5n, actual: 1n },
      { streamName: 'group-a', streamState: 0n, actual: 1n },
      { streamName: 'group-a', streamState: 'no_stream', actual: 1n },
      { streamName: 'group-b', streamState: 'stream_exists', actual: 'no_stream' },
      { streamName: 'group-b', streamState: 0n, actual: 'no_stream' },
    ];
    for (const { streamName, streamState, actual } of cases) {
      const error = await rejection(client.appendToStream(streamName, event('Closed'), { ...options, streamState }));
      t.type(error, WrongExpectedVersionError, `${path}, ${String(streamState)}`);
      if (!(error instanceof WrongExpectedVersionError)) continue;
      t.equal(error.streamName, streamName);
      t.equal(error.expectedState, streamState, `${path}: expected ${String(streamState)}`);
      t.equal(error.actualState, actual, `${path}: actual ${String(actual)}`);
    }
    t.same(revisions(await collect(client.readStream('group-a'))), [0n, 1n], `${path}: nothing was written`);
  }
});

t.test('re-sending an append with the same event ids is idempotent: same revision and position, stored once', async (t) => {
  for (const { path, options } of appendPaths) {
    const { double, client } = await connect(t);
    const batch = [event('Opened'), event('Named')];
    const first = await client.appendToStream('group-a', batch, { ...options, streamState: 'no_stream' });
    await client.appendToStream('group-a', event('Closed'), options);

    const again = await client.appendToStream('group-a', batch, { ...options, streamState: 'no_stream' });

    t.same(again, first, `${path}: the original revision and position`);
    t.equal(double.stream('group-a').length, 3, `${path}: nothing stored twice`);
    t.equal(double.all().length, 3);
    const reordered = await rejection(client.appendToStream('group-a', [batch[1], batch[0]] as EventData[], { ...options, streamState: 'no_stream' }));
    t.type(reordered, WrongExpectedVersionError, `${path}: ids that do not match the stored ones in order are a conflict`);
    const anyState = await client.appendToStream('group-a', batch, options);
    t.same(anyState, first, `${path}: with expected state any, found ids are idempotent too`);
  }
});

t.test('a stream that does not exist reads as StreamNotFoundError', async (t) => {
  const { client } = await connect(t);
  await client.appendToStream('group-a', event('Opened'));
  const error = await rejection(collect(client.readStream('group-missing')));
  t.type(error, StreamNotFoundError);
  t.equal((error as StreamNotFoundError).streamName, 'group-missing');
  t.type(await rejection(collect(client.readStream('group-missing', { direction: BACKWARDS }))), StreamNotFoundError);
});

t.test('readAll filters on stream-name prefix or event type and resumes from a position; positions have gaps', async (t) => {
  const { double, client } = await connect(t);
  for (const [streamName, type] of [
    ['group-1', 'Opened'],
    ['other-1', 'Opened'],
    ['group-2', 'Opened'],
    ['group-1', 'Named'],
    ['other-1', 'Named'],
    ['group-2', 'Closed'],
  ] as const) {
    await client.appendToStream(streamName, event(type));
  }

  const grouped = await collect(client.readAll({ filter: streamNameFilter({ prefixes: ['group-'] }) }));
  t.same(streamIds(grouped), ['group-1', 'group-2', 'group-1', 'group-2']);
  t.same(types(await collect(client.readAll({ filter: eventTypeFilter({ regex: '^(Named|Closed)$' }) }))), ['Named', 'Named', 'Closed']);

  const positions = grouped.map((e) => e.event?.position?.commit ?? 0n);
  t.ok(
    positions.every((position, i) => i === 0 || position - (positions[i - 1] ?? 0n) > 1n),
    'positions grow, never by one',
  );
  t.equal(grouped[0]?.commitPosition, grouped[0]?.event?.position?.commit);
  t.not(double.all()[0]?.position.commit, 0n, 'the first event is not at position 0');

  const third = grouped[2]?.event?.position;
  if (third === undefined) throw new Error('no position on a read event');
  const resumed = await collect(client.readAll({ fromPosition: third, filter: streamNameFilter({ prefixes: ['group-'] }) }));
  t.same(
    resumed.map((e) => e.event?.id),
    grouped.slice(2).map((e) => e.event?.id),
    'forwards from a position includes the event at it',
  );
  const before = await collect(client.readAll({ fromPosition: third, direction: BACKWARDS, filter: streamNameFilter({ prefixes: ['group-'] }) }));
  t.same(
    before.map((e) => e.event?.id),
    grouped
      .slice(0, 2)
      .reverse()
      .map((e) => e.event?.id),
    'backwards from a position excludes it',
  );
  t.equal((await collect(client.readAll({ maxCount: 2 }))).length, 2);
});

t.test('positions above 2^53 survive the round trip through the client and the bridge', async (t) => {
  const firstPosition = 2n ** 53n + 1n;
  const { client } = await connect(t, { firstPosition });
  const result = await client.appendToStream('group-a', [event('Opened'), event('Named')]);
  const read = await collect(client.readAll());
  t.equal(read[0]?.event?.position?.commit, firstPosition);
  t.same(result.position, read[1]?.event?.position);
  t.ok((result.position?.commit ?? 0n) > BigInt(Number.MAX_SAFE_INTEGER));
});

t.test('subscribeToAll with a filter from the start: history, checkpoints, caught up, then live events', async (t) => {
  const { double, client } = await connect(t);
  for (const streamName of ['group-1', 'other-1', 'group-2', 'other-1', 'other-2']) await client.appendToStream(streamName, event('Opened'));
  const lastInLog = double.all().at(-1)?.position;

  const log: Entry[] = [];
  const subscription = client.subscribeToAll({
    fromPosition: START,
    // The server checkpoints every maxSearchWindow × checkpointInterval scanned events.
    filter: streamNameFilter({
      prefixes: ['group-'],
      maxSearchWindow: 2,
      checkpointInterval: 1,
      checkpointReached: (_subscription, position) => {
        log.push({ kind: 'checkpoint', position });
      },
    }),
  });
  t.teardown(() => subscription.unsubscribe());
  const followed = follow(subscription, log);
  await followed.until('catch-up', () => followed.caughtUp());

  t.same(
    log.map((entry) => entry.kind),
    ['event', 'checkpoint', 'event', 'checkpoint', 'checkpoint', 'caughtUp'],
    'a checkpoint after every two scanned events and one at the end of catch-up',
  );
  t.same(
    followed.events().map((e) => e.kind === 'event' && e.streamId),
    ['group-1', 'group-2'],
  );
  const lastCheckpoint = log.findLast((entry) => entry.kind === 'checkpoint');
  t.same(lastCheckpoint?.kind === 'checkpoint' && lastCheckpoint.position, lastInLog, 'checkpoints move past events the filter skipped');
  const caughtUp = log.at(-1);
  t.same(caughtUp?.kind === 'caughtUp' && caughtUp.info.position, lastInLog);

  await client.appendToStream('other-3', event('Opened'));
  await client.appendToStream('group-3', event('Live'));
  await followed.until('the live event', () => followed.events().length === 3);
  t.same(log.at(-1), { kind: 'event', streamId: 'group-3', type: 'Live' });
});

t.test('subscribeToAll from a position starts after it, catches up and goes live', async (t) => {
  const { client } = await connect(t);
  for (const streamName of ['group-1', 'group-2', 'other-1', 'group-3']) await client.appendToStream(streamName, event('Opened'));
  const [first] = await collect(client.readAll({ maxCount: 1 }));
  const from = first?.event?.position;
  if (from === undefined) throw new Error('no position on a read event');

  const subscription = client.subscribeToAll({ fromPosition: from, filter: streamNameFilter({ prefixes: ['group-'] }) });
  t.teardown(() => subscription.unsubscribe());
  const followed = follow(subscription);
  await followed.until('catch-up', () => followed.caughtUp());
  t.same(
    followed.events().map((e) => e.kind === 'event' && e.streamId),
    ['group-2', 'group-3'],
  );

  await client.appendToStream('group-4', event('Live'));
  await followed.until('the live event', () => followed.events().length === 3);
  t.same(followed.log.at(-1), { kind: 'event', streamId: 'group-4', type: 'Live' });
});

t.test('subscribeToAll from the end sees only what is appended after it', async (t) => {
  const { client } = await connect(t);
  await client.appendToStream('group-1', event('Old'));
  const subscription = client.subscribeToAll({ fromPosition: END });
  t.teardown(() => subscription.unsubscribe());
  const followed = follow(subscription);
  await followed.until('caught up', () => followed.caughtUp());
  await client.appendToStream('group-1', event('New'));
  await followed.until('the live event', () => followed.events().length === 1);
  t.same(
    followed.log.map((entry) => entry.kind === 'event' && entry.type),
    [false, 'New'],
  );
});

t.test('subscribeToStream from the start and from a revision', async (t) => {
  const { client } = await connect(t);
  await client.appendToStream('group-1', [event('Opened'), event('Named'), event('Closed')]);
  await client.appendToStream('group-2', event('Opened'));

  const fromStart = client.subscribeToStream('group-1', { fromRevision: START });
  t.teardown(() => fromStart.unsubscribe());
  const all = follow(fromStart);
  await all.until('catch-up', () => all.caughtUp());
  t.same(
    all.events().map((e) => e.kind === 'event' && e.type),
    ['Opened', 'Named', 'Closed'],
  );
  const caughtUp = all.log.at(-1);
  t.equal(caughtUp?.kind === 'caughtUp' && caughtUp.info.revision, 2n);

  const afterFirst = client.subscribeToStream('group-1', { fromRevision: 0n });
  t.teardown(() => afterFirst.unsubscribe());
  const rest = follow(afterFirst);
  await rest.until('catch-up', () => rest.caughtUp());
  t.same(
    rest.events().map((e) => e.kind === 'event' && e.type),
    ['Named', 'Closed'],
    'a subscription starts after the revision it is given',
  );

  await client.appendToStream('group-2', event('Elsewhere'));
  await client.appendToStream('group-1', event('Reopened'));
  await rest.until('the live event', () => rest.events().length === 3);
  t.same(rest.log.at(-1), { kind: 'event', streamId: 'group-1', type: 'Reopened' });
});

t.test('a dropped append reply: the events are stored, the client gets UnavailableError, re-sending is idempotent', async (t) => {
  for (const { path, options } of appendPaths) {
    const { double, client } = await connect(t);
    await client.appendToStream('group-a', event('Opened'), options);
    const batch = [event('Named'), event('Renamed')];

    double.dropNextAppendReply();
    const lost = await rejection(client.appendToStream('group-a', batch, { ...options, streamState: 0n }));

    t.type(lost, UnavailableError, `${path}: a lost reply looks like a dropped connection`);
    t.equal(double.stream('group-a').length, 3, `${path}: the append was carried out`);
    const resent: AppendResult = await client.appendToStream('group-a', batch, { ...options, streamState: 0n });
    t.equal(resent.nextExpectedRevision, 2n, `${path}: the re-send answers the original revision`);
    t.same(resent.position, double.all().at(-1)?.position);
    t.equal(double.stream('group-a').length, 3, `${path}: and stores nothing twice`);
  }
});

t.test('refused connections: appends and reads fail with UnavailableError while refused and work again after', async (t) => {
  const { double, client } = await connect(t);
  await client.appendToStream('group-a', event('Opened'));
  await collect(client.readStream('group-a'));

  await double.refuseConnections(true);
  t.type(await rejection(client.appendToStream('group-a', event('Named'))), UnavailableError);
  // The client then asks for the server's features again, and passes that call's failure on
  // unconverted: a gRPC error with code 14 (UNAVAILABLE), not an UnavailableError.
  const rediscovery = await rejection(client.appendToStream('group-a', event('Named')));
  t.notOk(rediscovery instanceof UnavailableError);
  t.equal((rediscovery as { code?: unknown }).code, 14);
  t.type(await rejection(collect(client.readStream('group-a'))), UnavailableError);
  t.type(await rejection(collect(client.readAll())), UnavailableError);

  await double.refuseConnections(false);
  await client.appendToStream('group-a', event('Named'));
  t.same(types(await collect(client.readStream('group-a'))), ['Opened', 'Named']);
});

t.test('the bridge never recovers when its first connection was refused (client behaviour, pinned)', async (t) => {
  const { double, client } = await connect(t);
  await client.appendToStream('group-a', event('Opened'));
  await double.refuseConnections(true);
  t.type(await rejection(collect(client.readStream('group-a'))), UnavailableError);
  await double.refuseConnections(false);

  await client.appendToStream('group-a', event('Named'));
  const readsBefore = double.rpcs().filter((path) => path.endsWith('/Read')).length;
  t.type(await rejection(collect(client.readStream('group-a'))), UnavailableError, 'reads keep failing');
  t.equal(double.rpcs().filter((path) => path.endsWith('/Read')).length, readsBefore, 'without reaching the server');
  const fresh = KurrentDBClient.connectionString(double.url);
  t.teardown(() => fresh.dispose());
  t.same(types(await collect(fresh.readStream('group-a'))), ['Opened', 'Named'], 'a new client reads');
});

t.test('cut subscriptions end with UnavailableError and a new subscription picks up', async (t) => {
  const { double, client } = await connect(t);
  await client.appendToStream('group-a', event('Opened'));
  const subscription = client.subscribeToAll({ fromPosition: START });
  const followed = follow(subscription);
  await followed.until('catch-up', () => followed.caughtUp());
  t.equal(double.openSubscriptions(), 1);

  t.equal(double.cutSubscriptions(), 1);

  t.type(await followed.error(), UnavailableError);
  t.equal(double.openSubscriptions(), 0);
  const again = client.subscribeToAll({ fromPosition: START });
  t.teardown(() => again.unsubscribe());
  const resumed = follow(again);
  await resumed.until('catch-up', () => resumed.caughtUp());
  t.equal(resumed.events().length, 1);
});

t.test('advertises a 25.1 node: multiStreamAppend is offered, then answered UNIMPLEMENTED', async (t) => {
  const { double, client } = await connect(t);
  const error = await rejection(client.multiStreamAppend([{ streamName: 'group-a', events: [event('Opened')], expectedState: 'any' }]));
  t.notMatch(String(error), /requires server version/, 'the client found AppendSession advertised');
  t.ok(double.rpcs().includes('/kurrentdb.protocol.v2.streams.StreamsService/AppendSession'));
  t.equal((error as { code?: number }).code, 12, 'UNIMPLEMENTED');
  t.same(double.all(), []);
});
