import { connect } from 'node:net';
import t from 'tap';
import { buildApp } from '../src/api/app.js';
import { quietLogger, useTestApp } from './helpers/app.js';

// Slow senders (slowloris): a request whose body, or headers, trickle in is cut with 408
// once the request timeout passes; a live stream, a slow response, is not.

const ctx = useTestApp(t);

/** Opens a socket, writes `first`, then a byte every `everyMs`; resolves with what came back once the server closes it (or after `giveUpMs`). */
function trickle(port: number, first: string, everyMs: number, giveUpMs: number): Promise<{ closed: boolean; answer: string }> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let answer = '';
    socket.on('data', (chunk) => (answer += chunk.toString()));
    socket.on('error', () => undefined);
    socket.write(first);
    const drip = setInterval(() => socket.write('x'), everyMs);
    const giveUp = setTimeout(() => {
      clearInterval(drip);
      socket.destroy();
      resolve({ closed: false, answer });
    }, giveUpMs);
    socket.on('close', () => {
      clearInterval(drip);
      clearTimeout(giveUp);
      resolve({ closed: true, answer });
    });
  });
}

t.test('a body or headers sent a byte at a time are cut at the request timeout; a live stream stays open', async (t) => {
  const app = await buildApp({ db: ctx.env.database.db, changes: ctx.env.changes, logger: quietLogger(), requestTimeoutMs: 1_000 });
  await app.listen({ port: 0, host: '127.0.0.1' });
  t.teardown(() => app.close());
  const port = (app.server.address() as { port: number }).port;

  const body = trickle(port, 'POST /users HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{', 200, 15_000);
  const headers = trickle(port, 'GET /health/live HTTP/1.1\r\nHost: x\r\nX-Slow: ', 200, 15_000);
  const [slowBody, slowHeaders] = await Promise.all([body, headers]);
  t.ok(slowBody.closed, 'the slow body: connection closed');
  t.match(slowBody.answer, /^HTTP\/1\.1 408/, 'with 408 Request Timeout');
  t.ok(slowHeaders.closed, 'slow headers: connection closed');

  const ann = await ctx.api.signUp('Ann');
  const g = (await ann.api.post('/groups', { name: 'Slow', currency: 'EUR' })).body.groupId as string;
  const controller = new AbortController();
  const live = await fetch(`http://127.0.0.1:${port}/groups/${g}/live`, { headers: { authorization: `Bearer ${ann.token}` }, signal: controller.signal });
  t.equal(live.status, 200);
  const reader = (live.body as ReadableStream<Uint8Array>).getReader();
  await reader.read();
  await new Promise((resolve) => setTimeout(resolve, 2_500));
  const after = await ann.api.post(`/groups/${g}/expenses`, { description: 'x', amount: '1.00', paidBy: ann.userId, split: { mode: 'equal' } });
  t.equal(after.status, 201);
  let seen = '';
  for (let i = 0; i < 20 && !seen.includes('id: 2'); i++) seen += new TextDecoder().decode((await reader.read()).value);
  t.match(seen, /id: 2/, 'a live stream open past the request timeout still hears the next change');
  controller.abort();
});
