// Live streams by the device whose token opened them, so that revoking a device ends its
// open streams too: at once in the process that revoked it, and within `checkMs` in every
// other process (each checks, while it holds streams, that their devices still exist:
// one query for all of them). A stream that ends makes the page reconnect, and the
// reconnect answers 401.
import type { Logger } from 'pino';
import type { Db } from '../db/database.js';

/** How long a revoke is remembered for streams still being opened (far longer than a request's first read). */
const REVOKED_LATELY_MS = 60_000;

export class DeviceStreams {
  private readonly byDevice = new Map<string, Set<() => void>>();
  /** Devices revoked here lately: a stream whose request was under way when its device was revoked ends as it opens. */
  private readonly revokedLately = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private checking: Promise<void> | undefined;
  private closed = false;

  constructor(
    private readonly db: Db,
    private readonly logger: Logger,
    private readonly checkMs: number,
  ) {}

  /** Registers an open stream's closer; returns its removal. Calls `close` at once for a device revoked meanwhile. */
  add(deviceId: string, close: () => void): () => void {
    if (this.revokedLately.has(deviceId)) {
      close();
      return () => {};
    }
    let closers = this.byDevice.get(deviceId);
    if (!closers) this.byDevice.set(deviceId, (closers = new Set()));
    closers.add(close);
    this.schedule();
    const own = closers;
    return () => {
      own.delete(close);
      if (own.size === 0 && this.byDevice.get(deviceId) === own) this.byDevice.delete(deviceId);
    };
  }

  /** The device was revoked: its streams in this process end now. */
  revoked(deviceId: string): number {
    const now = Date.now();
    for (const [id, at] of this.revokedLately) if (at < now - REVOKED_LATELY_MS) this.revokedLately.delete(id);
    this.revokedLately.set(deviceId, now);
    const closers = [...(this.byDevice.get(deviceId) ?? [])];
    this.byDevice.delete(deviceId);
    for (const close of closers) close();
    return closers.length;
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    await this.checking;
  }

  private schedule(): void {
    if (this.timer || this.closed) return;
    this.timer = setTimeout(() => {
      this.checking = this.check().finally(() => {
        this.checking = undefined;
        this.timer = undefined;
        if (this.byDevice.size > 0) this.schedule();
      });
    }, this.checkMs);
    this.timer.unref();
  }

  /** Ends the streams of devices revoked elsewhere (another process, or straight in the database). */
  private async check(): Promise<void> {
    const held = [...this.byDevice.keys()];
    if (held.length === 0) return;
    try {
      const alive = new Set(
        (await this.db.selectFrom('devices').select('device_id').where('device_id', 'in', held).where('kind', '=', 'device').execute()).map((r) => r.device_id),
      );
      for (const deviceId of held) {
        if (alive.has(deviceId)) continue;
        const ended = this.revoked(deviceId);
        this.logger.info({ deviceId, streams: ended }, 'live streams of a revoked device ended');
      }
    } catch (error) {
      // Checked again next time; a stream of a revoked device lives a little longer.
      this.logger.warn({ err: error }, 'checking the devices of open live streams failed');
    }
  }
}
