/**
 * Webhook steps' calls, a loop of the worker role (it holds the master key that opens endpoints'
 * secrets, and the outbound guard): it takes due calls under a lease (store/automation-calls.ts),
 * POSTs each signed per Standard Webhooks with its endpoint's secret through the guard
 * (providers/webhooks/client.ts), and records the try: delivered or given up on, the journey moves
 * on in that transaction; otherwise the call is due again after a back-off
 * (domain/automations/webhook-call.ts). Every try of a call carries the same webhook-id, so a
 * receiver that got a try whose answer was lost drops the copy
 * (https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md, "Idempotency").
 */
import type { Sql, TransactionSql } from 'postgres';
import type { Logger } from 'pino';
import { systemClock, type Clock } from '../domain/clock.js';
import { decideTry, type TryAnswer } from '../domain/automations/webhook-call.js';
import { signedHeaders, signingSecrets } from '../domain/webhooks/signing.js';
import { ForbiddenAddress, type OutboundGuard } from '../providers/outbound-guard.js';
import { postWebhook } from '../providers/webhooks/client.js';
import { claimDueCalls, finishCall, retryCall, type ClaimedCall } from '../store/automation-calls.js';
import { openSecrets } from '../store/webhook-endpoints.js';
import type { Keyring } from '../store/sealed.js';

export interface AutomationWebhookDeps {
  sql: Sql;
  keyring: Keyring;
  log: Logger;
  guard: OutboundGuard;
  /** Herald's clock: due times, leases and back-off. */
  clock: Clock;
  /** The time written in webhook-timestamp, which receivers check against their own clock. */
  wallClock?: Clock | undefined;
  timeoutMs?: number | undefined;
  pollMs?: number | undefined;
  random?: (() => number) | undefined;
}

const defaultTimeoutMs = 15_000;
const batch = 32;

/** Takes due calls, tries each (all at once), records every try. How many it tried. */
export async function runDueCalls(deps: AutomationWebhookDeps): Promise<number> {
  const timeoutMs = deps.timeoutMs ?? defaultTimeoutMs;
  const now = deps.clock.now();
  // The lease outlasts a try, so a live try's claim never lapses under it.
  const calls = await deps.sql.begin((tx) => claimDueCalls(tx, new Date(now), new Date(now + timeoutMs + 30_000), batch));
  await Promise.all(calls.map((c) => tryCall(deps, c, timeoutMs).catch((err: unknown) => {
    deps.log.warn({ err, call: c.id }, 'recording a webhook step\'s try failed; the call is tried again when its lease lapses');
  })));
  return calls.length;
}

async function tryCall(deps: AutomationWebhookDeps, c: ClaimedCall, timeoutMs: number): Promise<void> {
  const record = (fn: (tx: TransactionSql) => Promise<boolean>) => deps.sql.begin(fn);
  // The journey exited or moved meanwhile (an exit event, a stop, its lifetime): nothing is sent.
  if (!c.journey_waits) {
    await record((tx) => finishCall(tx, c, { outcome: 'cancelled' }, new Date(deps.clock.now())));
    return;
  }
  let answer: TryAnswer;
  if (!c.sealed) {
    answer = { status: undefined, error: 'the webhook endpoint was deleted' };
    await record((tx) => finishCall(tx, c, { outcome: 'failed', reason: 'endpoint_missing', error: answer.error! }, new Date(deps.clock.now())));
    return;
  }
  answer = await post(deps, c, timeoutMs);
  const now = deps.clock.now();
  const d = decideTry(answer, { tries: c.tries, maxTries: c.max_tries, now, random: (deps.random ?? Math.random)() });
  await record(async (tx) => {
    if (d.kind === 'retry') return retryCall(tx, c, new Date(now + d.delayMs), d.status, d.error);
    return finishCall(tx, c, d.kind === 'delivered'
      ? { outcome: 'delivered', status: d.status }
      : { outcome: 'failed', reason: d.reason, status: d.status, error: d.error }, new Date(now));
  });
}

async function post(deps: AutomationWebhookDeps, c: ClaimedCall, timeoutMs: number): Promise<TryAnswer> {
  const target = new URL(c.url);
  const port = Number(target.port) || (target.protocol === 'https:' ? 443 : 80);
  try {
    deps.guard.check(target.hostname, port);
  } catch (err) {
    if (err instanceof ForbiddenAddress) return { error: err.message, forbidden: true };
    throw err;
  }
  const secrets = openSecrets(deps.keyring, { project_id: c.project_id, endpoint_id: c.endpoint_id, sealed: c.sealed!, previous_sealed: c.previous_sealed, previous_expires_at: c.previous_expires_at });
  const wall = (deps.wallClock ?? systemClock).now();
  const headers = signedHeaders(signingSecrets(secrets.current, secrets.previous, wall), c.id, Math.floor(wall / 1000), c.body);
  const a = await postWebhook(deps.guard, c.url, { ...headers }, c.body, timeoutMs);
  // A name that resolves to a refused address fails in the lookup (outbound-guard.ts#lookupFor).
  return { ...a, forbidden: a.status === undefined && a.error?.startsWith(new ForbiddenAddress('').code) };
}

/** Runs until stopped, sleeping `pollMs` on Herald's clock when nothing is due. */
export function startAutomationWebhooks(deps: AutomationWebhookDeps): { stop(): Promise<void> } {
  const stopped = new AbortController();
  const loop = (async () => {
    while (!stopped.signal.aborted) {
      let n = 0;
      try {
        n = await runDueCalls(deps);
      } catch (err) {
        deps.log.warn({ err }, 'taking webhook steps\' calls failed; will try again');
      }
      if (!n) await deps.clock.sleep(deps.pollMs ?? 1_000, stopped.signal);
    }
  })();
  return {
    stop: async () => {
      stopped.abort();
      await loop;
    },
  };
}
