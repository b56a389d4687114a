import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { percentile } from './stats.js';

export interface LoadResult {
  /** Transactions (or requests) per second. */
  tps: number;
  p50ms: number;
  p99ms: number;
  count: number;
}

export interface PgbenchRun {
  clients: number;
  /** Run for this long, counted from pgbench's start, connection set-up included. */
  seconds: number;
  /**
   * Instead of `seconds`: run exactly this many transactions per client. A smoke run uses
   * it, since opening many password-authenticated connections on a small busy machine can
   * take longer than a whole one-second run (pgbench then processes nothing at all).
   */
  transactionsPerClient?: number;
  variables?: Record<string, string | number>;
}

/**
 * Runs a custom pgbench script (prepared statements, no vacuum) with `clients`
 * connections, and reads the latency of every transaction from pgbench's
 * per-transaction log to compute p50 and p99. The rate excludes connection set-up.
 */
export async function pgbench(url: string, script: string, options: PgbenchRun): Promise<LoadResult> {
  const dir = await mkdtemp(path.join(tmpdir(), 'fairshare-pgbench-'));
  try {
    const file = path.join(dir, 'script.sql');
    await writeFile(file, script);
    const args = [
      '-n',
      '-M',
      'prepared',
      '-f',
      file,
      '-c',
      String(options.clients),
      '-j',
      String(Math.min(options.clients, 4)),
      ...(options.transactionsPerClient ? ['-t', String(options.transactionsPerClient)] : ['-T', String(options.seconds)]),
      '-l',
      '--log-prefix',
      path.join(dir, 'tx'),
    ];
    for (const [name, value] of Object.entries(options.variables ?? {})) args.push('-D', `${name}=${value}`);
    args.push(url);
    const output = await run('pgbench', args);
    const processed = Number(/number of transactions actually processed: (\d+)/.exec(output)?.[1] ?? 0);
    const tps = Number(/tps = ([0-9.]+) \(without initial connection time\)/.exec(output)?.[1] ?? Number.NaN);
    if (processed === 0 || !Number.isFinite(tps)) {
      // A baseline that cannot be measured says why instead of turning into NaN.
      const connect = /initial connection time = ([0-9.]+) ms/.exec(output)?.[1];
      throw new Error(
        `pgbench with ${options.clients} clients processed no transaction${connect ? ` (opening its connections took ${connect} ms)` : ''}; give it more --seconds.\n${output.slice(-1500)}`,
      );
    }
    const latencies: number[] = [];
    for (const name of await readdir(dir)) {
      if (!name.startsWith('tx')) continue;
      for (const line of (await readFile(path.join(dir, name), 'utf8')).split('\n')) {
        const micros = Number(line.split(' ')[2]);
        if (Number.isFinite(micros) && line) latencies.push(micros / 1000);
      }
    }
    return { tps, p50ms: percentile(latencies, 50), p99ms: percentile(latencies, 99), count: latencies.length };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function run(command: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`${command} exited ${code}:\n${out}`))));
  });
}
