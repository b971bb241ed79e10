/**
 * Claim leases on top of one fixed consumer ack_wait.
 *
 * A work-queue stream allows one consumer per topic, so one ack_wait serves every claim of the topic
 * while `claim` takes its own `leaseMs`. The claimer keeps its lease exact itself:
 * - while a lease runs, every ack_wait/3 it sends `+WPI` ("working", resets the server's timer) for
 *   each job it holds, so a lease longer than ack_wait holds;
 * - when a lease ends unacked, it naks the job (no delay) so the job is handed out again at once, as
 *   the PostgreSQL backend does;
 * - a claimer that really dies is replaced by the server after ack_wait since its last signal:
 *   later than a short lease, sooner than a long one. That is the trade-off of a fixed ack_wait:
 *   a smaller one replaces dead claimers sooner, costs more `+WPI` traffic, and takes the job from a
 *   claimer whose event loop stalls for 2/3 of it.
 *
 * Fencing. nats-server 2.9.10 applies an ack, nak, term or progress to the stream sequence, whatever
 * delivery it came from (checked in queue.test.ts): a late ack from a claimer whose lease ran out
 * would delete the job its successor holds. So a claimer acts on a job only while it holds the
 * lease and the server cannot have handed the job out again (less than ack_wait minus a margin
 * since the delivery or the last `+WPI`); otherwise ack, retry and dead-letter do nothing, like the
 * PostgreSQL backend's attempt fence.
 *
 * Two clocks: a lease's end is Herald's clock (domain/clock.ts: a test that moves it ends leases),
 * while ack_wait is the NATS server's own real-time timer, so `touchedAt` and the fence read real time.
 */
import type { Logger } from 'pino';
import type { NatsConnection } from '@nats-io/transport-node';
import { nakBody } from './acks.js';
import type { Clock } from '../../domain/clock.js';

export interface Held {
  reply: string;
  topic: string;
  /** Enqueue time, ms since the epoch. */
  createdAtMs: number;
  /** When the lease ends (Herald's clock, ms). */
  leaseEnd: number;
  /** Last time the server's ack_wait timer was reset: the delivery or the last +WPI (real time). */
  touchedAt: number;
}

export interface Leases {
  /** Starts the lease of a batch just claimed. Keys are `leaseKey(job)`; `receivedAt` (real time,
   *  default now) is when the batch arrived, since the server's ack_wait timer runs from then. */
  hold(batch: Map<string, Omit<Held, 'leaseEnd' | 'touchedAt'>>, leaseMs: number, receivedAt?: number): void;
  /** The held delivery if this process still holds its lease, without giving it up. */
  peek(key: string): Held | undefined;
  /** Gives the lease up and returns the delivery to ack, nak or term, or undefined when fenced. */
  take(key: string): Held | undefined;
  /** Naks every job still held, so other claimers get them now rather than after ack_wait. */
  releaseAll(): void;
  size(): number;
}

export const leaseKey = (job: { id: string; attempt: number }): string => `${job.id}#${job.attempt}`;

export function createLeases(deps: { nc: () => NatsConnection | undefined; ackWaitMs: number; log: Logger; clock: Clock }): Leases {
  const { clock } = deps;
  const held = new Map<string, Held>();
  const tickMs = Math.max(50, Math.floor(deps.ackWaitMs / 3));
  // The server's ack_wait timer started when it sent the message or took the +WPI, a little before
  // our clock saw it: one network hop. A second (or a tenth of a short ack_wait) covers that.
  const margin = Math.min(1_000, deps.ackWaitMs / 10);
  let ticker: NodeJS.Timeout | undefined;
  /** Ends the lease-end waits when the queue closes. */
  const ended = new AbortController();

  /** Still ours: the lease runs on Herald's clock and the server's ack_wait (real time) has not run out. */
  const valid = (h: Held) => clock.now() < h.leaseEnd && Date.now() - h.touchedAt < deps.ackWaitMs - margin;

  const send = (reply: string, body: string) => {
    try {
      deps.nc()?.publish(reply, body);
    } catch (err) {
      deps.log.warn({ err }, 'could not signal JetStream about a held job; ack_wait will hand it out again');
    }
  };

  const expire = (key: string, h: Held) => {
    held.delete(key);
    // The lease ran out while we still held it: hand the job out again now.
    send(h.reply, nakBody(0));
  };

  // Real time: the ticker keeps the server's ack_wait timer from running out.
  const tick = () => {
    const now = Date.now();
    for (const [key, h] of held) {
      if (clock.now() >= h.leaseEnd) expire(key, h);
      else if (!valid(h)) {
        // Our event loop stalled past ack_wait: the server may have handed the job out already.
        held.delete(key);
        deps.log.warn({ key, stalledMs: now - h.touchedAt }, 'lost a job lease: no progress signal within ack_wait');
      } else {
        send(h.reply, '+WPI');
        h.touchedAt = now;
      }
    }
    if (!held.size) stopTicker();
  };
  const stopTicker = () => {
    if (ticker) clearInterval(ticker);
    ticker = undefined;
  };

  return {
    hold(batch, leaseMs, receivedAt) {
      if (!batch.size) return;
      const now = Date.now(); // touchedAt: the server's ack_wait, real time
      const leaseEnd = clock.now() + Math.max(1, leaseMs);
      for (const [key, h] of batch) held.set(key, { ...h, leaseEnd, touchedAt: Math.min(now, receivedAt ?? now) });
      // Ends with the lease on Herald's clock (a job acked meanwhile has left `held`), or at close.
      void clock.sleep(Math.max(1, leaseMs), ended.signal).then(() => {
        for (const key of batch.keys()) {
          const h = held.get(key);
          if (h && h.leaseEnd === leaseEnd) expire(key, h);
        }
        if (!held.size) stopTicker();
      });
      if (!ticker && leaseMs > tickMs) {
        ticker = setInterval(tick, tickMs);
        ticker.unref();
      }
    },
    peek(key) {
      const h = held.get(key);
      return h && valid(h) ? h : undefined;
    },
    take(key) {
      const h = held.get(key);
      held.delete(key);
      return h && valid(h) ? h : undefined;
    },
    releaseAll() {
      for (const [key, h] of held) expire(key, h);
      stopTicker();
      ended.abort();
    },
    size: () => held.size,
  };
}
