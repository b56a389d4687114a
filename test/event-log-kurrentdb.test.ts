import t from 'tap';
import { EventLogUnavailable } from '../src/store/event-log.js';
import { newEnvelopes } from '../src/store/event-store.js';
import { KurrentDbEventLog } from '../src/store/kurrentdb-event-log.js';
import { eventLogContract } from './helpers/event-log-contract.js';
import { startKurrentDbDouble } from './helpers/kurrentdb-double.js';

// The EventLog contract against KurrentDB: always against the gRPC test double (the
// real client, real gRPC), and against a real server when FAIRSHARE_TEST_KURRENTDB_URL
// names one (a throwaway database: the suite writes streams of its own).
t.test('the gRPC test double', async (t) => {
  eventLogContract(t, async () => {
    const double = await startKurrentDbDouble();
    const log = KurrentDbEventLog.connect(double.url);
    return {
      log,
      close: async () => {
        await log.close();
        await double.close();
      },
    };
  });
});

t.test('a log made while KurrentDB is down reads and appends once it is back (the bridge that reads does not reconnect by itself)', async (t) => {
  const double = await startKurrentDbDouble();
  await double.refuseConnections(true);
  const log = KurrentDbEventLog.connect(double.url, { appendTimeoutMs: 300, failFastMs: 0 });
  t.teardown(async () => {
    await log.close();
    await double.close();
  });
  const created = (id: string) =>
    newEnvelopes(
      `group-${id}`,
      0,
      [{ type: 'GroupCreated', data: { groupId: id, name: id, currency: 'EUR', members: [{ userId: 'u', name: 'U' }] } }],
      {},
      new Date(),
    );
  await t.rejects(log.readStream('group-down'), EventLogUnavailable);
  await t.rejects(log.head(), EventLogUnavailable);
  await t.rejects(log.append('group-down', 0, created('down')), { name: 'EventLogUnavailable', maybeStored: true });
  await double.refuseConnections(false);

  let attempts = 0;
  for (; ; attempts++) {
    const read = await log.readStream('group-down').then(
      (events) => events,
      (error: unknown) => {
        if (!(error instanceof EventLogUnavailable) || attempts > 100) throw error;
        return undefined;
      },
    );
    if (read) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  t.pass(`reads again after ${attempts} failed attempts`);
  t.equal((await log.append('group-up', 0, created('up'))).version, 1);
  t.same(
    (await log.readStream('group-up')).map((e) => e.type),
    ['GroupCreated'],
  );
  t.ok(await log.head());
});

const real = process.env.FAIRSHARE_TEST_KURRENTDB_URL;
t.test('a real KurrentDB', { skip: real ? false : 'FAIRSHARE_TEST_KURRENTDB_URL is not set (no KurrentDB server can run on this machine)' }, async (t) => {
  eventLogContract(t, async () => {
    const log = KurrentDbEventLog.connect(real as string);
    return { log, close: () => log.close() };
  });
});
