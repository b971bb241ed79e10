/**
 * Names of the JetStream backend's stream, subjects and consumers, derived from one prefix so that
 * several Herald installations (or test fixtures) can share a NATS account without meeting.
 *
 *   stream   <prefix>_jobs            one stream for every topic (why: streams.ts)
 *   subject  <prefix>.jobs.<topic>    a topic's dots become subject tokens
 *   consumer <topic, dots as _>       one durable pull consumer per topic
 */
import { createHash } from 'node:crypto';

/** The header carrying the job's enqueue time (ms since the epoch), so ages and dead letters
 *  count from the PostgreSQL commit, not from the relay's publish. */
export const createdAtHeader = 'Herald-Created-At';
/** JetStream's de-duplication header; the relay sets it to the job id (via `msgID`). */
export const msgIdHeader = 'Nats-Msg-Id';

export interface JobNames {
  prefix: string;
  stream: string;
  /** The stream's one subject filter. */
  streamSubjects: string;
  subject(topic: string): string;
  /** The topic of a subject in this stream, or undefined for a foreign one. */
  topicOf(subject: string): string | undefined;
  consumer(topic: string): string;
}

const prefixPattern = /^[A-Za-z0-9_-]+$/;
/** A NATS subject suffix: non-empty dot-separated tokens without whitespace or wildcards. */
const topicPattern = /^[^\s.*>]+(\.[^\s.*>]+)*$/;
/** Topics whose consumer name is just the topic with dots as underscores (nothing can collide,
 *  since such topics contain no underscore of their own). */
const plainTopic = /^[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*$/;

export function jobNames(prefix: string): JobNames {
  if (!prefixPattern.test(prefix)) {
    throw new Error(`JetStream stream prefix ${JSON.stringify(prefix)} must be letters, digits, "_" or "-"`);
  }
  const base = `${prefix}.jobs.`;
  return {
    prefix,
    stream: `${prefix}_jobs`,
    streamSubjects: `${base}>`,
    subject: (topic) => base + checkTopic(topic),
    topicOf: (subject) => (subject.startsWith(base) ? subject.slice(base.length) : undefined),
    consumer: (topic) => consumerName(checkTopic(topic)),
  };
}

/** Throws for a topic that cannot be a NATS subject suffix (the postgres backend would take it, but
 *  Herald's topics are code constants such as `message.fanout`, so this only catches mistakes). */
export function checkTopic(topic: string): string {
  if (!topicPattern.test(topic)) {
    throw new Error(`queue topic ${JSON.stringify(topic)} must be dot-separated tokens without spaces, "*" or ">"`);
  }
  return topic;
}

/** Consumer names may not contain dots (nor "*", ">", whitespace or path separators). */
export function consumerName(topic: string): string {
  if (plainTopic.test(topic)) return topic.replaceAll('.', '_');
  const readable = topic.replace(/[^A-Za-z0-9-]/g, '_').slice(0, 48);
  return `${readable}_${createHash('sha256').update(topic).digest('hex').slice(0, 12)}`;
}
