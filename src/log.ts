import { pino, type Logger } from 'pino';

/**
 * Logs go to stderr: pino JSON for machines, pretty on a TTY. Results go to
 * stdout and never through the logger.
 */
export type Log = Logger;

export function createLog(level = process.env.HERALD_LOG_LEVEL ?? 'info'): Log {
  if (process.stderr.isTTY) {
    return pino({
      level,
      transport: { target: 'pino-pretty', options: { destination: 2, ignore: 'pid,hostname', translateTime: 'HH:MM:ss' } },
    });
  }
  return pino({ level, base: undefined }, pino.destination(2));
}

/** A logger that drops everything, for library calls from tests. */
export const silentLog: Log = pino({ level: 'silent' });
