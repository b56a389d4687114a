import pino, { type Logger } from 'pino';
import pretty from 'pino-pretty';

/**
 * How log lines are written: `json` (one JSON object per line, for machines and log
 * shippers), `pretty` (pino-pretty's coloured, one-line-per-event text, for a person at
 * a terminal), or `auto`: pretty when the destination is a terminal, JSON otherwise.
 */
export type LogFormat = 'auto' | 'pretty' | 'json';

/** Structured logs on stdout (or stderr for CLI tools whose stdout is their output). */
export function createLogger(level: string, destination: 1 | 2 = 1, format: LogFormat = 'auto'): Logger {
  const options = { level, base: { service: 'fairshare' } };
  const terminal = destination === 1 ? process.stdout.isTTY : process.stderr.isTTY;
  // A container started with a terminal (docker run -t) is still production: its log
  // shippers want JSON there.
  const production = process.env.NODE_ENV === 'production';
  if (format === 'pretty' || (format === 'auto' && terminal === true && !production)) {
    // In this process, synchronously (no worker thread): a line is out before the next
    // statement, and nothing is lost when the process exits.
    return pino(
      options,
      pretty({
        destination,
        sync: true,
        colorize: terminal === true && process.env.NO_COLOR === undefined,
        translateTime: 'SYS:HH:MM:ss.l',
        ignore: 'pid,hostname,service',
        singleLine: true,
      }),
    );
  }
  return pino(options, pino.destination({ fd: destination, sync: destination === 2 }));
}
