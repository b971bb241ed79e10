/**
 * Herald's configuration, declared once: each option below names its flag, its environment
 * variable, its type and bounds, its default, whether it is a secret and which roles read it, and
 * its help. Everything else is derived from this one list: `herald start`'s flags (src/cli/main.ts),
 * validation, the README's configuration table (`npm run docs`; a test fails when they differ) and
 * the logger's redaction of secrets. Read once at start (flags, then environment, then defaults),
 * validated and frozen.
 */
import { resolve } from 'node:path';

export const roles = ['all', 'api', 'worker', 'relay', 'scheduler'] as const;
export type Role = (typeof roles)[number];

export class ConfigError extends Error {}

export const logFormats = ['auto', 'json', 'pretty'] as const;
export type LogFormat = (typeof logFormats)[number];

type Raw = string | undefined;

interface OptionBase<T> {
  flag: string;
  env: string;
  /** The README's words for the default (a computed default says how it is computed). */
  shownDefault: string;
  help: string;
  secret?: boolean;
  /** The roles whose processes read it; every role when absent. */
  roles?: readonly Exclude<Role, 'all'>[];
  parse(raw: Raw, flag: string): T;
}

const text = (dflt?: string) => (raw: Raw) => raw ?? dflt;
const int = (dflt: number, min: number, max: number) => (raw: Raw, flag: string): number => {
  if (raw === undefined) return dflt;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw new ConfigError(`--${flag} must be an integer from ${min} to ${max}, got "${raw}"`);
  return n;
};
const bool = (raw: Raw, flag: string): boolean => {
  if (raw === undefined) return false;
  if (['1', 'true', 'yes', 'on'].includes(raw.toLowerCase())) return true;
  if (['0', 'false', 'no', 'off'].includes(raw.toLowerCase())) return false;
  throw new ConfigError(`--${flag} must be true or false, got "${raw}"`);
};
const httpUrl = (raw: Raw, flag: string): string | undefined => {
  if (raw === undefined) return undefined;
  if (!/^https?:\/\/[^/]+/.test(raw)) throw new ConfigError(`--${flag} must be an http(s) URL, got "${raw}"`);
  return raw.replace(/\/$/, '');
};

/** Every option of `herald start`, in the README's order. */
export const configOptions = {
  dataDir: {
    flag: 'data-dir', env: 'HERALD_DATA_DIR', shownDefault: '`./.herald`',
    help: "Herald's files: the embedded PostgreSQL, generated secrets",
    parse: (raw: Raw) => resolve(raw ?? './.herald'),
  },
  databaseUrl: {
    flag: 'database-url', env: 'DATABASE_URL', shownDefault: '(embedded)', secret: true,
    help: 'use this PostgreSQL instead of the embedded one',
    parse: text(),
  },
  masterKey: {
    flag: 'master-key', env: 'HERALD_MASTER_KEY', shownDefault: '`<data-dir>/master.key`', secret: true, roles: ['api', 'worker'],
    help: '32 bytes (base64 or hex) sealing provider secrets; the same on every process of a deployment (docs/operations.md)',
    parse: text(),
  },
  previousMasterKey: {
    flag: 'previous-master-key', env: 'HERALD_PREVIOUS_MASTER_KEY', shownDefault: '`<data-dir>/master.key.old` if present', secret: true, roles: ['api', 'worker'],
    help: 'while the master key is rotated: the key being replaced, still accepted to open secrets sealed under it (docs/operations.md)',
    parse: text(),
  },
  host: {
    flag: 'host', env: 'HERALD_HOST', shownDefault: '`127.0.0.1`', roles: ['api'],
    help: 'API listen address',
    parse: (raw: Raw) => raw ?? '127.0.0.1',
  },
  port: {
    flag: 'port', env: 'HERALD_PORT', shownDefault: '`8080`', roles: ['api'],
    help: 'API port',
    parse: int(8080, 0, 65535),
  },
  role: {
    flag: 'role', env: 'HERALD_ROLE', shownDefault: '`all`',
    help: '`api`, `worker`, `relay`, `scheduler` or `all` (one process doing everything)',
    parse: (raw: Raw, flag: string): Role => {
      const r = (raw ?? 'all') as Role;
      if (!roles.includes(r)) throw new ConfigError(`--${flag} must be one of ${roles.join(', ')}, got "${r}"`);
      return r;
    },
  },
  sandbox: {
    flag: 'sandbox', env: 'HERALD_SANDBOX', shownDefault: 'off',
    help: 'run the provider simulators in this process; projects without credentials deliver to them',
    parse: bool,
  },
  sandboxPort: {
    flag: 'sandbox-port', env: 'HERALD_SANDBOX_PORT', shownDefault: '`9400`',
    help: "the sandbox's inspection API port",
    parse: int(9400, 0, 65535),
  },
  sandboxHost: {
    flag: 'sandbox-host', env: 'HERALD_SANDBOX_HOST', shownDefault: '`127.0.0.1`',
    help: "the sandbox's listen address",
    parse: (raw: Raw) => raw ?? '127.0.0.1',
  },
  sandboxUrl: {
    flag: 'sandbox-url', env: 'HERALD_SANDBOX_URL', shownDefault: 'none',
    help: 'use a sandbox running in another process (`herald sandbox`), by its inspection URL',
    parse: text(),
  },
  allowPrivateNetworks: {
    flag: 'allow-private-networks', env: 'HERALD_ALLOW_PRIVATE_NETWORKS', shownDefault: 'off', roles: ['api', 'worker'],
    help: "let tenants' push endpoints, webhook URLs and provider settings (SMTP host, FCM `token_uri`, SMS `base_url`) reach loopback, private and link-local addresses; off, only the sandbox's own simulators are reachable there (docs/security.md)",
    parse: bool,
  },
  workerConcurrency: {
    flag: 'worker-concurrency', env: 'HERALD_WORKER_CONCURRENCY', shownDefault: '`500`', roles: ['worker'],
    help: 'provider requests in flight per worker process',
    parse: int(500, 1, 100_000),
  },
  maxAttempts: {
    flag: 'max-attempts', env: 'HERALD_MAX_ATTEMPTS', shownDefault: '`8`', roles: ['worker'],
    help: 'delivery attempts before a job is dead-lettered',
    parse: int(8, 1, 100),
  },
  natsUrl: {
    flag: 'nats-url', env: 'NATS_URL', shownDefault: 'none', secret: true,
    help: "move work through NATS JetStream (comma-separated servers) instead of PostgreSQL's queue; PostgreSQL stays the record of truth",
    parse: (raw: Raw) => raw?.split(',').map((u) => u.trim()).filter(Boolean),
  },
  natsReplicas: {
    flag: 'nats-replicas', env: 'HERALD_NATS_REPLICAS', shownDefault: '`1`',
    help: 'replicas of the job stream (3 on a 3-node cluster)',
    parse: int(1, 1, 5),
  },
  natsStreamPrefix: {
    flag: 'nats-stream-prefix', env: 'HERALD_NATS_STREAM_PREFIX', shownDefault: '`herald`',
    help: 'names the stream and subjects, so several deployments can share a cluster',
    parse: (raw: Raw, flag: string): string => {
      const v = raw ?? 'herald';
      if (!/^[A-Za-z0-9_-]{1,32}$/.test(v)) throw new ConfigError(`--${flag} must be 1 to 32 letters, digits, _ or -, got "${v}"`);
      return v;
    },
  },
  publicUrl: {
    flag: 'public-url', env: 'HERALD_PUBLIC_URL', shownDefault: '`https://localhost:PORT`', roles: ['api', 'worker'],
    help: 'the https URL people reach Herald at: one-click unsubscribe links point there (set it in production)',
    parse: httpUrl,
  },
  callbackUrl: {
    flag: 'callback-url', env: 'HERALD_CALLBACK_URL', shownDefault: 'the public URL', roles: ['api', 'worker'],
    help: 'where providers post callbacks (SMS status and inbound messages)',
    parse: httpUrl,
  },
  reconcileAfterSeconds: {
    flag: 'reconcile-after', env: 'HERALD_RECONCILE_AFTER', shownDefault: '`600`', roles: ['scheduler'],
    help: 'seconds past due before the scheduler re-enqueues unfinished work whose job JetStream lost (a nats-server 2.9 cluster killed at once)',
    parse: int(600, 10, 86_400),
  },
  shutdownGraceSeconds: {
    flag: 'shutdown-grace-seconds', env: 'HERALD_SHUTDOWN_GRACE_SECONDS', shownDefault: '`30`',
    help: 'how long a stop (SIGTERM) lets the work in hand finish before it exits anyway; unfinished jobs return when their leases expire',
    parse: int(30, 1, 3_600),
  },
  rateProfileOperations: {
    flag: 'rate-profile-operations', env: 'HERALD_RATE_PROFILE_OPERATIONS', shownDefault: '`10000`', roles: ['api'],
    // Batch, the seed platform, allows 10,000 profile updates/s (https://doc.batch.com/developer/api/cep/profiles/update); SDK traffic is burstier.
    help: 'profile operations per second per project (REST updates and imports), in each API process',
    parse: int(10_000, 1, 10_000_000),
  },
  rateSdkEvents: {
    flag: 'rate-sdk-events', env: 'HERALD_RATE_SDK_EVENTS', shownDefault: '`100000`', roles: ['api'],
    help: 'SDK events, push events and attribute changes per second per project, in each API process',
    parse: int(100_000, 1, 10_000_000),
  },
  inboxRetentionDays: {
    flag: 'inbox-retention-days', env: 'HERALD_INBOX_RETENTION_DAYS', shownDefault: '`90`', roles: ['api', 'scheduler'],
    help: 'days an inbox item is kept (docs/inbox.md): the API stops showing it then, and the scheduler drops its week within 7 more days',
    parse: int(90, 1, 3_650),
  },
  // The API's socket deadlines and connection cap (src/api/http-limits.ts says why each default).
  // Headers are a few hundred bytes: 20 s leaves room for the slowest mobile network.
  httpHeadersTimeout: {
    flag: 'http-headers-timeout', env: 'HERALD_HTTP_HEADERS_TIMEOUT', shownDefault: '`20`', roles: ['api'],
    help: 'seconds a client has to send its request headers (slowloris)',
    parse: int(20, 1, 600),
  },
  httpRequestTimeout: {
    flag: 'http-request-timeout', env: 'HERALD_HTTP_REQUEST_TIMEOUT', shownDefault: '`600`', roles: ['api'],
    // At most an hour: the scheduler removes the staged lines of an upload older than two.
    help: 'seconds a whole request may take, body included (a 256 MiB bulk import at 0.45 MB/s)',
    parse: int(600, 1, 3600),
  },
  httpIdleTimeout: {
    flag: 'http-idle-timeout', env: 'HERALD_HTTP_IDLE_TIMEOUT', shownDefault: '`30`', roles: ['api'],
    help: 'seconds a connection may stay silent in the middle of a request',
    parse: int(30, 1, 3600),
  },
  // Longer than the 60 s idle timeout of common load balancers, so the balancer closes first and
  // never sends on a socket Herald is closing (AWS: https://docs.aws.amazon.com/elasticloadbalancing/latest/application/application-load-balancers.html#connection-idle-timeout).
  httpKeepAliveTimeout: {
    flag: 'http-keep-alive-timeout', env: 'HERALD_HTTP_KEEP_ALIVE_TIMEOUT', shownDefault: '`72`', roles: ['api'],
    help: 'seconds an idle keep-alive connection stays open (longer than a load balancer\'s 60)',
    parse: int(72, 1, 600),
  },
  // Well under the open-file limit Node raises itself to at start (the hard RLIMIT_NOFILE), with
  // room left for the database pool, NATS and provider connections.
  httpMaxConnections: {
    flag: 'http-max-connections', env: 'HERALD_HTTP_MAX_CONNECTIONS', shownDefault: '`8192`', roles: ['api'],
    help: 'open connections the API accepts at once; keep it under the open-file limit',
    parse: int(8192, 1, 1_000_000),
  },
  logLevel: {
    flag: 'log-level', env: 'HERALD_LOG_LEVEL', shownDefault: '`info`',
    help: 'pino level',
    parse: (raw: Raw) => raw ?? 'info',
  },
  logFormat: {
    flag: 'log-format', env: 'HERALD_LOG_FORMAT', shownDefault: '`auto`',
    help: '`json` (one JSON object a line), `pretty` (human-readable, through pino-pretty) or `auto`: pretty when the log goes to a terminal, JSON otherwise. Secrets are redacted in both',
    parse: (raw: Raw, flag: string): LogFormat => {
      const v = (raw ?? 'auto') as LogFormat;
      if (!logFormats.includes(v)) throw new ConfigError(`--${flag} must be one of ${logFormats.join(', ')}, got "${v}"`);
      return v;
    },
  },
} satisfies Record<string, OptionBase<unknown>>;

type Options = typeof configOptions;
type Parsed = { [K in keyof Options]: ReturnType<Options[K]['parse']> };

type Folded = 'publicUrl' | 'callbackUrl' | 'rateProfileOperations' | 'rateSdkEvents'
  | 'httpHeadersTimeout' | 'httpRequestTimeout' | 'httpIdleTimeout' | 'httpKeepAliveTimeout' | 'httpMaxConnections';

export interface Config extends Omit<Parsed, Folded> {
  /** The URL the world reaches this deployment's API at: one-click unsubscribe links and SMS status callbacks point there. */
  publicUrl: string;
  /** The URL providers call back (SMS status and inbound webhooks); the public URL unless they reach Herald another way. */
  callbackUrl: string;
  /** Per-project rates of the profile and SDK data endpoints (src/api/rate-limit.ts). */
  rateLimits: { profileOperationsPerSecond: number; sdkEventsPerSecond: number };
  /** The API's socket deadlines and connection cap (src/api/http-limits.ts). */
  httpLimits: { headersTimeoutMs: number; requestTimeoutMs: number; idleTimeoutMs: number; keepAliveTimeoutMs: number; maxConnections: number };
}

/** The names of the options that hold secrets: the logger redacts them wherever they appear. */
export const secretKeys: readonly string[] = Object.entries(configOptions)
  .filter(([, o]) => (o as OptionBase<unknown>).secret).map(([k]) => k);

/** Builds the configuration from parsed command-line flags (kebab-case, as `parseArgs` gives them) and the environment. */
export function loadConfig(
  flags: Record<string, string | boolean | undefined> = {},
  env: Record<string, string | undefined> = process.env,
): Readonly<Config> {
  const raw = (o: OptionBase<unknown>): Raw => {
    const v = flags[o.flag] ?? env[o.env];
    return v === undefined || v === '' ? undefined : String(v);
  };
  const parsed = Object.fromEntries(
    Object.entries(configOptions).map(([key, o]) => [key, (o as OptionBase<unknown>).parse(raw(o), o.flag)]),
  ) as Parsed;
  const {
    rateProfileOperations, rateSdkEvents, httpHeadersTimeout, httpRequestTimeout, httpIdleTimeout, httpKeepAliveTimeout, httpMaxConnections, ...rest
  } = parsed;
  const publicUrl = parsed.publicUrl ?? `https://localhost:${parsed.port}`;
  const config: Config = {
    ...rest,
    publicUrl,
    callbackUrl: parsed.callbackUrl ?? publicUrl,
    rateLimits: { profileOperationsPerSecond: rateProfileOperations, sdkEventsPerSecond: rateSdkEvents },
    httpLimits: {
      headersTimeoutMs: httpHeadersTimeout * 1000, requestTimeoutMs: httpRequestTimeout * 1000, idleTimeoutMs: httpIdleTimeout * 1000,
      keepAliveTimeoutMs: httpKeepAliveTimeout * 1000, maxConnections: httpMaxConnections,
    },
  };
  if (config.sandbox && config.sandboxUrl) {
    throw new ConfigError('--sandbox and --sandbox-url are exclusive: run the simulators here, or use another process\'s');
  }
  return Object.freeze(config);
}

/** `parseArgs` options for every config flag: booleans are switches, the rest take a value. */
export function configFlags(): Record<string, { type: 'string' | 'boolean' }> {
  return Object.fromEntries(Object.values(configOptions).map((o) => [o.flag, { type: o.parse === bool ? 'boolean' : 'string' }]));
}

/** The README's configuration table, rendered from the options. */
export function renderConfigTable(): string {
  const rows = Object.values(configOptions).map((o: OptionBase<unknown>) => {
    const secret = o.secret ? ' **Secret**: never logged.' : '';
    return `| \`--${o.flag}\` | \`${o.env}\` | ${o.shownDefault} | ${o.roles?.join(', ') ?? 'all'} | ${o.help}.${secret} |`;
  });
  return ['| flag | environment | default | read by | meaning |', '|---|---|---|---|---|', ...rows].join('\n');
}
