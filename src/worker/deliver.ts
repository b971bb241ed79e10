/**
 * The delivery step, the same for every channel: a batch of delivery jobs is claimed in PostgreSQL
 * (one statement; the claim is committed before any provider call), sent concurrently through the
 * channel's sender, and every outcome is recorded in one transaction before its job is acked.
 *
 * A crash at any point leaves a job that is handed out again and finds one of:
 * - the delivery final → acked, nothing sent;
 * - the delivery claimed by a live call → the job waits for that claim to end;
 * - a claim that ended with no outcome (the worker died during the call): the outcome is unknown.
 *   A channel whose requests carry a key that makes a second copy replace the first (APNs apns-id
 *   and apns-collapse-id, an email's Message-ID...) sends again with the same key; a channel
 *   without one (SMS) records `unknown` rather than risk a second message.
 *
 * A circuit breaker per provider account (domain/circuit-breaker.ts) parks deliveries while their
 * provider is down: the claim is released and a fresh job is enqueued for when the breaker lets a
 * probe through, so an outage spends neither the deliveries' attempts nor the jobs'.
 *
 * Every delivery of a batch ends on its own: a sender (or a project's credentials) that throws for
 * one delivery decides that delivery alone, never its batch-mates, which may belong to other projects.
 */
import type { Sql } from 'postgres';
import type { ChannelSender } from '../channels/channel.js';
import type { Logger } from 'pino';
import type { Job, WorkQueue } from '../queue/queue.js';
import { assertNever, type DeliveryOutcome } from '../domain/outcome.js';
import { retryDelayMs, type BackoffPolicy } from '../domain/retry.js';
import { breakerVerdict, type CircuitBreakers } from '../domain/circuit-breaker.js';
import {
  claimDeliveries, invalidateTokens, lockDeliveries, recordOutcomes, releaseClaims, type DeliveryToSend, type OutcomeRecord,
} from '../store/deliveries.js';
import { recordCampaignOutcomes } from '../store/campaign-outcomes.js';
import type { DeliveryPayload } from './topics.js';
import { systemClock, type Clock } from '../domain/clock.js';
import type { HeraldEvents } from './events.js';
import { traceIdOf } from '../domain/trace-context.js';

export interface DeliveryDeps<C> {
  sql: Sql;
  queue: WorkQueue;
  log: Logger;
  events: HeraldEvents;
  sender: ChannelSender<C>;
  breakers: CircuitBreakers;
  /** How long a claim holds: longer than the slowest provider call (the sender's own timeouts). */
  claimMs: number;
  /** Times claims, expiries, breakers and retries. */
  clock?: Clock | undefined;
  backoff?: BackoffPolicy | undefined;
}

type Decision =
  | { kind: 'final'; record: OutcomeRecord; invalidate?: string }
  | { kind: 'retry'; record: OutcomeRecord; delayMs: number }
  /** Out of attempts: the delivery fails and its job goes to the dead-letter table. */
  | { kind: 'dead'; record: OutcomeRecord }
  /** Another call for this delivery is under way: run the job again after it. */
  | { kind: 'wait'; delayMs: number }
  /** The provider account's breaker is open: release the claim, a fresh job runs after `delayMs`. */
  | { kind: 'park'; record: OutcomeRecord; delayMs: number }
  /** The claim ended before the call started: give it back (if still this worker's), run the job again. */
  | { kind: 'release'; id: string }
  | { kind: 'done' };

export function deliveryHandler<C>(deps: DeliveryDeps<C>) {
  const clock = deps.clock ?? systemClock;
  const now = () => clock.now();
  const { channel } = deps.sender;
  return async (jobs: Job[]): Promise<void> => {
    const claimedAt = now();
    const found = await claimDeliveries(deps.sql, jobs.map((j) => (j.payload as DeliveryPayload).delivery_id), deps.claimMs, new Date(claimedAt));
    const creds = new Map<string, Promise<C | undefined>>();
    const results: { delivery: DeliveryToSend; outcome: DeliveryOutcome }[] = [];
    const decisions = await Promise.all(
      jobs.map(async (job): Promise<Decision> => {
        const claim = found.get((job.payload as DeliveryPayload).delivery_id);
        if (!claim || claim.kind === 'done') return { kind: 'done' };
        if (claim.kind === 'busy') return { kind: 'wait', delayMs: claim.retryInMs };
        const d = claim.delivery;
        const final = (status: OutcomeRecord['status'], reason: string | null): Decision => ({
          kind: 'final', record: { id: d.id, status, reason, attempts: d.attempts },
        });
        if (claim.ambiguous) {
          deps.events.emit('delivery:ambiguous', { channel, resent: deps.sender.resendIsSafe });
          if (!deps.sender.resendIsSafe) return final('unknown', 'a crash lost the provider call\'s outcome; not sent again');
        }
        if (d.token_invalidated) return final('invalidated', 'token was invalidated by the provider');
        if (d.expires_at && d.expires_at.getTime() <= now()) return final('expired', 'ttl elapsed before delivery');
        if (!creds.has(d.project_id)) creds.set(d.project_id, deps.sender.credentialsFor(d.project_id));
        let c: C | undefined;
        try {
          c = await creds.get(d.project_id);
        } catch (err) {
          // Nothing was sent: a later attempt is safe on every channel.
          deps.log.error({ err, channel, deliveryId: d.id, projectId: d.project_id, ...traceFields(d) }, 'the project\'s credentials could not be read');
          return notSent(d, job, `${channel} credentials could not be read (${errorName(err)})`);
        }
        if (!c) return final('failed', `${channel}_not_configured: the project has no ${channel} credentials`);
        // The claim ended before the call could start (a stalled process, a clock that moved on):
        // another job may hold the delivery now, so this one must not call, nor take the breaker's
        // probe. Nothing left the process: the claim is given back and the job runs again, without
        // spending one of the delivery's attempts. (No await between here and the call's start.)
        if (now() >= claimedAt + deps.claimMs) return { kind: 'release', id: d.id };
        const account = `${channel}:${deps.sender.accountOf(c, d)}`;
        const admission = deps.breakers.admit(account, now());
        if (admission.kind === 'park') {
          return { kind: 'park', delayMs: admission.forMs,
            record: { id: d.id, status: 'queued', reason: 'provider down: waiting for its circuit breaker', attempts: d.attempts, retryInMs: admission.forMs } };
        }
        const started = performance.now(); // a latency for metrics only
        let outcome: DeliveryOutcome;
        try {
          outcome = await deps.sender.send(c, d);
        } catch (err) {
          deps.breakers.record(account, undefined, now()); // says nothing about the provider
          return thrown(d, job, err);
        }
        deps.breakers.record(account, breakerVerdict(outcome), now());
        deps.log.debug({ channel, deliveryId: d.id, messageId: d.message_id, outcome: outcome.kind, ...traceFields(d) }, 'provider call');
        deps.events.emit('delivery:attempt', { channel, outcome: outcome.kind, latencyMs: performance.now() - started });
        results.push({ delivery: d, outcome });
        if (!deps.sender.resendIsSafe && deps.sender.outcomeIsAmbiguous?.(outcome)) {
          deps.events.emit('delivery:ambiguous', { channel, resent: false });
          return { kind: 'final', record: { id: d.id, status: 'unknown', reason: `${outcome.kind === 'delivered' ? '' : outcome.reason}; not sent again`, attempts: d.attempts + 1 } };
        }
        return decide(d, outcome, job);
      }),
    );

    const records: OutcomeRecord[] = [];
    const invalid: Parameters<typeof invalidateTokens>[1] = [];
    for (const dec of decisions) {
      if (dec.kind === 'done' || dec.kind === 'wait' || dec.kind === 'release') continue;
      records.push(dec.record);
      if (dec.kind === 'park') continue;
      if (dec.kind === 'final' && dec.invalidate) {
        const d = claimed(dec.record.id);
        invalid.push({ projectId: d.project_id, platform: d.platform, token: d.target, reason: dec.invalidate });
      }
    }
    const parked = decisions.flatMap((dec) => (dec.kind === 'park' ? [dec] : []));
    // Campaign recipients whose delivery ended: their ledger rows get the outcome in the same transaction.
    const ended = decisions.flatMap((dec) => {
      if (dec.kind !== 'final' && dec.kind !== 'dead') return [];
      const d = claimed(dec.record.id);
      return d.campaign && d.custom_id !== null ? [{ message_id: d.message_id, custom_id: d.custom_id }] : [];
    });
    await deps.sql.begin(async (tx) => {
      // Deliveries first, then counters and ledger rows: a provider's status callback (an SMS
      // `delivered` that beats this commit) locks its delivery and then the hourly counter row this
      // batch's outcomes also move, so taking a counter before a delivery deadlocked with it.
      await lockDeliveries(tx, results.map((r) => r.delivery.id).concat(records.map((r) => r.id)));
      await invalidateTokens(tx, invalid);
      await recordOutcomes(tx, records, new Date(now()));
      await releaseClaims(tx, decisions.flatMap((dec) => (dec.kind === 'release' ? [dec.id] : [])), new Date(claimedAt + deps.claimMs));
      if (ended.length) await recordCampaignOutcomes(tx, { pairs: ended }, new Date(now()));
      if (results.length) await deps.sender.recordExtra?.(tx, results);
      await deps.queue.enqueue(tx, parked.map((p) => ({
        topic: jobs[0]!.topic, payload: { delivery_id: p.record.id } satisfies DeliveryPayload, runAt: new Date(now() + p.delayMs),
      })));
    });

    const acks: Job[] = [];
    const later: Promise<void>[] = [];
    for (const [i, dec] of decisions.entries()) {
      const job = jobs[i]!;
      if (dec.kind === 'retry' || dec.kind === 'wait') {
        later.push(deps.queue.retry(job, dec.delayMs, dec.kind === 'retry' ? dec.record.reason ?? 'retry' : 'another attempt is under way'));
        continue;
      }
      if (dec.kind === 'release') {
        later.push(deps.queue.retry(job, 0, 'its claim ended before the provider call'));
        continue;
      }
      if (dec.kind === 'park') {
        acks.push(job); // its fresh job is committed
        continue;
      }
      if (dec.kind !== 'done') deps.events.emit('delivery:final', { channel, status: dec.record.status });
      if (dec.kind === 'dead') later.push(deps.queue.deadLetter(job, dec.record.reason ?? 'out of attempts'));
      else acks.push(job);
    }
    await Promise.all([deps.queue.ack(acks), ...later]);

    function claimed(id: string): DeliveryToSend {
      const c = found.get(id);
      if (c?.kind !== 'claimed') throw new Error(`delivery ${id} was not claimed`);
      return c.delivery;
    }
  };

  /**
   * The sender threw instead of returning an outcome: a bug, or a request Node refused to build.
   * Usually nothing left the process, but that is not known here, so this is a call whose outcome
   * was lost, like one cut off by a crash: where re-sending is safe it is retried (same provider
   * key, so a copy that did go out shows once; a bug that persists ends in the dead-letter table),
   * elsewhere it is recorded `unknown` rather than risk a second message.
   */
  function thrown(d: DeliveryToSend, job: Job, err: unknown): Decision {
    deps.log.error({ err, channel, deliveryId: d.id, projectId: d.project_id, ...traceFields(d) }, 'the sender threw; the delivery is decided on its own');
    // The error's name only: its message may quote what it was given.
    const reason = `the ${channel} sender failed (${errorName(err)})`;
    if (deps.sender.resendIsSafe) return decide(d, { kind: 'retry', reason }, job);
    deps.events.emit('delivery:ambiguous', { channel, resent: false });
    return { kind: 'final', record: { id: d.id, status: 'unknown', reason: `${reason}; not sent again`, attempts: d.attempts + 1 } };
  }

  /** Nothing was sent for the delivery: again later, without spending one of its attempts. */
  function notSent(d: DeliveryToSend, job: Job, reason: string): Decision {
    if (job.attempt >= job.maxAttempts) {
      return { kind: 'dead', record: { id: d.id, status: 'failed', reason: `gave up: ${reason}`, attempts: d.attempts } };
    }
    const delayMs = retryDelayMs(job.attempt, undefined, deps.backoff);
    return { kind: 'retry', record: { id: d.id, status: 'queued', reason, attempts: d.attempts, retryInMs: delayMs }, delayMs };
  }

  function decide(d: DeliveryToSend, o: DeliveryOutcome, job: Job): Decision {
    const attempts = d.attempts + 1;
    const rec = (status: OutcomeRecord['status'], reason: string | null, retryInMs?: number): OutcomeRecord =>
      ({ id: d.id, status, reason, attempts, retryInMs });
    switch (o.kind) {
      case 'delivered':
        return { kind: 'final', record: rec('sent', null) };
      case 'token_invalid':
        return { kind: 'final', record: rec('invalidated', o.reason), invalidate: o.reason };
      case 'rejected':
      case 'credentials_invalid':
        return { kind: 'final', record: rec('failed', o.reason) };
      case 'retry':
      case 'provider_down': {
        if (job.attempt >= job.maxAttempts) {
          return { kind: 'dead', record: rec('failed', `gave up after ${attempts} attempts: ${o.reason}`) };
        }
        const delayMs = retryDelayMs(job.attempt, o.retryAfterMs, deps.backoff);
        return { kind: 'retry', record: rec('queued', o.reason, delayMs), delayMs };
      }
      default:
        return assertNever(o);
    }
  }
}

/** A delivery's trace in a log line, named as OpenTelemetry names it in logs
 *  (https://opentelemetry.io/docs/specs/otel/compatibility/logging_trace_context/). */
const traceFields = (d: DeliveryToSend) => ({ trace_id: traceIdOf(d.traceparent), span_id: d.traceparent.slice(36, 52) });

/** `TypeError ERR_INVALID_PROTOCOL`: what went wrong, without the message's details. */
function errorName(err: unknown): string {
  if (!(err instanceof Error)) return typeof err;
  const code = (err as NodeJS.ErrnoException).code;
  return typeof code === 'string' ? `${err.name} ${code}` : err.name;
}
