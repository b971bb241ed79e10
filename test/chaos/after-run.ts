/**
 * What a chaos run does once its sends end: wait for Herald to drain (or to show it is stuck), check
 * that every process recovered, and gather the evidence a failing run needs (consumer states, the
 * errors in Herald's logs).
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { DatabaseState, Deployment } from './deployment.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/**
 * No progress at all for this long means Herald is stuck, not slow: longer than every wait a healthy
 * Herald has (ack_wait 30 s before a dead claimer's jobs come back, relay back-off up to 30 s, an
 * idle pull's 30 s expiry), so a stuck run fails in a minute and a half instead of at the deadline.
 */
const stuckAfterMs = 90_000;

/** Waits until every stored message is fanned out and every delivery finished, or the deadline, or no progress. */
export async function drain(d: Deployment, deadline: number): Promise<{ state: DatabaseState; drained: boolean; why: string }> {
  let last = '';
  let lastChange = Date.now();
  for (;;) {
    const s = await d.state();
    if (s.notFannedOut === 0 && s.queued === 0 && s.outbox === 0) return { state: s, drained: true, why: 'drained' };
    const now = JSON.stringify([s.notFannedOut, s.queued, s.sent, s.outbox]);
    if (now !== last) [last, lastChange] = [now, Date.now()];
    if (Date.now() - lastChange > stuckAfterMs) return { state: s, drained: false, why: `no progress for ${secs(stuckAfterMs)}: Herald is stuck` };
    if (Date.now() > deadline) return { state: s, drained: false, why: 'the deadline came first' };
    await sleep(500);
  }
}

/**
 * After the faults, every Herald process must be back to normal: each API's /readyz says ready
 * (database and queue), and each process holds a NATS connection (nats-server's /connz lists it by
 * the client name Herald gives it, `herald <host> <pid>`, src/queue/jetstream/job-stream.ts). A
 * process that gave up on NATS for good is an outage waiting for its neighbour to do the same.
 */
export async function recoveryProblems(d: Deployment): Promise<string[]> {
  const problems: string[] = [];
  for (const a of d.apis) {
    const res = await fetch(a.url + '/readyz', { signal: AbortSignal.timeout(3_000) }).catch((e: Error) => e);
    const body = res instanceof Error ? res.message : await res.text();
    if (res instanceof Error || res.status !== 200 || (JSON.parse(body) as { status?: string }).status !== 'ready') {
      problems.push(`${a.name} is not ready at the end of the run: /readyz ${res instanceof Error ? '' : res.status + ' '}${body}`);
    }
  }
  const names = (await d.nats.connections()).map((c) => c.name);
  for (const p of [...d.apis, ...d.workers]) {
    if (!names.some((n) => n.startsWith('herald ') && n.endsWith(` ${p.pid()}`))) {
      problems.push(`${p.name} (pid ${p.pid()}) has no NATS connection at the end of the run: it stopped using NATS (see its log)`);
    }
  }
  return problems;
}

export async function consumerStates(d: Deployment): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  for (const c of ['message_fanout', 'delivery_apns']) {
    const info = await d.nats.request(`$JS.API.CONSUMER.INFO.${d.stream}.${c}`).catch((e: Error) => ({ error: e.message })) as
      { num_pending?: number; num_ack_pending?: number; num_redelivered?: number; error?: unknown };
    out[c] = info.error ? { error: info.error } : { pending: info.num_pending, ackPending: info.num_ack_pending, redelivered: info.num_redelivered };
  }
  return out;
}

/** Each Herald process's error-level log lines, grouped by message: first time, count, one error text. */
export async function logFindings(logDir: string, t0: number): Promise<string[]> {
  const out: string[] = [];
  for (const file of (await readdir(logDir)).filter((f) => /^(api|worker)-\d+\.log$/.test(f)).sort()) {
    const groups = new Map<string, { first: number; count: number; err: string }>();
    for (const line of (await readFile(join(logDir, file), 'utf8')).split('\n')) {
      if (!line.startsWith('{')) continue;
      let e: { level?: number; time?: number; msg?: string; err?: { message?: string } };
      try {
        e = JSON.parse(line) as typeof e;
      } catch {
        continue;
      }
      if ((e.level ?? 0) < 50 || !e.msg) continue;
      const err = (e.err?.message ?? '').replace(/\s+/g, ' ').slice(0, 160);
      const key = `${e.msg}|${err.replace(/[0-9a-f]{8,}|\d+/g, '#')}`;
      const g = groups.get(key);
      if (g) g.count++;
      else groups.set(key, { first: e.time ?? 0, count: 1, err });
    }
    for (const [key, g] of [...groups].sort((a, b) => a[1].first - b[1].first).slice(0, 8)) {
      out.push(`  ${file.replace('.log', '').padEnd(9)} first at +${secs(g.first - t0).padStart(8)}, ×${String(g.count).padEnd(5)} ${key.split('|')[0]}${g.err ? `: ${g.err}` : ''}`);
    }
  }
  return out;
}
