import pino from 'pino';
import t from 'tap';
import { Api, startTestApp } from './helpers/app.js';

// Operators read what happened from the log: one line per request, and for every
// command what it was, on which stream, from which version to which, how many rows it
// projected and whether it committed, joined up by the request id.
t.test('a request and its command each leave one structured line', async (t) => {
  const lines: Record<string, unknown>[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
  const env = await startTestApp({ logger });
  t.teardown(() => env.close());
  const api = new Api(env.app);
  const ann = await api.signUp('Ann');
  const created = await ann.api.post('/groups', { name: 'Trip', currency: 'EUR' }, { 'x-request-id': 'req-create-1' });
  t.equal(created.status, 201);
  const g = created.body.groupId as string;
  lines.length = 0;
  const added = await ann.api.post(
    `/groups/${g}/expenses`,
    { expenseId: 'e1', description: 'Dinner', amount: '12.00', paidBy: ann.userId, split: { mode: 'equal' } },
    { 'x-request-id': 'req-add-1' },
  );
  t.equal(added.status, 201);

  const ofRequest = lines.filter((l) => l.reqId === 'req-add-1');
  t.match(ofRequest, [
    {
      msg: 'command committed',
      command: 'AddExpense',
      stream: `group-${g}`,
      actor: ann.userId,
      fromVersion: 1,
      toVersion: 2,
      events: ['ExpenseAdded'],
      rowsProjected: Number,
      outcome: 'commit',
    },
    { msg: 'request completed', req: { method: 'POST', url: `/groups/${g}/expenses` }, res: { statusCode: 201 }, responseTime: Number },
  ]);
  t.equal(ofRequest.length, 2, 'exactly two lines: the command and the request');
  t.ok((ofRequest[0]?.rowsProjected as number) > 0);

  lines.length = 0;
  const again = await ann.api.post(
    `/groups/${g}/expenses`,
    { expenseId: 'e1', description: 'Dinner', amount: '12.00', paidBy: ann.userId, split: { mode: 'equal' } },
    { 'x-request-id': 'req-add-2' },
  );
  t.equal(again.status, 200, 'the same expense again changes nothing');
  t.match(
    lines.filter((l) => l.reqId === 'req-add-2'),
    [
      { msg: 'command changed nothing', command: 'AddExpense', fromVersion: 2, toVersion: 2, events: [], rowsProjected: 0, outcome: 'no-op' },
      { msg: 'request completed', res: { statusCode: 200 } },
    ],
  );
});
