/**
 * Per-topic depth, age and dead letters for the JetStream backend: the outbox rows not yet relayed
 * plus the stream's unacked messages (a work-queue stream keeps exactly those: waiting, leased, or
 * nak'ed for a retry), the oldest of either, and the dead_jobs table.
 *
 * While NATS is unreachable (`conn` absent, or the stream does not answer) the figures are
 * PostgreSQL's alone: the outbox is then where new work piles up, so its depth and age are the
 * backlog an operator needs to see; what the stream already held is unknown until NATS is back.
 */
import type { Sql } from 'postgres';
import type { MsgRequest } from '@nats-io/jetstream';
import type { QueueStats } from '../queue.js';
import { outboxBacklog } from '../../relay/outbox.js';
import type { NatsConn } from './link.js';
import { createdAtHeader, type JobNames } from './names.js';

/** `now`: Herald's clock, which also stamped the jobs' enqueue time (the created-at header). */
export async function jetStreamStats(sql: Sql, conn: NatsConn | undefined, names: JobNames, now: number): Promise<QueueStats[]> {
  const [outbox, dead, stream] = await Promise.all([
    outboxBacklog(sql, new Date(now)),
    sql<{ topic: string; n: number }[]>`select topic, count(*)::int as n from dead_jobs group by topic`,
    conn?.jsm.streams.info(names.stream, { subjects_filter: names.streamSubjects }).catch(() => undefined),
  ]);
  const byTopic = new Map<string, { depth: number; oldest: number | undefined; dead: number }>();
  const entry = (topic: string) => {
    let e = byTopic.get(topic);
    if (!e) byTopic.set(topic, (e = { depth: 0, oldest: undefined, dead: 0 }));
    return e;
  };
  const older = (a: number | undefined, b: number | undefined) => (a === undefined ? b : b === undefined ? a : Math.min(a, b));

  for (const o of outbox) {
    const e = entry(o.topic);
    e.depth += o.rows;
    e.oldest = older(e.oldest, o.oldestDue?.getTime());
  }
  await Promise.all(Object.entries(stream?.state.subjects ?? {}).map(async ([subject, count]) => {
    const topic = names.topicOf(subject);
    if (topic === undefined || !count) return;
    const e = entry(topic);
    e.depth += count;
    // The topic's first message still in the stream is its oldest unacked job. `next_by_subj` is in
    // the 2.9 server's STREAM.MSG.GET API though nats.js's type lists only seq and last_by_subj.
    const first = await conn!.jsm.streams
      .getMessage(names.stream, { seq: 0, next_by_subj: subject } as unknown as MsgRequest)
      .catch(() => null);
    if (first) e.oldest = older(e.oldest, Number(first.header?.get(createdAtHeader)) || first.time.getTime());
  }));
  for (const d of dead) entry(d.topic).dead = d.n;

  return [...byTopic.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([topic, e]) => ({
      topic,
      depth: e.depth,
      oldestAgeSeconds: e.oldest === undefined ? 0 : Math.max(0, (now - e.oldest) / 1000),
      deadLettered: e.dead,
    }));
}
