import { spawn } from 'node:child_process';
import t from 'tap';
import { createTestDatabase, type TestDatabase } from './helpers/database.js';
import { call, CLI, freePort, plainEnv, startServerProcess } from './helpers/server-process.js';

// The server's log for people and for machines (issue #14 §8): pino-pretty's one line per
// event when the terminal is a person's (LOG_FORMAT=auto, the default), JSON lines when
// it is a pipe or a file; LOG_FORMAT=pretty or json decides it either way.

let database: TestDatabase;
t.before(async () => {
  database = await createTestDatabase();
});
t.teardown(() => database?.close());

// eslint-disable-next-line no-control-regex -- an ANSI colour escape is what is looked for
const ANSI = /\u001b\[[0-9;]*m/;

/** The server's output once it has a line with `text`: a log line reaches the pipe a moment after the response. */
async function outputWith(server: { output: () => string }, text: string): Promise<string[]> {
  for (let i = 0; i < 100 && !server.output().includes(text); i++) await new Promise((resolve) => setTimeout(resolve, 50));
  return server
    .output()
    .split('\n')
    .filter((l) => l.trim() !== '');
}

t.test('into a pipe (auto): one JSON object per line', async (t) => {
  const server = await startServerProcess({ DATABASE_URL: database.url });
  t.teardown(() => server.stop());
  t.equal((await call(server.url, 'POST', '/users', undefined, { name: 'Ann' })).status, 201);
  const lines = await outputWith(server, 'user created');
  t.ok(lines.length > 2);
  for (const line of lines) t.doesNotThrow(() => JSON.parse(line), `JSON: ${line.slice(0, 80)}`);
  t.ok(
    lines.some((l) => (JSON.parse(l) as { msg?: string }).msg === 'user created'),
    'the sign-up is in it',
  );
});

t.test('LOG_FORMAT=pretty: one readable line per event, the same facts', async (t) => {
  const server = await startServerProcess({ DATABASE_URL: database.url, LOG_FORMAT: 'pretty' });
  t.teardown(() => server.stop());
  t.equal((await call(server.url, 'POST', '/users', undefined, { name: 'Bob' })).status, 201);
  const lines = await outputWith(server, 'user created');
  const created = lines.find((l) => l.includes('user created'));
  t.match(created, /^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: user created \{.*"userId":/, `pretty: ${created}`);
  t.notOk(
    lines.some((l) => l.startsWith('{')),
    'no JSON line',
  );
  t.notMatch(server.output(), ANSI, 'no colours into a pipe');
  t.notMatch(server.output(), /"service":"fairshare"|"pid":/, 'without the fields a person does not need');
});

t.test('in a terminal (auto): pretty and coloured', async (t) => {
  const port = await freePort();
  // `script` gives the server a pseudo-terminal for its output, as a person's terminal does.
  const child = spawn('script', ['-qfec', `${process.execPath} ${CLI} serve`, '/dev/null'], {
    env: { ...plainEnv({ DATABASE_URL: database.url, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'info' }), NO_COLOR: undefined, NODE_ENV: undefined },
    stdio: ['pipe', 'pipe', 'pipe'],
    detached: true,
  });
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise((resolve) => child.on('exit', resolve));
  t.teardown(async () => {
    try {
      process.kill(-(child.pid as number), 'SIGTERM');
    } catch {
      // gone already
    }
    await exited;
  });
  for (let i = 0; i < 600 && !out.includes('FairShare is listening'); i++) await new Promise((resolve) => setTimeout(resolve, 50));
  t.match(out, /FairShare is listening/);
  t.match(out, ANSI, 'coloured');
  t.notMatch(out, /^\{"level"/m, 'no JSON line');
});
