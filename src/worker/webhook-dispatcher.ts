/**
 * The webhook dispatcher, a loop of the worker role: it claims due deliveries from the outbox
 * (store/webhook-deliveries.ts, SKIP LOCKED under a lease, at most `perEndpoint` in flight per
 * endpoint across all workers) and sends each on its own, so a slow or dead endpoint holds only its
 * own slots: the loop keeps claiming for the others while its requests wait out their timeouts.
 *
 * At least once: a delivery is final only after a 2xx was recorded; a worker that dies mid-request
 * leaves a lease that lapses and the delivery is sent again, with the same webhook-id (the event's
 * id), so receivers can drop the copy. A failure is tried again on the schedule of
 * domain/webhooks/schedule.ts (Retry-After honoured on 429/503); an endpoint failing continuously
 * for `disableAfterMs` (5 days) is disabled and what it missed stays for a replay.
 */
import { performance } from 'node:perf_hooks';
import type { Sql } from 'postgres';
import type { Logger } from 'pino';
import type { Clock } from '../domain/clock.js';
import { systemClock } from '../domain/clock.js';
import {
  defaultDisableAfterMs, honoursRetryAfter, isSuccess, nextAttemptDelayMs, parseRetryAfter, shouldDisable,
} from '../domain/webhooks/schedule.js';
import { payloadOf, signedHeaders, signingSecrets } from '../domain/webhooks/signing.js';
import type { OutboundGuard } from '../providers/outbound-guard.js';
import { postWebhook, type WebhookAnswer } from '../providers/webhooks/client.js';
import { claimDueWebhooks, disableFailingEndpoint, recordAttempts, type ClaimedWebhook, type FinishedAttempt } from '../store/webhook-deliveries.js';
import { createGroupCommit } from '../store/group-commit.js';
import { openSecrets } from '../store/webhook-endpoints.js';
import type { Keyring } from '../store/sealed.js';

export interface WebhookDispatcherDeps {
  sql: Sql;
  keyring: Keyring;
  log: Logger;
  guard: OutboundGuard;
  /** Herald's clock: claims, leases, the retry schedule and the disabling period. */
  clock: Clock;
  /**
   * The time written in webhook-timestamp. Receivers check it against their own clock (Standard
   * Webhooks, "Verifying": a tolerance of minutes), so it is the wall clock, not Herald's.
   */
  wallClock?: Clock | undefined;
  /** How often an idle dispatcher looks for due deliveries. */
  pollMs?: number | undefined;
  /** Requests in flight from this process, all endpoints together. */
  maxInFlight?: number | undefined;
  /** Requests in flight to one endpoint, all processes together. */
  perEndpoint?: number | undefined;
  /** One attempt's deadline. */
  timeoutMs?: number | undefined;
  disableAfterMs?: number | undefined;
  /** Retry delays after each failure (domain/webhooks/schedule.ts#defaultRetrySchedule). */
  schedule?: readonly number[] | undefined;
  random?: (() => number) | undefined;
}

export function startWebhookDispatcher(deps: WebhookDispatcherDeps): { stop(): Promise<void> } {
  const pollMs = deps.pollMs ?? 1_000;
  const maxInFlight = deps.maxInFlight ?? 64;
  const perEndpoint = deps.perEndpoint ?? 4;
  const timeoutMs = deps.timeoutMs ?? 15_000;
  // Longer than an attempt can take, so a live attempt's claim never lapses under it.
  const leaseMs = timeoutMs + 30_000;
  const disableAfterMs = deps.disableAfterMs ?? defaultDisableAfterMs;
  const wall = deps.wallClock ?? systemClock;
  const random = deps.random ?? Math.random;
  const stopped = new AbortController();
  const inFlight = new Set<Promise<void>>();
  let wake: AbortController | undefined;
  /** A slot was freed since the last claim began: a wake-up that came during a claim is not lost. */
  let freed = false;
  // Attempts that end while a record is committing share the next commit, and that commit claims
  // what is due for the slots they free: one transaction (one fsync) records a batch and claims its
  // successors, so under a backlog the loop's own claims, one at a time, do not pace the sending.
  const record = createGroupCommit<FinishedAttempt, { failingSince: Date | null } | undefined>({
    maxBatch: 256, maxConcurrent: 2,
    commit: async (batch) => {
      let next: ClaimedWebhook[] = [];
      const results = await deps.sql.begin(async (tx) => {
        const recorded = await recordAttempts(tx, batch);
        // The batch's own attempts are still counted in flight; their slots are free once recorded.
        const room = maxInFlight - inFlight.size + batch.length;
        if (room > 0 && !stopped.signal.aborted) {
          next = await claimDueWebhooks(tx, { now: new Date(deps.clock.now()), leaseMs, limit: room, perEndpoint });
        }
        return recorded;
      });
      for (const c of next) launch(c);
      return results;
    },
  });

  const attempt = async (c: ClaimedWebhook): Promise<void> => {
    const started = performance.now(); // a latency for the log, not a decision
    let answer: WebhookAnswer;
    try {
      const secrets = openSecrets(deps.keyring, c);
      const body = payloadOf(c.type, c.event_created_at, c.data);
      const headers = signedHeaders(signingSecrets(secrets.current, secrets.previous, deps.clock.now()), c.event_id, Math.floor(wall.now() / 1000), body);
      answer = await postWebhook(deps.guard, c.url, { ...headers }, body, timeoutMs);
    } catch (err) {
      // The secret does not open (another master key) or a bug: nothing was sent.
      deps.log.error({ err, endpointId: c.endpoint_id, projectId: c.project_id }, 'a webhook could not be prepared');
      answer = { error: `not sent: ${(err as Error).name}` };
    }
    const latencyMs = performance.now() - started;
    const now = deps.clock.now();
    const ok = isSuccess(answer.status);
    const retryAfterMs = answer.status !== undefined && honoursRetryAfter(answer.status) ? parseRetryAfter(answer.retryAfter, now) : undefined;
    const delay = ok ? undefined : nextAttemptDelayMs(c.attempts + 1, { retryAfterMs, random: random(), schedule: deps.schedule });
    const recorded = await record({
      claim: c, now: new Date(now),
      result: { ok, statusCode: answer.status ?? null, latencyMs, error: ok ? null : answer.error ?? null, nextAttemptAt: delay === undefined ? null : new Date(now + delay) },
    });
    if (!recorded || ok || !recorded.failingSince) return;
    if (shouldDisable(recorded.failingSince.getTime(), now, disableAfterMs)) {
      const reason = `every attempt failed since ${recorded.failingSince.toISOString()}`;
      const disabled = await disableFailingEndpoint(deps.sql, c.endpoint_id, recorded.failingSince, reason, new Date(now));
      if (disabled) {
        deps.log.warn({ projectId: c.project_id, endpointId: c.endpoint_id, failingSince: recorded.failingSince.toISOString() },
          'webhook endpoint disabled: it has failed continuously for the disabling period; what it missed can be replayed');
      }
    }
  };

  const launch = (c: ClaimedWebhook) => {
    const p = attempt(c)
      .catch((err: unknown) => deps.log.error({ err, endpointId: c.endpoint_id }, 'a webhook attempt could not be recorded; its lease will lapse and it is sent again'))
      .finally(() => {
        inFlight.delete(p);
        freed = true;
        wake?.abort(); // a slot is free: look again now
      });
    inFlight.add(p);
  };

  const loop = (async () => {
    while (!stopped.signal.aborted) {
      let claimed = 0;
      freed = false;
      const room = maxInFlight - inFlight.size;
      try {
        if (room > 0) {
          const rows = await claimDueWebhooks(deps.sql, { now: new Date(deps.clock.now()), leaseMs, limit: room, perEndpoint });
          claimed = rows.length;
          for (const c of rows) launch(c);
        }
      } catch (err) {
        deps.log.warn({ err }, 'webhook claim failed; will try again');
      }
      if (claimed > 0 && claimed === room) continue; // more may be due
      if (freed && claimed > 0) continue; // slots freed while claiming: look again for them now, not after pollMs
      wake = new AbortController();
      const either = AbortSignal.any([stopped.signal, wake.signal]);
      await deps.clock.sleep(pollMs, either);
    }
  })();

  return {
    stop: async () => {
      stopped.abort();
      await loop;
      await Promise.all([...inFlight]);
    },
  };
}
