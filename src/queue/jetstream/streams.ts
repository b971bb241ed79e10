/**
 * The job stream and its per-topic consumers: the configuration Herald wants, the configurations it
 * refuses because they would lose accepted work, and idempotent create-or-update at start.
 *
 * One stream for all topics (`<prefix>.jobs.>`), not one per topic: a job for a topic nobody has
 * claimed yet is still captured (a per-topic stream would have to exist before the relay's first
 * publish, or that publish finds no stream and fails), and a cluster runs one Raft group for the
 * queue instead of one per topic. Topics stay apart through per-topic consumers with their own
 * subject filter, which a work-queue stream requires to be disjoint anyway. The cost: one stream
 * leader takes every topic's writes, and the limits (max_bytes) are shared.
 */
import { AckPolicy, DeliverPolicy, DiscardPolicy, JetStreamApiCodes, JetStreamApiError, ReplayPolicy, RetentionPolicy,
  StorageType, type ConsumerConfig, type JetStreamManager, type StreamConfig } from '@nats-io/jetstream';
import { nanos } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import type { ServerFeatures } from './features.js';
import type { JobNames } from './names.js';

/** A configuration Herald will not run with; the link stops instead of retrying. */
export class JetStreamConfigError extends Error {
  override name = 'JetStreamConfigError';
}

export interface StreamSettings {
  /** 1 on a single server, 3 on a 3-node cluster (R3 survives the loss of one server; R2 brings
   *  "no significant benefit", https://docs.nats.io/nats-concepts/jetstream). */
  replicas: number;
  /**
   * How long JetStream remembers a `Nats-Msg-Id`. The default 2 minutes (https://docs.nats.io/nats-concepts/jetstream/streams) is
   * shorter than the ways a published-but-not-deleted outbox row gets published again: a relay
   * host that vanishes keeps its row locks until PostgreSQL notices the dead connection (TCP
   * keepalive, often minutes), a relay restarted by a supervisor with backoff, and our own publish
   * backoff (up to 30 s a round). 10 minutes covers those with room; the cost is server memory for
   * ten minutes of ids. A re-publish later than that is stored twice and the idempotent consumer
   * absorbs it (architecture.md rule 2).
   */
  duplicateWindowMs: number;
  /** Stream size cap in bytes, -1 for none. With `discard: new` a full stream refuses the relay's
   *  publish (the backlog waits in PostgreSQL) rather than dropping a job. */
  maxBytes: number;
}

export const defaultStreamSettings: StreamSettings = { replicas: 1, duplicateWindowMs: 600_000, maxBytes: -1 };

/** The floor for duplicate_window: JetStream's own default (https://docs.nats.io/nats-concepts/jetstream/streams). */
const minDuplicateWindowMs = 120_000;

export function jobStreamConfig(names: JobNames, s: StreamSettings, features: ServerFeatures): StreamConfig {
  return {
    name: names.stream,
    description: 'Herald work-queue jobs, relayed from the PostgreSQL outbox',
    subjects: [names.streamSubjects],
    // File, never memory: memory data is gone once every replica restarts.
    storage: StorageType.File,
    // Each job is consumed once and deleted on ack (https://docs.nats.io/nats-concepts/jetstream/streams, WorkQueue retention).
    retention: RetentionPolicy.Workqueue,
    // A full stream refuses the publish instead of silently deleting unconsumed jobs (https://docs.nats.io/nats-concepts/jetstream/streams#discardpolicy).
    discard: DiscardPolicy.New,
    num_replicas: s.replicas,
    duplicate_window: nanos(s.duplicateWindowMs),
    max_bytes: s.maxBytes,
    max_msgs: -1,
    max_msgs_per_subject: -1,
    // No age limit: an old job is still a job somebody was promised.
    max_age: 0,
    max_consumers: -1,
    max_msg_size: -1,
    ...(features.metadata ? { metadata: { 'herald.prefix': names.prefix } } : {}),
  } as StreamConfig;
}

/** What in a stream configuration would lose or mangle accepted jobs; empty when it is safe. */
export function streamSafetyProblems(c: Partial<StreamConfig>): string[] {
  const problems: string[] = [];
  if (c.storage !== StorageType.File) problems.push(`storage is ${c.storage}: a memory stream loses every job when its servers restart`);
  if (c.retention !== RetentionPolicy.Workqueue) problems.push(`retention is ${c.retention}, not workqueue: acked jobs would stay and be handed out again`);
  if (c.discard !== DiscardPolicy.New) problems.push(`discard is ${c.discard}: a full work-queue stream would silently drop its oldest unprocessed jobs`);
  if ((c.max_age ?? 0) > 0) problems.push(`max_age is ${c.max_age} ns: jobs older than that would be deleted unprocessed`);
  if ((c.max_msgs_per_subject ?? -1) > 0 && !c.discard_new_per_subject) {
    problems.push('max_msgs_per_subject without discard_new_per_subject: a busy topic would drop its oldest jobs');
  }
  if (c.sealed) problems.push('the stream is sealed: nothing can be published to it');
  if (c.mirror) problems.push('the stream is a mirror: the relay cannot publish to it');
  return problems;
}

/** Throws for settings Herald will not create a stream with (an existing stream's drift in these
 *  is updated, not refused). */
export function checkStreamSettings(s: StreamSettings): void {
  if (!Number.isInteger(s.replicas) || s.replicas < 1 || s.replicas > 5) {
    throw new JetStreamConfigError(`JetStream replicas must be 1 to 5 (3 on a 3-node cluster), not ${s.replicas}`);
  }
  if (s.duplicateWindowMs < minDuplicateWindowMs) {
    throw new JetStreamConfigError(
      `JetStream duplicate window ${s.duplicateWindowMs} ms is under 2 minutes: a relay's re-publish after a crash could be stored twice`,
    );
  }
}

/**
 * Creates the stream, or checks and updates an existing one. Refuses (JetStreamConfigError) an
 * existing stream that would lose data rather than "fixing" it behind an operator's back.
 * Resolves to true when it had to create the stream.
 */
export async function ensureJobStream(jsm: JetStreamManager, want: StreamConfig, log: Logger): Promise<boolean> {
  const wanted = streamSafetyProblems(want);
  if (wanted.length) throw refused(want.name, wanted);
  let have: StreamConfig;
  let created = false;
  try {
    have = (await jsm.streams.info(want.name)).config;
  } catch (err) {
    if (!isApiError(err, JetStreamApiCodes.StreamNotFound)) throw err;
    created = true;
    await jsm.streams.add(want).catch(async (e: unknown) => {
      // Another process created it between our info and add; check theirs below.
      if (!/already in use/i.test(String(e))) throw withContext(e, `cannot create JetStream stream ${want.name}`);
    });
    log.info({ stream: want.name, replicas: want.num_replicas }, 'JetStream job stream created');
    have = (await jsm.streams.info(want.name)).config;
  }
  const problems = streamSafetyProblems(have);
  if (!have.subjects?.includes(want.subjects[0]!)) problems.push(`its subjects ${JSON.stringify(have.subjects)} do not include ${want.subjects[0]}`);
  if (problems.length) throw refused(want.name, problems);

  const drift = (['num_replicas', 'duplicate_window', 'max_bytes', 'description'] as const).filter((k) => have[k] !== want[k]);
  const metaDrift = want.metadata && Object.entries(want.metadata).some(([k, v]) => have.metadata?.[k] !== v);
  if (drift.length || metaDrift) {
    const { name: _name, ...rest } = have;
    await jsm.streams.update(want.name, {
      ...rest,
      num_replicas: want.num_replicas,
      duplicate_window: want.duplicate_window,
      max_bytes: want.max_bytes,
      description: want.description,
      ...(want.metadata ? { metadata: { ...have.metadata, ...want.metadata } } : {}),
    }).catch((e: unknown) => { throw withContext(e, `cannot update JetStream stream ${want.name} (${drift.join(', ')})`); });
    log.info({ stream: want.name, changed: drift }, 'JetStream job stream updated');
  }
  return created;
}

export interface ConsumerSettings {
  /**
   * The consumer's ack_wait: how long the server waits for an ack, a nak or a progress signal
   * before it hands a job out again. A claim's lease may be shorter or longer (leases.ts keeps it
   * exact while the claimer lives); this bounds how soon a claimer that really died is replaced.
   * 30 s is nats.js's default (https://docs.nats.io/nats-concepts/jetstream/consumers, AckWait).
   */
  ackWaitMs: number;
}

export const defaultConsumerSettings: ConsumerSettings = { ackWaitMs: 30_000 };

export function topicConsumerConfig(names: JobNames, topic: string, s: ConsumerSettings, features: ServerFeatures): ConsumerConfig {
  return {
    durable_name: names.consumer(topic),
    description: `Herald jobs on topic ${topic}`,
    // One subject per consumer: `filter_subjects` (several) needs 2.10 (nats.node issue #588).
    filter_subject: names.subject(topic),
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    replay_policy: ReplayPolicy.Instant,
    ack_wait: nanos(s.ackWaitMs),
    // Unlimited: Herald counts attempts itself (Job.attempt is the delivery count) and its
    // consumers dead-letter at maxAttempts. A finite max_deliver would park a job the server gave up
    // on in the stream, announced only by a core-NATS advisory that nobody may be listening to at
    // that moment; queue.ts dead-letters a job that keeps coming back past maxAttempts instead.
    max_deliver: -1,
    // Unlimited: a job nak'ed with a long retry delay counts as ack-pending until it comes back,
    // so the default 1000 would let a provider outage's retries block every fresh job of the topic.
    // Flow control is the claim's `max`.
    max_ack_pending: -1,
    max_waiting: 512,
    ...(features.metadata ? { metadata: { 'herald.topic': topic } } : {}),
  };
}

/** Creates the topic's durable consumer, or updates the fields Herald owns when they drifted. */
export async function ensureTopicConsumer(jsm: JetStreamManager, stream: string, want: ConsumerConfig): Promise<void> {
  const name = want.durable_name!;
  let have: ConsumerConfig;
  try {
    have = (await jsm.consumers.info(stream, name)).config;
  } catch (err) {
    if (!isApiError(err, JetStreamApiCodes.ConsumerNotFound)) throw err;
    // On 2.9 an add of an existing durable with the same config is a no-op, so a race with another
    // process creating it is harmless.
    await jsm.consumers.add(stream, want);
    return;
  }
  if (have.filter_subject !== want.filter_subject || have.ack_policy !== want.ack_policy) {
    throw new JetStreamConfigError(
      `JetStream consumer ${stream}/${name} exists with filter ${have.filter_subject} and ack policy ${have.ack_policy}; ` +
        `Herald needs ${want.filter_subject} with explicit acks. Delete it (nats consumer rm ${stream} ${name}) once it is drained.`,
    );
  }
  const keys = ['ack_wait', 'max_deliver', 'max_ack_pending', 'max_waiting', 'description'] as const;
  const drift = keys.filter((k) => have[k] !== want[k]);
  const metaDrift = want.metadata && Object.entries(want.metadata).some(([k, v]) => have.metadata?.[k] !== v);
  if (drift.length || metaDrift) {
    await jsm.consumers.update(stream, name, {
      ack_wait: want.ack_wait, max_deliver: want.max_deliver, max_ack_pending: want.max_ack_pending,
      max_waiting: want.max_waiting, description: want.description,
      ...(want.metadata ? { metadata: { ...have.metadata, ...want.metadata } } : {}),
    });
  }
}

const isApiError = (err: unknown, code: number) => err instanceof JetStreamApiError && err.code === code;

function refused(stream: string, problems: string[]): JetStreamConfigError {
  return new JetStreamConfigError(
    `refusing JetStream stream ${stream}, it would lose accepted jobs: ${problems.join('; ')}. ` +
      'Fix it (nats stream edit / nats stream rm once drained) or pick another stream prefix.',
  );
}

function withContext(err: unknown, what: string): Error {
  return new Error(`${what}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
}
