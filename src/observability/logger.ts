/** Structured JSON logs through pino, with secrets redacted wherever they appear. */
import { pino, type Logger } from 'pino';

export type { Logger };

const redact = [
  'authorization', '*.authorization', 'headers.authorization', 'req.headers.authorization',
  'password', '*.password', 'databaseUrl', '*.databaseUrl', 'natsUrl', '*.natsUrl', 'privateKeyPem', '*.privateKeyPem',
  'private_key', '*.private_key', 'rest_key', 'sdk_key', '*.rest_key', '*.sdk_key',
];

/** `toStderr` keeps stdout for a command's result (`herald project create` prints JSON there). */
export function createLogger(level = 'info', opts: { toStderr?: boolean } = {}): Logger {
  const options = { name: 'herald', level, redact: { paths: redact, censor: '[redacted]' } };
  return opts.toStderr ? pino(options, pino.destination(2)) : pino(options);
}

/** A logger that writes nothing, for tests and benchmarks. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
