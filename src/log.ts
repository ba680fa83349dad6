import { pino } from 'pino';
import pretty from 'pino-pretty';

/**
 * Logs go to stderr so that stdout carries results only: readable lines on a terminal, JSON
 * lines otherwise (or always, with LOOKALIKE_LOG_FORMAT=json).
 */
const json =
  process.env.LOOKALIKE_LOG_FORMAT === 'json' ||
  (!process.stderr.isTTY && process.env.LOOKALIKE_LOG_FORMAT !== 'pretty');

export const log = pino(
  { level: process.env.LOOKALIKE_LOG ?? 'info', base: undefined },
  json
    ? pino.destination({ fd: 2, sync: true })
    : pretty({ destination: 2, sync: true, ignore: 'pid,hostname', translateTime: 'HH:MM:ss' }),
);
