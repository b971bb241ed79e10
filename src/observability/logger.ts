/** Structured JSON logs through pino, with secrets redacted wherever they appear. */
import { pino, type DestinationStream, type Logger } from 'pino';
import { secretKeys } from '../config.js';

export type { Logger };

const redact = [
  'authorization', '*.authorization', 'headers.authorization', 'req.headers.authorization',
  // The config's secrets (declared in src/config.ts), as the config itself or inside a logged object.
  ...secretKeys.flatMap((k) => [k, `*.${k}`]),
  'password', '*.password', 'privateKeyPem', '*.privateKeyPem',
  'private_key', '*.private_key', 'rest_key', 'sdk_key', '*.rest_key', '*.sdk_key',
  // Provider credentials (src/domain/provider-credentials.ts), wherever a body might be logged.
  'private_key_pem', '*.private_key_pem', '*.*.private_key_pem', '*.*.*.private_key_pem',
  '*.*.private_key', '*.*.*.private_key',
  'auth_token', '*.auth_token', '*.*.auth_token', '*.*.password', 'sealed', '*.sealed',
];

/** `toStderr` keeps stdout for a command's result (`herald project create` prints JSON there). */
export function createLogger(level = 'info', opts: { toStderr?: boolean; destination?: DestinationStream } = {}): Logger {
  const options = { name: 'herald', level, redact: { paths: redact, censor: '[redacted]' } };
  if (opts.destination) return pino(options, opts.destination);
  return opts.toStderr ? pino(options, pino.destination(2)) : pino(options);
}

/** A logger that writes nothing, for tests and benchmarks. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
