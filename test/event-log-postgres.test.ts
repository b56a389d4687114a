import t from 'tap';
import { PostgresEventLog } from '../src/store/postgres-event-log.js';
import { eventLogContract } from './helpers/event-log-contract.js';
import { createTestDatabase } from './helpers/database.js';

// The EventLog contract against the default log, PostgreSQL's events table.
eventLogContract(t, async () => {
  const database = await createTestDatabase();
  return { log: new PostgresEventLog(database.db), close: () => database.close() };
});
