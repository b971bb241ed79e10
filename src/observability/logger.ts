/**
 * Logs through pino, with secrets redacted wherever they appear: JSON lines for log collectors,
 * or human-readable lines (pino-pretty) on a terminal. Redaction happens in pino before either
 * format sees the line.
 */
import { isatty } from 'node:tty';
import { pino, type DestinationStream, type Logger } from 'pino';
import pretty from 'pino-pretty';
import { secretKeys, type LogFormat } from '../config.js';

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

/**
 * Error fields that quote a statement's text or parameters, or a row's values (postgres.js errors
 * carry `query`, `parameters`, `args`, `types`; PostgreSQL's DETAIL, HINT, CONTEXT ("where") and
 * internal query may quote values: https://www.postgresql.org/docs/current/protocol-error-fields.html).
 */
const valueBearing = new Set(['query', 'parameters', 'args', 'types', 'detail', 'hint', 'where', 'internal_query', 'position', 'internal_position']);

/**
 * A PostgreSQL message without the values it may quote: data exceptions (SQLSTATE class 22, such as
 * `invalid input syntax for type uuid: "…"`) and raised exceptions (P0) name the offending value,
 * other classes name only objects (constraints, tables), which are kept in their own fields anyway.
 */
function safeMessage(err: Error & { code?: unknown }): string {
  if (err.name !== 'PostgresError' || typeof err.code !== 'string' || !/^(22|P0)/.test(err.code)) return err.message;
  const head = err.message.split(': ')[0] ?? '';
  return head.replace(/"[^"]*"/g, '"…"') + (head.length < err.message.length ? ': […]' : '');
}

/** Serializes an error (and its causes) for the log without any field that may carry values. */
export function serializeError(err: unknown, depth = 0): unknown {
  if (!(err instanceof Error)) return err;
  const message = safeMessage(err);
  const out: Record<string, unknown> = {
    type: err.constructor?.name ?? err.name,
    message,
    stack: err.stack?.replace(err.message, message),
  };
  for (const [key, value] of Object.entries(err)) {
    if (valueBearing.has(key) || key in out) continue;
    out[key] = value instanceof Error ? (depth < 4 ? serializeError(value, depth + 1) : '[error]') : value;
  }
  if (err.cause !== undefined && depth < 4) out.cause = serializeError(err.cause, depth + 1);
  if (err instanceof AggregateError && depth < 4) out.errors = err.errors.map((e) => serializeError(e, depth + 1));
  return out;
}

/** Whether a log in `format` written to a destination that is (or is not) a terminal is pretty. */
export function prettyLogs(format: LogFormat, terminal: boolean): boolean {
  return format === 'pretty' || (format === 'auto' && terminal);
}

/**
 * `toStderr` keeps stdout for a command's result (`herald project create` prints JSON there).
 * `format` (--log-format): `auto`, the default, is pretty when that output is a terminal.
 */
export function createLogger(
  level = 'info', opts: { toStderr?: boolean; destination?: DestinationStream; format?: LogFormat } = {},
): Logger {
  const options = { name: 'herald', level, redact: { paths: redact, censor: '[redacted]' }, serializers: { err: serializeError } };
  const fd = opts.toStderr ? 2 : 1;
  if (prettyLogs(opts.format ?? 'auto', !opts.destination && isatty(fd))) {
    // Synchronous, like pino.destination(): a line is written before the process can exit.
    return pino(options, pretty({
      destination: opts.destination ?? fd, sync: true, colorize: !opts.destination && pretty.isColorSupported,
      translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname',
    }));
  }
  if (opts.destination) return pino(options, opts.destination);
  return opts.toStderr ? pino(options, pino.destination(2)) : pino(options);
}

/** A logger that writes nothing, for tests and benchmarks. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
