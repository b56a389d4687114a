// A verify worker thread's entry (see verify-workers.ts): folds and compares one range of streams.
import { parentPort, workerData } from 'node:worker_threads';
import { createDb, createPool } from '../db/database.js';
import { verifyRange } from './verify.js';
import type { VerifyWorkerData, VerifyWorkerMessage } from './verify-workers.js';

const { connectionString, snapshot, range } = workerData as VerifyWorkerData;
const port = parentPort as NonNullable<typeof parentPort>;
const post = (message: VerifyWorkerMessage) => port.postMessage(message);
const db = createDb(createPool({ connectionString, max: 2, applicationName: 'fairshare-verify' }));
try {
  post({ report: await verifyRange(db, snapshot, range, (progress) => post({ progress })) });
} finally {
  await db.destroy();
}
