import { EventEmitter } from 'node:events';
import type pg from 'pg';
import type { Logger } from 'pino';
import { createClient } from '../db/database.js';

export interface GroupChanged {
  groupId: string;
  version: number;
  /** A rebuild rewrote the group's rows at this version. */
  rebuilt?: boolean;
}

/**
 * One LISTEN connection per process, fanned out to in-process subscribers. PostgreSQL
 * delivers a notification only after the transaction that sent it commits, so a
 * subscriber never hears of a change a reader could not yet see, from any process.
 * If the connection drops, it reconnects with backoff and tells subscribers to resync.
 */
export class Notifier {
  private readonly emitter = new EventEmitter();
  private client: pg.Client | undefined;
  private closed = false;
  private retryTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly connectionString: string,
    private readonly logger: Logger,
  ) {
    this.emitter.setMaxListeners(0);
  }

  async start(): Promise<void> {
    await this.connect();
  }

  /** Calls `listener` on every committed change of `groupId` (and on resync). */
  subscribe(groupId: string, listener: (change: GroupChanged | null) => void): () => void {
    const onChange = (change: GroupChanged) => listener(change);
    const onResync = () => listener(null);
    this.emitter.on(`group:${groupId}`, onChange);
    this.emitter.on('resync', onResync);
    return () => {
      this.emitter.off(`group:${groupId}`, onChange);
      this.emitter.off('resync', onResync);
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retryTimer);
    const client = this.client;
    this.client = undefined;
    await client?.end().catch(() => undefined);
  }

  private async connect(attempt = 0): Promise<void> {
    const client = createClient(this.connectionString);
    client.on('notification', (message) => {
      if (message.channel !== 'group_changed' || !message.payload) return;
      try {
        const change = JSON.parse(message.payload) as GroupChanged;
        this.emitter.emit(`group:${change.groupId}`, change);
      } catch (error) {
        this.logger.warn({ err: error, payload: message.payload }, 'unreadable group_changed notification');
      }
    });
    client.on('error', (error) => {
      this.logger.warn({ err: error }, 'LISTEN connection lost; reconnecting');
      void client.end().catch(() => undefined);
      if (this.client === client) this.scheduleReconnect(0);
    });
    try {
      await client.connect();
      await client.query('LISTEN group_changed');
      if (this.closed) {
        await client.end();
        return;
      }
      this.client = client;
      if (attempt > 0) {
        this.logger.info('LISTEN connection restored');
        this.emitter.emit('resync'); // changes may have been missed while disconnected
      }
    } catch (error) {
      await client.end().catch(() => undefined);
      if (attempt === 0 && !this.client) throw error;
      this.logger.warn({ err: error, attempt }, 'LISTEN reconnect failed');
      this.scheduleReconnect(attempt);
    }
  }

  private scheduleReconnect(attempt: number): void {
    if (this.closed) return;
    this.client = undefined;
    const delay = Math.min(30_000, 250 * 2 ** attempt);
    this.retryTimer = setTimeout(() => void this.connect(attempt + 1), delay);
  }
}
