import Fastify from 'fastify';

// The baseline for read throughput: fastify with one route that returns a constant JSON
// body of about the size of a balances view, started the same way as the real server.
const body = {
  groupId: 'g1',
  currency: 'EUR',
  version: 42,
  balances: [
    { userId: 'bench-u1', name: 'Bench One', balance: '12.34' },
    { userId: 'bench-u2', name: 'Bench Two', balance: '-4.11' },
    { userId: 'bench-u3', name: 'Bench Three', balance: '-4.11' },
    { userId: 'bench-u4', name: 'Bench Four', balance: '-4.12' },
  ],
};
const app = Fastify({ logger: false });
app.get('/groups/:groupId/balances', async () => body);
const url = await app.listen({ port: Number(process.env.PORT ?? 0), host: '127.0.0.1' });
process.stdout.write(`listening ${url}\n`);
process.on('SIGTERM', () => void app.close().then(() => process.exit(0)));
