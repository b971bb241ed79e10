/**
 * The APNs delivery step: a batch of delivery jobs becomes concurrent sends; each outcome is
 * recorded in PostgreSQL before its job is acked, so a crash at any point leaves a job that is
 * handed out again and recognised (its delivery is no longer `queued`) or re-sent with the same
 * apns-id and apns-collapse-id, which the device shows once.
 */
import type { Sql } from 'postgres';
import type { Logger } from 'pino';
import type { Job, WorkQueue } from '../queue/queue.js';
import { assertNever, type DeliveryOutcome } from '../domain/outcome.js';
import { buildApnsPush } from '../domain/apns-payload.js';
import { retryDelayMs, type BackoffPolicy } from '../domain/retry.js';
import {
  invalidateTokens, loadDeliveries, recordOutcomes, type DeliveryToSend, type OutcomeRecord,
} from '../store/deliveries.js';
import type { DeliveryPayload } from './topics.js';
import type { HeraldEvents } from './events.js';
import type { ApnsSendRequest } from '../providers/apns/client.js';

export interface ApnsDeliveryDeps<C> {
  sql: Sql;
  queue: WorkQueue;
  log: Logger;
  events: HeraldEvents;
  /** The project's APNs credentials, or undefined when it has none (and no sandbox runs). */
  credentialsFor(projectId: string): Promise<C | undefined>;
  send(creds: C, req: ApnsSendRequest): Promise<DeliveryOutcome>;
  now?: () => number;
  backoff?: BackoffPolicy | undefined;
}

type Decision =
  | { kind: 'final'; record: OutcomeRecord; invalidate?: string }
  | { kind: 'retry'; record: OutcomeRecord; delayMs: number }
  /** Out of attempts: the delivery fails and its job goes to the dead-letter table. */
  | { kind: 'dead'; record: OutcomeRecord }
  | { kind: 'done' };

export function apnsDeliveryHandler<C>(deps: ApnsDeliveryDeps<C>) {
  const now = deps.now ?? Date.now;
  return async (jobs: Job[]): Promise<void> => {
    const rows = new Map(
      (await loadDeliveries(deps.sql, jobs.map((j) => (j.payload as DeliveryPayload).delivery_id))).map((r) => [r.id, r]),
    );
    const creds = new Map<string, Promise<C | undefined>>();
    const decisions = await Promise.all(
      jobs.map(async (job): Promise<Decision> => {
        const d = rows.get((job.payload as DeliveryPayload).delivery_id);
        if (!d || d.status !== 'queued') return { kind: 'done' }; // erased, or finished before a crash
        const attempts = d.attempts + 1;
        const final = (status: OutcomeRecord['status'], reason: string | null): Decision => ({
          kind: 'final', record: { id: d.id, status, reason, attempts: d.attempts },
        });
        if (d.token_invalidated) return final('invalidated', 'token was invalidated by the provider');
        if (d.expires_at && d.expires_at.getTime() <= now()) return final('expired', 'ttl elapsed before delivery');
        if (!creds.has(d.project_id)) creds.set(d.project_id, deps.credentialsFor(d.project_id));
        const c = await creds.get(d.project_id);
        if (!c) return final('failed', 'apns_not_configured: the project has no APNs credentials');
        const started = performance.now();
        const outcome = await deps.send(c, toRequest(d));
        deps.events.emit('delivery:attempt', { channel: 'apns', outcome: outcome.kind, latencyMs: performance.now() - started });
        return decide(d, attempts, outcome, job);
      }),
    );

    const records: OutcomeRecord[] = [];
    const invalid: Parameters<typeof invalidateTokens>[1] = [];
    for (const [i, dec] of decisions.entries()) {
      if (dec.kind === 'done') continue;
      records.push(dec.record);
      if (dec.kind === 'final' && dec.invalidate) {
        const d = rows.get((jobs[i]!.payload as DeliveryPayload).delivery_id)!;
        invalid.push({ projectId: d.project_id, platform: d.platform, token: d.token, reason: dec.invalidate });
      }
    }
    await deps.sql.begin(async (tx) => {
      await invalidateTokens(tx, invalid);
      await recordOutcomes(tx, records);
    });

    const acks: Job[] = [];
    const later: Promise<void>[] = [];
    for (const [i, dec] of decisions.entries()) {
      const job = jobs[i]!;
      if (dec.kind === 'retry') {
        later.push(deps.queue.retry(job, dec.delayMs, dec.record.reason ?? 'retry'));
        continue;
      }
      if (dec.kind !== 'done') deps.events.emit('delivery:final', { channel: 'apns', status: dec.record.status });
      if (dec.kind === 'dead') later.push(deps.queue.deadLetter(job, dec.record.reason ?? 'out of attempts'));
      else acks.push(job);
    }
    await Promise.all([deps.queue.ack(acks), ...later]);
  };

  function decide(d: DeliveryToSend, attempts: number, o: DeliveryOutcome, job: Job): Decision {
    const rec = (status: OutcomeRecord['status'], reason: string | null): OutcomeRecord => ({ id: d.id, status, reason, attempts });
    switch (o.kind) {
      case 'delivered':
        return { kind: 'final', record: rec('sent', null) };
      case 'token_invalid':
        return { kind: 'final', record: rec('invalidated', o.reason), invalidate: o.reason };
      case 'rejected':
      case 'credentials_invalid':
        return { kind: 'final', record: rec('failed', o.reason) };
      case 'retry':
      case 'provider_down':
        if (job.attempt >= job.maxAttempts) {
          return { kind: 'dead', record: rec('failed', `gave up after ${attempts} attempts: ${o.reason}`) };
        }
        return { kind: 'retry', record: rec('queued', o.reason), delayMs: retryDelayMs(job.attempt, o.retryAfterMs, deps.backoff) };
      default:
        return assertNever(o);
    }
  }
}

function toRequest(d: DeliveryToSend): ApnsSendRequest {
  const parts = buildApnsPush(d.push, d.message_id, d.created_at.getTime());
  return {
    token: d.token,
    environment: d.apns_environment === 'sandbox' ? 'sandbox' : 'production',
    apnsId: d.id,
    collapseId: parts.collapseId,
    priority: parts.priority,
    pushType: parts.pushType,
    expiration: parts.expiration,
    payload: parts.payload,
  };
}
