/**
 * Herald's configuration: one schema, read once at start (flags, then environment, then defaults),
 * validated and frozen. Secrets are listed in `secretKeys` so logs can redact them.
 */
import { resolve } from 'node:path';

export const roles = ['all', 'api', 'worker', 'relay', 'scheduler'] as const;
export type Role = (typeof roles)[number];

export interface Config {
  /** Folder for Herald's own files: the embedded PostgreSQL, generated keys. */
  dataDir: string;
  /** An external PostgreSQL; when absent Herald runs its own embedded one in dataDir. */
  databaseUrl: string | undefined;
  /** 32 bytes (base64 or hex) sealing provider secrets; `<dataDir>/master.key` when absent. One key per deployment. */
  masterKey: string | undefined;
  host: string;
  port: number;
  role: Role;
  /** Run the provider simulators inside this process and point unconfigured projects at them. */
  sandbox: boolean;
  sandboxPort: number;
  sandboxHost: string;
  /** Use a sandbox that runs in another process (`herald sandbox`), by its inspection URL. */
  sandboxUrl: string | undefined;
  logLevel: string;
  /** Concurrent provider requests one worker process keeps in flight. */
  workerConcurrency: number;
  /** Delivery attempts before a job goes to the dead-letter table. */
  maxAttempts: number;
  /** NATS JetStream servers (comma-separated seed list) for the work queue; PostgreSQL's queue when absent. */
  natsUrl: string[] | undefined;
  /** Replicas of the job stream: 3 on a 3-node NATS cluster. */
  natsReplicas: number;
  /** Names this deployment's stream and subjects, so several Heralds can share one NATS cluster. */
  natsStreamPrefix: string;
  /** The URL the world reaches this deployment's API at: one-click unsubscribe links and SMS status callbacks point there. */
  publicUrl: string;
  /** The URL providers call back (SMS status and inbound webhooks); the public URL unless they reach Herald another way. */
  callbackUrl: string;
  /** How long past due unfinished work waits before the reconciler presumes its job lost (JetStream only). */
  reconcileAfterSeconds: number;
  /** How long a stop (SIGTERM) lets the work in hand finish before it exits anyway; unfinished jobs return when their leases expire. */
  shutdownGraceSeconds: number;
  /** Per-project rates of the profile and SDK data endpoints (src/api/rate-limit.ts). */
  rateLimits: { profileOperationsPerSecond: number; sdkEventsPerSecond: number };
}

export const secretKeys = ['databaseUrl', 'natsUrl', 'masterKey'] as const;

export class ConfigError extends Error {}

type Source = Record<string, string | undefined>;

/** Builds the configuration from parsed command-line flags (kebab-case) and the environment. */
export function loadConfig(flags: Source = {}, env: Source = process.env): Readonly<Config> {
  const pick = (flag: string, envName: string): string | undefined => {
    const v = flags[flag] ?? env[envName];
    return v === undefined || v === '' ? undefined : v;
  };
  const int = (flag: string, envName: string, dflt: number, min: number, max: number): number => {
    const raw = pick(flag, envName);
    if (raw === undefined) return dflt;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min || n > max) {
      throw new ConfigError(`--${flag} / ${envName} must be an integer from ${min} to ${max}, got "${raw}"`);
    }
    return n;
  };
  const bool = (flag: string, envName: string): boolean => {
    const raw = pick(flag, envName);
    if (raw === undefined) return false;
    if (['1', 'true', 'yes', 'on'].includes(raw.toLowerCase())) return true;
    if (['0', 'false', 'no', 'off'].includes(raw.toLowerCase())) return false;
    throw new ConfigError(`--${flag} / ${envName} must be true or false, got "${raw}"`);
  };
  const role = (pick('role', 'HERALD_ROLE') ?? 'all') as Role;
  if (!roles.includes(role)) throw new ConfigError(`--role must be one of ${roles.join(', ')}, got "${role}"`);

  const config: Config = {
    dataDir: resolve(pick('data-dir', 'HERALD_DATA_DIR') ?? './.herald'),
    databaseUrl: pick('database-url', 'DATABASE_URL'),
    masterKey: pick('master-key', 'HERALD_MASTER_KEY'),
    host: pick('host', 'HERALD_HOST') ?? '127.0.0.1',
    port: int('port', 'HERALD_PORT', 8080, 0, 65535),
    role,
    sandbox: bool('sandbox', 'HERALD_SANDBOX'),
    sandboxPort: int('sandbox-port', 'HERALD_SANDBOX_PORT', 9400, 0, 65535),
    sandboxHost: pick('sandbox-host', 'HERALD_SANDBOX_HOST') ?? '127.0.0.1',
    sandboxUrl: pick('sandbox-url', 'HERALD_SANDBOX_URL'),
    logLevel: pick('log-level', 'HERALD_LOG_LEVEL') ?? 'info',
    workerConcurrency: int('worker-concurrency', 'HERALD_WORKER_CONCURRENCY', 500, 1, 100_000),
    maxAttempts: int('max-attempts', 'HERALD_MAX_ATTEMPTS', 8, 1, 100),
    natsUrl: pick('nats-url', 'NATS_URL')?.split(',').map((u) => u.trim()).filter(Boolean),
    natsReplicas: int('nats-replicas', 'HERALD_NATS_REPLICAS', 1, 1, 5),
    natsStreamPrefix: pick('nats-stream-prefix', 'HERALD_NATS_STREAM_PREFIX') ?? 'herald',
    publicUrl: (pick('public-url', 'HERALD_PUBLIC_URL') ?? `https://localhost:${int('port', 'HERALD_PORT', 8080, 0, 65535)}`).replace(/\/$/, ''),
    callbackUrl: '',
    reconcileAfterSeconds: int('reconcile-after', 'HERALD_RECONCILE_AFTER', 600, 10, 86_400),
    shutdownGraceSeconds: int('shutdown-grace-seconds', 'HERALD_SHUTDOWN_GRACE_SECONDS', 30, 1, 3_600),
    rateLimits: {
      profileOperationsPerSecond: int('rate-profile-operations', 'HERALD_RATE_PROFILE_OPERATIONS', 10_000, 1, 10_000_000),
      sdkEventsPerSecond: int('rate-sdk-events', 'HERALD_RATE_SDK_EVENTS', 100_000, 1, 10_000_000),
    },
  };
  config.callbackUrl = (pick('callback-url', 'HERALD_CALLBACK_URL') ?? config.publicUrl).replace(/\/$/, '');
  for (const [flag, url] of [['public-url', config.publicUrl], ['callback-url', config.callbackUrl]] as const) {
    if (!/^https?:\/\/[^/]+/.test(url)) throw new ConfigError(`--${flag} must be an http(s) URL, got "${url}"`);
  }
  if (!/^[A-Za-z0-9_-]{1,32}$/.test(config.natsStreamPrefix)) {
    throw new ConfigError(`--nats-stream-prefix must be 1 to 32 letters, digits, _ or -, got "${config.natsStreamPrefix}"`);
  }
  if (config.sandbox && config.sandboxUrl) {
    throw new ConfigError('--sandbox and --sandbox-url are exclusive: run the simulators here, or use another process\'s');
  }
  return Object.freeze(config);
}
