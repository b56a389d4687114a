import autocannon from 'autocannon';
import type { LoadResult } from './pgbench.js';

export interface HttpLoad {
  url: string;
  connections: number;
  seconds: number;
  /** Instead of `seconds`: send exactly this many requests (a smoke run, so a slow machine still measures something). */
  requests?: number;
  method?: 'GET' | 'POST';
  headers?: Record<string, string>;
  body?: string;
  /** Picks each request's path (and extra headers), e.g. a random group. */
  next: () => { path: string; headers?: Record<string, string> };
  /** Status codes that count as success. */
  ok?: number[];
}

/** Drives the real HTTP server with autocannon; fails if any response is not an expected status. */
export async function httpLoad(load: HttpLoad): Promise<LoadResult> {
  const ok = new Set(load.ok ?? [200, 201]);
  let bad = 0;
  let badSample = '';
  const t0 = process.hrtime.bigint();
  const result = await autocannon({
    url: load.url,
    connections: load.connections,
    duration: load.seconds,
    ...(load.requests ? { amount: load.requests } : {}),
    requests: [
      {
        method: load.method ?? 'GET',
        ...(load.body === undefined ? {} : { body: load.body }),
        setupRequest: (request: autocannon.Request) => {
          const next = load.next();
          return { ...request, path: next.path, headers: { ...load.headers, ...request.headers, ...next.headers } };
        },
        onResponse: (status: number, body: string) => {
          if (!ok.has(status)) {
            bad += 1;
            badSample ||= `${status} ${body.slice(0, 200)}`;
          }
        },
      },
    ],
  });
  if (bad > 0) throw new Error(`${bad} unexpected responses, e.g. ${badSample}`);
  // The rate over the whole run (autocannon's per-second average has no sample in a run shorter than a second).
  const elapsed = Number(process.hrtime.bigint() - t0) / 1e9;
  return { tps: result.requests.total / elapsed, p50ms: result.latency.p50, p99ms: result.latency.p99, count: result.requests.total };
}
