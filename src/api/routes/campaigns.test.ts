import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { TestDatabase } from '../../../test/support/database.js';
import type { CreatedProject } from '../../store/projects.js';
import { routeTestApp, type RouteTestApp } from '../../../test/support/app.js';

// The campaign routes through the whole app (auth, validation, the contract's response check).
let t: RouteTestApp;
let db: TestDatabase;
let project: CreatedProject;
let other: CreatedProject;

before(async () => {
  t = await routeTestApp('campaigns');
  ({ db, project, other } = t);
});
after(() => t.close());

const call = (method: 'GET' | 'POST' | 'PATCH', url: string, payload?: unknown, p: CreatedProject = project) => t.call(method, url, payload, { p });
const campaigns = async () => Number((await db.sql`select count(*) as n from campaigns`)[0]!.n);
const valid = {
  name: 'Welcome back',
  when: { type: 'local', date: '2030-12-24', time: '09:00', late: { policy: 'send_if_within', within_minutes: 60 } },
  targeting: { query: { attribute: 'tier', eq: 'gold' }, languages: ['fr', 'en'] },
  channels: ['push', 'email'],
  content: {
    push: { title: 'Bonjour {{ first_name | default: "toi" }}', body: 'b' },
    email: { subject: 'Hi {{ first_name | default: "there" }}', html: '<p>{{ first_name }}</p>' },
    localized: { fr: { email: { subject: 'Salut {{ first_name }}', text: 't' } } },
  },
  labels: ['promo'],
  send_rate: 60_000,
};

test('a campaign is created as a draft, changed, started, paused, resumed and stopped; each state refuses what it cannot do', async () => {
  const created = await call('POST', '/v1/campaigns', valid);
  assert.equal(created.statusCode, 201, created.body);
  const c = created.json();
  assert.equal(c.state, 'draft');
  assert.deepEqual(c.when, valid.when);
  assert.deepEqual(c.variants, [{ name: 'default', percent: 100, content: valid.content }]);
  assert.equal(c.counts.recipients.pending, 0);

  const renamed = await call('PATCH', `/v1/campaigns/${c.id}`, { name: 'Renamed', send_rate: null });
  assert.equal(renamed.statusCode, 200, renamed.body);
  assert.equal(renamed.json().name, 'Renamed');
  assert.equal(renamed.json().send_rate, null);

  assert.equal((await call('POST', `/v1/campaigns/${c.id}/resume`)).json().error.code, 'campaign_state_conflict');
  const started = await call('POST', `/v1/campaigns/${c.id}/start`);
  assert.equal(started.json().state, 'scheduled');
  assert.ok(started.json().started_at);
  const paused = await call('POST', `/v1/campaigns/${c.id}/pause`);
  assert.equal(paused.json().state, 'paused');
  assert.equal((await call('POST', `/v1/campaigns/${c.id}/resume`)).json().state, 'running');
  const stopped = await call('POST', `/v1/campaigns/${c.id}/stop`);
  assert.equal(stopped.json().state, 'stopped');
  const edit = await call('PATCH', `/v1/campaigns/${c.id}`, { name: 'too late' });
  assert.equal(edit.statusCode, 409);
  assert.equal(edit.json().error.code, 'campaign_state_conflict');
  assert.equal((await call('POST', `/v1/campaigns/${c.id}/start`)).statusCode, 409);

  // Listed in its project only; another project sees a 404.
  const list = await call('GET', '/v1/campaigns?state=stopped');
  assert.deepEqual(list.json().campaigns.map((x: { id: string }) => x.id), [c.id]);
  assert.equal((await call('GET', `/v1/campaigns/${c.id}`, undefined, other)).json().error.code, 'campaign_not_found');
  assert.equal((await call('GET', '/v1/campaigns', undefined, other)).json().campaigns.length, 0);
});

test('what a campaign would fail on later is refused at creation, naming the field, and nothing is stored', async () => {
  const before = await campaigns();
  const refused = async (body: object, code: string, says: RegExp) => {
    const r = await call('POST', '/v1/campaigns', { ...valid, ...body });
    assert.equal(r.statusCode >= 400 && r.statusCode < 500, true, r.body);
    assert.equal(r.json().error.code, code, r.body);
    assert.match(r.json().error.message, says);
  };
  await refused({ content: { ...valid.content, email: { subject: 'Hi {{ first_name | no_such_filter }}', text: 't' } } }, 'invalid_template', /body\.content\.email\.subject/);
  await refused({ content: { ...valid.content, push: { title: 'Hi {% if %}', body: 'b' } } }, 'invalid_template', /body\.content\.push\.title/);
  await refused({ content: { ...valid.content, localized: { fr: { email: { subject: '{{ x | nope }}', text: 't' } } } } }, 'invalid_template', /body\.content\.localized\.fr\.email\.subject/);
  await refused({ content: { ...valid.content, email: { subject: '{% include "x" %}', text: 't' } } }, 'invalid_template', /include/);
  await refused({ when: { type: 'local', date: '2030-12-24', time: '25:00' } }, 'invalid_when', /body\.when\.time/);
  await refused({ when: { type: 'recurring', rule: 'FREQ=WEEKLY;BYDAY=XX', time: '09:00', local: true, starts: '2030-01-01' } }, 'invalid_when', /body\.when\.rule/);
  await refused({ targeting: { query: { attribute: 'tier', gt: 'x' } } }, 'invalid_query', /body\.targeting\.query\.gt/);
  await refused({ targeting: { segment_id: '00000000-0000-7000-8000-000000000000' } }, 'segment_not_found', /no segment/);
  await refused({ targeting: { audience_ids: ['00000000-0000-7000-8000-000000000000'] } }, 'audience_not_found', /no audience/);
  await refused({ channels: ['sms'] }, 'invalid_campaign', /body\.content\.sms is missing/);
  await refused({ content: undefined, variants: [{ name: 'A', percent: 60, content: valid.content }, { name: 'B', percent: 50, content: valid.content }] }, 'invalid_campaign', /more than 100/);
  await refused({ labels: ['a', 'b', 'c', 'd', 'e', 'f'] }, 'invalid_field', /labels/);
  await refused({ send_rate: 10 }, 'invalid_field', /send_rate/);
  assert.equal(await campaigns(), before);
});

test('an A/B campaign with a control group, and retry of failed recipients', async () => {
  const created = await call('POST', '/v1/campaigns', {
    ...valid, content: undefined, start: true,
    variants: [{ name: 'A', percent: 45, content: valid.content }, { name: 'B', percent: 45, content: valid.content }],
    control_percent: 10,
  });
  assert.equal(created.statusCode, 201, created.body);
  assert.equal(created.json().state, 'scheduled');
  assert.equal(created.json().control_percent, 10);
  assert.deepEqual(created.json().counts.recipients, {
    targeted: 0, pending: 0, sent: 0, awaiting: 0, delivered: 0, failed: 0, retryable: 0, skipped: 0, skipped_by_reason: {}, control: 0,
  });
  const retried = await call('POST', `/v1/campaigns/${created.json().id}/retry-failed`);
  assert.equal(retried.statusCode, 200, retried.body);
  assert.equal(retried.json().retried, 0);
});
