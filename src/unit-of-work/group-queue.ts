import { DomainError } from '../commands/errors.js';

/**
 * Commands of one group, one at a time in this process, waiting here rather than on the
 * group's row lock: a waiting command holds no database connection, so a burst of writes
 * to one group cannot take the whole pool from everybody else's groups. The line is
 * bounded: past `maxWaiting`, a command is refused at once (429 GROUP_BUSY, with
 * Retry-After) instead of waiting without end. Other processes have lines of their own;
 * the row lock still orders commands across processes.
 */
export class GroupQueue {
  private readonly lines = new Map<string, { tail: Promise<void>; length: number }>();

  constructor(private readonly maxWaiting = 256) {}

  async run<T>(groupId: string, fn: () => Promise<T>): Promise<T> {
    const line = this.lines.get(groupId) ?? { tail: Promise.resolve(), length: 0 };
    if (line.length > this.maxWaiting) {
      throw new DomainError(429, 'GROUP_BUSY', `${line.length - 1} writes to this group are already waiting; try again shortly`);
    }
    line.length += 1;
    this.lines.set(groupId, line);
    const before = line.tail;
    let done!: () => void;
    line.tail = new Promise<void>((resolve) => (done = resolve));
    try {
      await before;
      return await fn();
    } finally {
      line.length -= 1;
      if (line.length === 0) this.lines.delete(groupId);
      done();
    }
  }

  /** Commands in line (running or waiting) for a group, for tests and logs. */
  waiting(groupId: string): number {
    return this.lines.get(groupId)?.length ?? 0;
  }
}
