import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InAppDefinitionError, parseInAppDefinition } from './definition.js';
import { byPriority, eligibility, resolveBound, syncAfterSeconds, type EligibilityInput } from './eligibility.js';
import type { CappingRule } from '../capping/rules.js';

const base = { name: 'm', format: 'modal', content: { title: 't' }, trigger: { type: 'asap' } };
const refused = (input: unknown): string => {
  try {
    parseInAppDefinition(input);
  } catch (e) {
    if (e instanceof InAppDefinitionError) return e.path;
    throw e;
  }
  assert.fail('accepted');
};

test('the parser fills the defaults and names the path of the first bad field', () => {
  const m = parseInAppDefinition(base);
  assert.deepEqual(m.definition, { ...base, priority: 50, local_dates: false, labels: [], inbox: false, recheck: true });
  assert.equal(refused({ ...base, format: 'toast' }), 'body.format');
  assert.equal(refused({ ...base, extra: 1 }), 'body.extra');
  assert.equal(refused({ ...base, content: { title: 't', position: 'top' } }), 'body.content.position', 'position is for banners');
  assert.equal(refused({ ...base, format: 'html', content: { title: 't' } }), 'body.content.html');
  assert.equal(refused({ ...base, content: { title: 't', buttons: [{ id: 'a', label: 'A', action: 'dismiss' }, { id: 'a', label: 'B', action: 'dismiss' }] } }), 'body.content.buttons[1].id');
  assert.equal(refused({ ...base, content: { title: 't', buttons: [{ id: 'a', label: 'A', action: 'url', url: 'data:text/html,x' }] } }), 'body.content.buttons[0].url');
  assert.equal(refused({ ...base, trigger: { type: 'event', event: 'e', where: [{ attribute: 'x', bogus: 1 }] } }), 'body.trigger.where[0].bogus');
  assert.equal(refused({ ...base, capping: { max_displays: 0 } }), 'body.capping.max_displays');
  assert.equal(refused({ ...base, starts_at: '2026-01-01' }), 'body.starts_at');
  assert.equal(refused({ ...base, labels: ['a', ''] }), 'body.labels[1]');
  const deep = parseInAppDefinition({ ...base, content: { title: 't', buttons: [{ id: 'a', label: 'A', action: 'url', url: 'myapp://cart' }] } });
  assert.equal((deep.definition.content.buttons as { url: string }[])[0]!.url, 'myapp://cart', 'an app\'s own scheme is a deep link');
});

const subject = { native: {}, attributes: { tier: 'gold' as const }, events: [], installations: [], audiences: new Set<string>() };
const input = (over: Partial<EligibilityInput> & { definition?: Record<string, unknown> } = {}): EligibilityInput => {
  const model = parseInAppDefinition({ ...base, ...over.definition });
  return {
    status: 'running', model, audience: model.audience, subject, zone: 'UTC', displays: { count: 0, lastAt: null },
    recent: [], rules: [], evaluateAudience: true, now: Date.parse('2026-06-01T12:00:00Z'), ...over,
  };
};

test('eligibility: status, then dates, then audience, then capping', () => {
  assert.deepEqual(eligibility(input()), { show: true });
  assert.deepEqual(eligibility(input({ status: 'draft' })), { show: false, reason: 'not_started' });
  assert.deepEqual(eligibility(input({ status: 'stopped', definition: { ends_at: '2020-01-01T00:00:00Z' } })), { show: false, reason: 'stopped' });
  assert.deepEqual(eligibility(input({ definition: { ends_at: '2026-06-01T12:00:00Z' } })), { show: false, reason: 'ended' }, 'ends_at is excluded');
  assert.deepEqual(eligibility(input({ definition: { starts_at: '2026-06-01T12:00:01Z' } })), { show: false, reason: 'not_started' });
  assert.deepEqual(eligibility(input({ definition: { audience: { attribute: 'tier', eq: 'silver' } } })), { show: false, reason: 'not_targeted' });
  assert.deepEqual(eligibility(input({ definition: { audience: { attribute: 'tier', eq: 'silver' } }, evaluateAudience: false })), { show: true });
  const now = Date.parse('2026-06-01T12:00:00Z');
  assert.deepEqual(eligibility(input({ definition: { capping: { min_interval_seconds: 60 } }, displays: { count: 1, lastAt: now - 59_000 } })), { show: false, reason: 'capped' });
  assert.deepEqual(eligibility(input({ definition: { capping: { min_interval_seconds: 60 } }, displays: { count: 1, lastAt: now - 60_000 } })), { show: true });
  const rule: CappingRule = { id: 'r', name: 'r', scope: 'in_app', label: null, channels: [], max: 2, windowMs: 3_600_000, action: 'skip', maxDelayMs: null };
  const shown = (at: number) => ({ at, kind: 'campaign' as const, labels: [], channels: ['in_app' as const] });
  assert.deepEqual(eligibility(input({ rules: [rule], recent: [shown(now - 10_000)] })), { show: true });
  assert.deepEqual(eligibility(input({ rules: [rule], recent: [shown(now - 10_000), shown(now - 20_000)] })), { show: false, reason: 'capped' });
});

test('local dates resolve in the recipient\'s zone, DST included; priority order; the next sync comes before a start', () => {
  const m = parseInAppDefinition({ ...base, starts_at: '2026-03-29T02:30:00Z', local_dates: true });
  // 02:30 does not happen in Paris on 29 March 2026 (clocks go 02:00 → 03:00): moved forward by the gap, 03:30 CEST.
  assert.equal(new Date(resolveBound(m.startsAt!, 'Europe/Paris')).toISOString(), '2026-03-29T01:30:00.000Z');
  assert.equal(new Date(resolveBound(m.startsAt!, 'America/New_York')).toISOString(), '2026-03-29T06:30:00.000Z');
  const sorted = [{ id: 'b', priority: 50 }, { id: 'a', priority: 50 }, { id: 'c', priority: 90 }].sort(byPriority).map((x) => x.id);
  assert.deepEqual(sorted, ['c', 'a', 'b']);
  assert.equal(syncAfterSeconds([m], 'UTC', Date.parse('2026-03-29T02:29:00Z')), 60);
  assert.equal(syncAfterSeconds([m], 'UTC', Date.parse('2026-03-29T03:00:00Z')), 300);
});
