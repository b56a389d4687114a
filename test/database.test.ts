import { sql } from 'kysely';
import t from 'tap';
import { PREPARED_PER_CONNECTION, type Tx } from '../src/db/database.js';
import { createTestDatabase, type TestDatabase } from './helpers/database.js';

let database: TestDatabase;
t.before(async () => {
  database = await createTestDatabase();
});
t.teardown(() => database.close());

const preparedCount = async (tx: Tx) =>
  Number((await sql<{ n: string }>`select count(*) as n from pg_prepared_statements where name like 'fs_%'`.execute(tx)).rows[0]?.n);

t.test('parameterised statements run prepared: once per text and connection, up to a bound', async (t) => {
  await database.db.transaction().execute(async (tx) => {
    // One transaction holds one connection, so these all run on it.
    const before = await preparedCount(tx);
    for (let i = 0; i < 3; i++) {
      const { rows } = await sql<{ v: number }>`select ${i}::int + 1 as v`.execute(tx);
      t.equal(rows[0]?.v, i + 1, 'a prepared statement binds new values each time');
    }
    t.equal(await preparedCount(tx), before + 1, 'the same text is prepared once');

    // Texts that vary (say, multi-row inserts) fill at most the bound; the rest run unnamed and still work.
    const wrong: number[] = [];
    for (let i = 0; i < PREPARED_PER_CONNECTION + 20; i++) {
      const { rows } = await sql<{ v: number }>`select ${i}::int + ${sql.lit(i)} as v`.execute(tx);
      if (rows[0]?.v !== 2 * i) wrong.push(i);
    }
    t.same(wrong, [], 'prepared and unnamed statements alike return the right rows');
    t.equal(await preparedCount(tx), PREPARED_PER_CONNECTION, 'no connection prepares more than the bound');
  });
});

t.test('statements without parameters (begin, commit, DDL) are never prepared', async (t) => {
  await database.db.transaction().execute(async (tx) => {
    const before = await preparedCount(tx);
    await sql`select 1`.execute(tx);
    t.equal(await preparedCount(tx), before);
  });
});
