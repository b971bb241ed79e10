import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseQuery, QueryError } from './query.js';
import { expandSegments, segmentIds } from './segments.js';
import { matches, type TargetingSubject } from './evaluate.js';

const refused = (input: unknown, path: string, reason?: RegExp) => {
  assert.throws(() => parseQuery(input), (e: unknown) => {
    assert.ok(e instanceof QueryError, String(e));
    assert.equal(e.path, path);
    if (reason) assert.match(e.reason, reason);
    return true;
  });
};

test('a bad query is refused naming the path of the bad node', () => {
  refused('gold', 'query', /object/);
  refused({}, 'query', /one of "all"/);
  refused({ all: [] }, 'query.all', /non-empty/);
  refused({ all: [{ attribute: 'tier', eq: 'gold' }, { attribute: 'Tier', eq: 'x' }] }, 'query.all[1].attribute');
  refused({ any: [{ not: { field: 'shoe_size', eq: '42' } }] }, 'query.any[0].not.field');
  refused({ attribute: 'tier', eq: 'gold', in: ['a'] }, 'query', /exactly one operator/);
  refused({ attribute: 'tier', like: 'g%' }, 'query.like', /not an operator/);
  refused({ attribute: 'tier', in: ['a', { x: 1 }] }, 'query.in[1]');
  refused({ attribute: 'age', gt: 'soon' }, 'query.gt', /number or an ISO-8601 date/);
  refused({ attribute: 'seen', between: [1, '2024-01-01'] }, 'query.between', /one kind/);
  refused({ field: 'language', gt: 'fr' }, 'query.gt', /cannot apply here/);
  refused({ event: 'buy', within_days: 0 }, 'query.within_days');
  refused({ event: 'buy', within_days: 3, since: '2024-01-01T00:00:00Z' }, 'query.since');
  refused({ event: 'buy', count: { gte: -1 } }, 'query.count.gte');
  refused({ event: 'buy', where: [{ attribute: 'amount', within_last_days: 3 }] }, 'query.where[0].within_last_days', /cannot apply/);
  refused({ installation: { app_version: { gte: 'latest' } } }, 'query.installation.app_version.gte', /version/);
  refused({ installation: { os: 'ios' } }, 'query.installation.os');
  refused({ installation: { sdk_version: '1.4' } }, 'query.installation.sdk_version', /condition/);
  refused({ audience: "x'; drop table profiles; --" }, 'query.audience');
  refused({ segment: 's1', attribute: 'x' }, 'query.segment', /not an operator/);
  refused({ audience: 'a1', not: { audience: 'a2' } }, 'query.audience', /not allowed/);
  let deep: unknown = { attribute: 'a', exists: true };
  for (let i = 0; i < 20; i++) deep = { not: deep };
  refused(deep, 'query' + '.not'.repeat(12), /deeper/);
  refused({ any: Array.from({ length: 300 }, () => ({ audience: 'a' })) }, 'query.any[199]', /200 nodes/);
});

const subject = (over: Partial<TargetingSubject> = {}): TargetingSubject => ({
  native: { language: 'fr' },
  attributes: {},
  events: [],
  installations: [],
  audiences: new Set(),
  ...over,
});
const day = 86_400_000;
const now = Date.parse('2026-06-15T12:00:00Z');

test('the evaluator: French gold members who bought in the last 30 days and have push enabled', () => {
  const query = parseQuery({ all: [
    { field: 'language', in: ['fr'] },
    { attribute: 'tier', eq: 'gold' },
    { event: 'purchase', within_days: 30, where: [{ attribute: 'amount', gte: 10 }] },
    { installation: { push_enabled: true, app_version: { gte: '4.2' } } },
  ] });
  const gold = subject({
    attributes: { tier: 'gold' },
    events: [{ name: 'purchase', time: now - 3 * day, attributes: { amount: 12 } }],
    installations: [{ platform: 'ios', pushToken: 'ab', appVersion: '4.10.1', sdkVersion: '1.4.0' }],
  });
  assert.equal(matches(query, gold, now), true);
  assert.equal(matches(query, { ...gold, events: [{ name: 'purchase', time: now - 31 * day, attributes: { amount: 12 } }] }, now), false);
  assert.equal(matches(query, { ...gold, events: [{ name: 'purchase', time: now - day, attributes: { amount: 5 } }] }, now), false);
  assert.equal(matches(query, { ...gold, installations: [{ platform: 'ios', pushToken: null, appVersion: '4.10.1', sdkVersion: '1.4.0' }] }, now), false);
  assert.equal(matches(query, { ...gold, installations: [{ platform: 'ios', pushToken: 'ab', appVersion: '4.1.9', sdkVersion: '1.4.0' }] }, now), false);
  const sdk = parseQuery({ installation: { sdk_version: { gte: '1.4' } } });
  assert.equal(matches(sdk, gold, now), true);
  assert.equal(matches(sdk, { ...gold, installations: [{ platform: 'web', pushToken: 'ab', appVersion: null, sdkVersion: '1.3.9' }] }, now), false);
  assert.equal(matches(sdk, { ...gold, installations: [{ platform: 'web', pushToken: 'ab', appVersion: null, sdkVersion: null }] }, now), false);
  // Absent is false for every operator but exists:false, and not turns it true.
  assert.equal(matches(parseQuery({ attribute: 'tier', neq: 'gold' }), subject(), now), false);
  assert.equal(matches(parseQuery({ not: { attribute: 'tier', eq: 'gold' } }), subject(), now), true);
  assert.equal(matches(parseQuery({ attribute: 'tier', exists: false }), subject(), now), true);
  // "Has not bought since": not of an event node, or an event count of at most 0.
  const since = { event: 'purchase', since: '2026-06-01T00:00:00Z' };
  assert.equal(matches(parseQuery({ not: since }), gold, now), false);
  assert.equal(matches(parseQuery({ ...since, count: { lte: 0 } }), subject(), now), true);
});

test('saved segments expand into the query, and a cycle or a missing segment is refused', () => {
  const saved = new Map([
    ['gold', parseQuery({ attribute: 'tier', eq: 'gold' })],
    ['loop', parseQuery({ any: [{ segment: 'loop2' }] })],
    ['loop2', parseQuery({ not: { segment: 'loop' } })],
  ]);
  const query = parseQuery({ all: [{ segment: 'gold' }, { field: 'language', eq: 'fr' }] });
  assert.deepEqual(segmentIds(query), ['gold']);
  const expanded = expandSegments(query, (id) => saved.get(id));
  assert.equal(matches(expanded, subject({ attributes: { tier: 'gold' } }), now), true);
  assert.throws(() => expandSegments(parseQuery({ segment: 'loop' }), (id) => saved.get(id)), /query.segment.any\[0\].segment.not.segment names a segment that contains itself/);
  assert.throws(() => expandSegments(parseQuery({ not: { segment: 'nope' } }), (id) => saved.get(id)), /query.not.segment names no segment/);
});
