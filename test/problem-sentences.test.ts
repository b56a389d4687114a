import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import t from 'tap';
import { fieldSentence, SENTENCES, sentenceFor } from '../src/web/sentences.js';

// Every problem code the server can answer with has a sentence in the page (issue #14
// §2): the codes are read from the server's source, where each is written once as a
// literal next to the status it goes with.

async function sources(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  const files = await Promise.all(
    entries.map((e) => (e.isDirectory() ? (e.name === 'web' ? [] : sources(path.join(dir, e.name))) : e.name.endsWith('.ts') ? [path.join(dir, e.name)] : [])),
  );
  return files.flat();
}

t.test('every code the server sends has a sentence for people', async (t) => {
  const codes = new Set<string>();
  const made = [
    /\b(?:conflict|notFound|invalid)\(\s*'([A-Z][A-Z_]+)'/g,
    /new DomainError\(\s*\d+,\s*'([A-Z][A-Z_]+)'/g,
    /sendProblem\(\s*\w+,\s*\d+,\s*'([A-Z][A-Z_]+)'/g,
    /\bcode:\s*'([A-Z][A-Z_]+)'/g,
    /problemCode\s*=\s*'([A-Z][A-Z_]+)'/g,
  ];
  for (const file of await sources('src')) {
    const text = await readFile(file, 'utf8');
    for (const pattern of made) for (const m of text.matchAll(pattern)) codes.add(m[1] as string);
  }
  t.ok(codes.size > 40, `${codes.size} codes found in the server's source`);
  const missing = [...codes].filter((code) => !(code in SENTENCES)).sort();
  t.same(missing, [], 'none without a sentence');
  for (const code of codes) {
    const sentence = sentenceFor({ status: 400, code, detail: 'the server detail' });
    t.ok(/^[A-Z]/.test(sentence) || sentence === 'the server detail', `${code}: "${sentence}"`);
  }
});

t.test("a validator's words become the field's sentence; the server's own words stay", async (t) => {
  t.equal(fieldSentence('name', 'Too small: expected string to have >=1 characters'), 'Give a name of up to 100 characters.');
  t.equal(fieldSentence('split/shares/1/weight', 'Invalid input: expected int, received number'), 'Write a whole number of shares, such as 1 or 2.');
  t.equal(fieldSentence('amount', 'must be a whole number in this currency'), 'Must be a whole number in this currency');
});
