import { Worker } from 'node:worker_threads';
import type pg from 'pg';
import { optionsOf } from '../db/database.js';
import type { StreamRange, VerifyOptions, VerifyReport } from './verify.js';

/** What the main thread sends a verify worker. */
export interface VerifyWorkerData {
  connectionString: string;
  snapshot: string;
  range: StreamRange;
}

/** What a verify worker posts back: progress now and then, and once its report. */
export type VerifyWorkerMessage = { progress: { events: number; groups: number } } | { report: VerifyReport };

/**
 * The worker's module: verify-worker.js beside this one, or .ts when this runs from
 * the TypeScript sources (the tests), whose loader the worker inherits.
 */
const WORKER_MODULE = new URL(import.meta.url.endsWith('.ts') ? './verify-worker.ts' : './verify-worker.js', import.meta.url);

/**
 * Folds and compares one range of streams in a worker thread, on its own two
 * connections (made with the options of `pool`) in the exported `snapshot`; `signal`
 * stops it.
 */
export function verifyInWorker(
  pool: pg.Pool,
  snapshot: string,
  range: StreamRange,
  onProgress?: VerifyOptions['onProgress'],
  signal?: AbortSignal,
): Promise<VerifyReport> {
  const data: VerifyWorkerData = { connectionString: optionsOf(pool).connectionString, snapshot, range };
  return new Promise((resolve, reject) => {
    const worker = new Worker(WORKER_MODULE, { workerData: data });
    // Another range failed: this one's work is wasted, and its snapshot is about to go.
    signal?.addEventListener('abort', () => void worker.terminate(), { once: true });
    let report: VerifyReport | undefined;
    worker.on('message', (message: VerifyWorkerMessage) => {
      if ('progress' in message) onProgress?.(message.progress);
      else report = message.report;
    });
    worker.once('error', reject);
    worker.once('exit', (code) => {
      if (report) resolve(report);
      else reject(new Error(`a verify worker stopped (exit code ${code}) before it reported`));
    });
  });
}
