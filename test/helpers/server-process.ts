import { execFile, spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { freePort } from '../../src/db/embedded.js';

export { freePort };

export const CLI = path.resolve('dist/src/cli/main.js');

export interface ServerProcess {
  child: ChildProcess;
  url: string;
  output: () => string;
  /** Resolves with the exit code once the process has ended. */
  exited: Promise<number | null>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/**
 * The environment of this test process minus tap's coverage and process-info hooks:
 * a server process runs the built JavaScript as users run it, and must not write into
 * tap's coverage folder after the test has ended.
 */
export function plainEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !/^(NODE_OPTIONS|NODE_V8_COVERAGE|_?TAP)/.test(key)));
  return { ...env, ...extra };
}

/** Starts `fairshare serve` (the built CLI) as a real process and waits until it listens. */
export async function startServerProcess(
  env: Record<string, string>,
  timeoutMs = 60_000,
  port?: number,
  /** In a process group of its own, as a program started in a terminal is (signal the group as Ctrl-C does). */
  detached = false,
): Promise<ServerProcess> {
  port ??= await freePort();
  const child = spawn(process.execPath, [CLI, 'serve'], {
    // Load tests write thousands of times with one token: limits they do not reach, unless a test sets its own.
    env: plainEnv({
      LOG_LEVEL: 'info',
      RATE_LIMIT_SIGNUPS_PER_MINUTE: '1000000',
      RATE_LIMIT_WRITES_PER_MINUTE: '1000000',
      ...env,
      PORT: String(port),
      HOST: '127.0.0.1',
    }),
    stdio: ['ignore', 'pipe', 'pipe'],
    detached,
  });
  let out = '';
  child.stdout?.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`server exited early (${child.exitCode}):\n${out}`);
    if (out.includes('FairShare is listening')) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`server did not start in time:\n${out}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return {
    child,
    url,
    output: () => out,
    exited,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

export async function call(url: string, method: string, pathName: string, token?: string, body?: unknown) {
  const res = await fetch(`${url}${pathName}`, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body ? { 'content-type': 'application/json' } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? (JSON.parse(text) as any) : undefined };
}

export interface CliResult {
  /** The exit code; null when the process was killed (e.g. by the timeout). */
  status: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs the built CLI with this environment (on top of plainEnv) and resolves when it
 * exits. Asynchronous on purpose: a KurrentDB double in this process must keep answering
 * while the CLI talks to it.
 */
export const runCli = (env: Record<string, string>, ...args: string[]): Promise<CliResult> =>
  new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { env: plainEnv({ LOG_LEVEL: 'warn', ...env }), timeout: 60_000 }, (error, stdout, stderr) =>
      resolve({ status: error ? (typeof error.code === 'number' ? error.code : null) : 0, stdout, stderr }),
    );
  });
