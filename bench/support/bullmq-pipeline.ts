/**
 * The baseline of `npm run bench -- scaleout`: the pipeline a Novu-like design builds on BullMQ
 * (Novu's queue, on Redis), doing the work Herald does for a transactional send:
 *
 *   POST /v1/transactional/send (bullmq-accept.ts, Fastify)
 *     → insert the message into PostgreSQL (Herald's own `messages` table), add a fan-out job
 *   fan-out Worker (bullmq-worker.ts)
 *     → insert one `deliveries` row per token (one set-based statement), addBulk one delivery job each
 *   delivery Worker (bullmq-worker.ts, concurrency like Herald's --worker-concurrency)
 *     → Herald's APNs sender (providers/apns/client.ts) to the sandbox, then an UPDATE of the
 *       delivery's row with its outcome, one statement per delivery
 *
 * The jobs carry what the send needs (token, payload), so the delivery Worker reads nothing from
 * PostgreSQL first; Herald's worker loads its rows. That, and no idempotency or invalidated-token
 * lookups in the fan-out, favour the baseline. Not modelled: the dual write (a crash between the
 * PostgreSQL commit and the Redis add loses or duplicates work; Herald's outbox closes that gap).
 *
 * This file holds what the orchestrator and both child processes share, and starting them.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { Queue, type ConnectionOptions } from 'bullmq';
import { packageRoot } from '../../src/paths.js';
import { nodeFlags } from './herald-roles.js';
import type { PushMessage } from '../../src/domain/push.js';

export const fanoutQueueName = 'fanout';
export const deliveryQueueName = 'deliver';

export interface FanoutJobData {
  message_id: string;
  project_id: string;
  /** ms since the epoch: the message's created_at, for the payload's expiration. */
  created_at: number;
  push: PushMessage;
  tokens: { platform: string; token: string }[];
}

export interface DeliveryJobData {
  delivery_id: string;
  token: string;
  payload: string;
  collapse_id: string;
  priority: 10 | 5;
  expiration: number;
}

/** Attempts of a delivery job before BullMQ fails it (Herald's default --max-attempts). */
export const deliveryAttempts = 8;

export function redisConnection(redisUrl: string): ConnectionOptions {
  const u = new URL(redisUrl);
  // BullMQ Workers need maxRetriesPerRequest: null (blocking commands must not time out).
  return { host: u.hostname, port: Number(u.port || 6379), maxRetriesPerRequest: null };
}

const script = (name: string) => join(packageRoot, 'dist', 'bench', 'support', name);

export interface ChildProc {
  child: ChildProcess;
  output(): string;
  stop(): Promise<number | null>;
}

/** Starts `node [HERALD_NODE_FLAGS] dist/bench/support/NAME.js ARGS`; resolves once it prints `ready`. */
export async function spawnScript(name: string, args: string[], timeoutMs = 30_000): Promise<ChildProc> {
  const child = spawn(process.execPath, [...nodeFlags(), '--enable-source-maps', script(name), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let ready: (() => void) | undefined;
  const keep = (d: Buffer) => {
    out = (out + d.toString()).slice(-20_000);
    if (/^ready$/m.test(out)) ready?.();
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`${name} not ready in ${timeoutMs} ms:\n${out}`)); }, timeoutMs);
    ready = () => { clearTimeout(timer); resolve(); };
    void exited.then((code) => { clearTimeout(timer); reject(new Error(`${name} exited with ${code}:\n${out}`)); });
  });
  return { child, output: () => out, stop: async () => { child.kill('SIGTERM'); return exited; } };
}

/** Removes both queues and every other key under `prefix` (BullMQ's keys are `prefix:queue:…`). */
export async function flushBullmq(redisUrl: string, prefix: string): Promise<number> {
  const queue = new Queue(fanoutQueueName, { connection: redisConnection(redisUrl), prefix });
  try {
    const client = await queue.client;
    let removed = 0;
    let cursor = '0';
    do {
      const [next, keys] = await client.scan(cursor, { MATCH: `${prefix}:*`, COUNT: 1000 });
      cursor = next;
      if (keys.length) removed += await client.del(...keys);
    } while (cursor !== '0');
    return removed;
  } finally {
    await queue.close();
  }
}
