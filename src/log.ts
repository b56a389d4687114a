import pino, { type Logger } from 'pino';

/** Structured JSON logs on stdout (or stderr for CLI tools whose stdout is their output). */
export function createLogger(level: string, destination: 1 | 2 = 1): Logger {
  return pino({ level, base: { service: 'fairshare' } }, pino.destination({ fd: destination, sync: destination === 2 }));
}
