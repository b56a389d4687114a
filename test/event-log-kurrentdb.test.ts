import t from 'tap';
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

const real = process.env.FAIRSHARE_TEST_KURRENTDB_URL;
t.test('a real KurrentDB', { skip: real ? false : 'FAIRSHARE_TEST_KURRENTDB_URL is not set (no KurrentDB server can run on this machine)' }, async (t) => {
  eventLogContract(t, async () => {
    const log = KurrentDbEventLog.connect(real as string);
    return { log, close: () => log.close() };
  });
});
