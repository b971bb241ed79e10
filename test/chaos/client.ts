/**
 * The chaos client: sends transactional messages at a steady pace, one unique recipient token and
 * one Idempotency-Key per message, spread over the API processes, and retries every call that did
 * not get a 2xx (same key, same body, failing over to the next process) until it gets one. Every
 * call goes to the history as it ends.
 */
import { randomBytes } from 'node:crypto';
import type { CallResult, HistoryWriter } from './history.js';

export interface ApiTarget {
  name: string;
  url: string;
}

export interface ClientOptions {
  apis: ApiTarget[];
  restKey: string;
  messages: number;
  /** Messages started per second; the sends span the faults instead of finishing before them. */
  ratePerSec: number;
  /** Messages in flight at most (including their retries); past it the pace slows. */
  maxInFlight: number;
  callTimeoutMs: number;
  /** Stop retrying at this time (ms since the epoch): the run then reports the key as never acknowledged. */
  giveUpAt: number;
  /** Prefix of every Idempotency-Key, unique per run. */
  keyPrefix: string;
  history: HistoryWriter;
}

export interface ClientStats {
  started: number;
  acknowledged: number;
  gaveUp: number;
  calls: number;
  failedCalls: number;
  startedAt: number;
  endedAt: number;
}

/** Retries wait 100 ms doubling to 2 s, jittered: quick to use the other process after a kill,
 *  never a storm while both are away. */
const retryBaseMs = 100;
const retryMaxMs = 2_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Why a fetch got no answer: the socket error code, "timeout", or the message. */
function errorCode(err: unknown): string {
  const e = err as { name?: string; message?: string; cause?: { code?: string; name?: string } };
  if (e.name === 'TimeoutError' || e.name === 'AbortError') return 'timeout';
  return e.cause?.code ?? e.cause?.name ?? e.message ?? String(err);
}

export async function runClient(o: ClientOptions, onProgress?: (s: ClientStats) => void): Promise<ClientStats> {
  const stats: ClientStats = { started: 0, acknowledged: 0, gaveUp: 0, calls: 0, failedCalls: 0, startedAt: Date.now(), endedAt: 0 };
  let inFlight = 0;
  let freed: (() => void) | undefined;

  const sendMessage = async (i: number): Promise<void> => {
    const key = `${o.keyPrefix}-${i}`;
    const token = randomBytes(32).toString('hex');
    const body = JSON.stringify({
      group_id: 'chaos',
      recipients: { tokens: [{ platform: 'ios', token }] },
      push: { title: `chaos ${i}`, body: 'incident replay' },
    });
    let api = i % o.apis.length; // alternate between the processes
    for (let attempt = 1; ; attempt++) {
      const target = o.apis[api]!;
      const start = Date.now();
      let status: number | null = null;
      let answer: unknown;
      let error: string | undefined;
      try {
        const res = await fetch(`${target.url}/v1/transactional/send`, {
          method: 'POST',
          headers: { authorization: `Bearer ${o.restKey}`, 'content-type': 'application/json', 'idempotency-key': key },
          body,
          signal: AbortSignal.timeout(o.callTimeoutMs),
        });
        status = res.status;
        const text = await res.text();
        try {
          answer = JSON.parse(text);
        } catch {
          answer = text;
        }
      } catch (err) {
        error = errorCode(err);
      }
      const end = Date.now();
      // ok: stored. fail: certainly not stored (refused connection, or a 4xx). info: unknown.
      const result: CallResult = status !== null && status >= 200 && status < 300 ? 'ok'
        : error === 'ECONNREFUSED' || (status !== null && status < 500) ? 'fail' : 'info';
      o.history.append({
        kind: 'call', key, tokens: [token], attempt, target: target.name, start, end, status,
        ...(answer !== undefined ? { body: answer } : {}), ...(error ? { error } : {}), result,
      });
      stats.calls++;
      if (result === 'ok') {
        stats.acknowledged++;
        return;
      }
      stats.failedCalls++;
      if (Date.now() >= o.giveUpAt) {
        stats.gaveUp++;
        return;
      }
      api = (api + 1) % o.apis.length; // fail over to the other process
      const ceiling = Math.min(retryMaxMs, retryBaseMs * 2 ** (attempt - 1));
      await sleep(ceiling / 2 + Math.random() * (ceiling / 2));
    }
  };

  const running = new Set<Promise<void>>();
  const progress = onProgress ? setInterval(() => onProgress(stats), 10_000) : undefined;
  const t0 = Date.now();
  for (let i = 0; i < o.messages; i++) {
    const due = t0 + (i * 1000) / o.ratePerSec;
    if (due > Date.now()) await sleep(due - Date.now());
    while (inFlight >= o.maxInFlight) await new Promise<void>((r) => (freed = r));
    inFlight++;
    stats.started++;
    const p = sendMessage(i).finally(() => {
      inFlight--;
      running.delete(p);
      freed?.();
      freed = undefined;
    });
    running.add(p);
  }
  await Promise.all(running);
  if (progress) clearInterval(progress);
  stats.endedAt = Date.now();
  return stats;
}
