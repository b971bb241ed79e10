import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serverFeatures, atLeast } from './features.js';
import { consumerName, jobNames } from './names.js';
import { checkStreamSettings, defaultStreamSettings, jobStreamConfig, streamSafetyProblems, topicConsumerConfig } from './streams.js';
import { nakBody } from './acks.js';
import { parseAckSubject } from './pull.js';

const names = jobNames('herald');
const v2_9 = serverFeatures('2.9.10');
const v2_10 = serverFeatures('2.10.0');

test('the job stream Herald creates is one it would accept', () => {
  const c = jobStreamConfig(names, defaultStreamSettings, v2_9);
  assert.deepEqual(streamSafetyProblems(c), []);
  assert.equal(c.storage, 'file');
  assert.equal(c.retention, 'workqueue');
  assert.equal(c.discard, 'new');
  assert.equal(c.duplicate_window, 600_000_000_000, 'the duplicate window is not 10 minutes');
  assert.deepEqual(c.subjects, ['herald.jobs.>']);
});

test('refuses stream configurations that would lose accepted jobs, naming each', () => {
  const safe = jobStreamConfig(names, defaultStreamSettings, v2_9);
  const cases: [Partial<typeof safe>, RegExp][] = [
    [{ storage: 'memory' }, /memory stream loses every job/],
    [{ discard: 'old' }, /discard is old/],
    [{ retention: 'limits' }, /not workqueue/],
    [{ max_age: 3_600_000_000_000 }, /max_age/],
    [{ max_msgs_per_subject: 10 }, /max_msgs_per_subject/],
    [{ sealed: true }, /sealed/],
  ];
  for (const [change, problem] of cases) {
    const problems = streamSafetyProblems({ ...safe, ...change });
    assert.equal(problems.length, 1, JSON.stringify(change));
    assert.match(problems[0]!, problem);
  }
  assert.deepEqual(streamSafetyProblems({ ...safe, max_msgs_per_subject: 10, discard_new_per_subject: true }), []);
});

test('refuses a duplicate window under 2 minutes and impossible replica counts', () => {
  assert.throws(() => checkStreamSettings({ ...defaultStreamSettings, duplicateWindowMs: 60_000 }), /under 2 minutes/);
  assert.throws(() => checkStreamSettings({ ...defaultStreamSettings, replicas: 0 }), /replicas/);
  assert.throws(() => checkStreamSettings({ ...defaultStreamSettings, replicas: 7 }), /replicas/);
  checkStreamSettings({ ...defaultStreamSettings, replicas: 3 });
});

test('sends no 2.10-only field to a 2.9 server, and labels consumers with their topic on 2.10', () => {
  assert.equal(v2_9.metadata, false);
  assert.equal(v2_9.fsyncBeforeAckPossible, false);
  const old = topicConsumerConfig(names, 'message.fanout', { ackWaitMs: 30_000 }, v2_9);
  assert.equal('metadata' in old, false);
  assert.equal('filter_subjects' in old, false);
  assert.equal(old.filter_subject, 'herald.jobs.message.fanout');
  assert.equal('metadata' in jobStreamConfig(names, defaultStreamSettings, v2_9), false);
  assert.equal('compression' in jobStreamConfig(names, defaultStreamSettings, v2_10), false);
  assert.deepEqual(topicConsumerConfig(names, 'message.fanout', { ackWaitMs: 30_000 }, v2_10).metadata, { 'herald.topic': 'message.fanout' });
  assert.equal(serverFeatures('2.10.24').fsyncBeforeAckPossible, true);
});

test('refuses a server older than 2.9.0 and reads version strings', () => {
  assert.throws(() => serverFeatures('2.8.4'), /older than 2\.9\.0/);
  assert.ok(atLeast('v2.11.0-RC.1', '2.10.23'));
  assert.ok(!atLeast('2.9.10', '2.10.0'));
  assert.throws(() => serverFeatures('garbage'), /cannot read/);
});

test('maps topics to subjects and consumer names without collisions', () => {
  assert.equal(names.subject('delivery.apns'), 'herald.jobs.delivery.apns');
  assert.equal(names.topicOf('herald.jobs.delivery.apns'), 'delivery.apns');
  assert.equal(names.topicOf('other.jobs.x'), undefined);
  assert.equal(consumerName('message.fanout'), 'message_fanout');
  assert.notEqual(consumerName('a_b'), consumerName('a.b'));
  assert.match(consumerName('a_b'), /^a_b_[0-9a-f]{12}$/);
  assert.throws(() => names.subject('has space'), /topic/);
  assert.throws(() => names.subject('wild.*'), /topic/);
  assert.throws(() => names.subject('trailing.'), /topic/);
  assert.throws(() => jobNames('bad.prefix'), /prefix/);
});

test('reads both forms of the ack subject', () => {
  const v1 = parseAckSubject('$JS.ACK.herald_jobs.message_fanout.3.17.42.1795560045764668926.0');
  assert.deepEqual(v1, { stream: 'herald_jobs', consumer: 'message_fanout', deliveryCount: 3, streamSeq: 17, timestampMs: 1795560045764 });
  const v2 = parseAckSubject('$JS.ACK.hub.ACCHASH.herald_jobs.message_fanout.1.5.6.1795560045764668926.2.r4nd0m');
  assert.equal(v2.deliveryCount, 1);
  assert.equal(v2.stream, 'herald_jobs');
  assert.throws(() => parseAckSubject('_INBOX.abc'), /not a JetStream ack subject/);
});

test('asks for a delayed redelivery in nanoseconds', () => {
  assert.equal(nakBody(0), '-NAK');
  assert.equal(nakBody(400), '-NAK {"delay":400000000}');
});
