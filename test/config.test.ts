import t from 'tap';
import { loadConfig } from '../src/config.js';

t.test('defaults follow DESIGN.md section 7', async (t) => {
  t.match(loadConfig({}), { port: 3000, host: '127.0.0.1', databaseUrl: undefined, dataDir: './.fairshare', logLevel: 'info', operatorTokens: [] });
  t.equal(loadConfig({ DATABASE_URL: '' }).databaseUrl, undefined, 'an empty variable means unset');
});

t.test('operator tokens: a comma-separated list, each long enough to be a secret', async (t) => {
  const a = 'a'.repeat(32);
  const b = 'op_' + 'b'.repeat(40);
  t.same(loadConfig({ FAIRSHARE_OPERATOR_TOKENS: `${a}, ${b},` }).operatorTokens, [a, b]);
  t.throws(() => loadConfig({ FAIRSHARE_OPERATOR_TOKENS: 'short' }), /operator tokens must be 32-200/);
  t.throws(() => loadConfig({ FAIRSHARE_OPERATOR_TOKENS: `${a} with space` }), /operator tokens/);
});

t.test('bad values are refused with the variable named', async (t) => {
  t.throws(() => loadConfig({ PORT: 'eighty' }), /invalid configuration: PORT/);
  t.throws(() => loadConfig({ LOG_LEVEL: 'loud' }), /LOG_LEVEL/);
});
