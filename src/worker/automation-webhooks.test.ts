/**
 * Automations' webhook steps against a real local HTTP receiver, on a real database with the test
 * clock: a call that fails once (HTTP 500) and then succeeds is tried again after its back-off with
 * the same webhook-id, signed per Standard Webhooks with the endpoint's secret, its body rendered
 * with the profile and the trigger, and the journey goes on once; a call to a private address is
 * refused by the outbound guard before anything is sent, recorded, and the journey exits as the
 * step says; a journey that exited meanwhile sends nothing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Webhook } from 'standardwebhooks';
import { testClock, type TestClock } from '../../test/support/clock.js';
import { routeTestApp } from '../../test/support/app.js';
import { testMasterKey } from '../../test/support/keyring.js';
import { webhookReceiver, type WebhookReceiver } from '../../test/support/webhook-receiver.js';
import { silentLogger } from '../observability/logger.js';
import { createOutboundGuard, type OutboundGuard } from '../providers/outbound-guard.js';
import { uuidv7 } from '../domain/ids.js';
import { createEndpoint } from '../store/webhook-endpoints.js';
import { automationPass } from '../scheduler/automations.js';
import { runDueCalls } from './automation-webhooks.js';

async function setup(t: { after(fn: () => Promise<void>): void }, answer: (n: number) => { status: number }) {
  const clock: TestClock = testClock();
  const { keyring } = testMasterKey();
  const h = await routeTestApp('automation-webhooks', { clock, keyring });
  const receiver: WebhookReceiver = await webhookReceiver(answer);
  t.after(async () => {
    await receiver.close();
    await h.close();
  });
  const endpoint = await createEndpoint(h.db.sql, keyring, h.project.project_id, {
    id: uuidv7(clock.now()), url: receiver.url, description: null, eventTypes: [], enabled: true, now: new Date(clock.now()),
  });
  const r = await h.call('POST', '/v1/profiles/update', [{ identifiers: { custom_id: 'ann' }, attributes: { $email: 'ann@example.com', tier: 'gold' } }]);
  assert.equal(r.statusCode, 200, r.body);
  const deps = { sql: h.db.sql, queue: h.queue, clock, log: silentLogger() };
  const calls = (guard: OutboundGuard) => runDueCalls({ sql: h.db.sql, keyring, log: silentLogger(), guard, clock, timeoutMs: 2_000, random: () => 0.5 });
  const create = async (definition: unknown) => {
    const c = await h.call('POST', '/v1/automations', { name: 'hooks', definition, start: true });
    assert.equal(c.statusCode, 201, c.body);
    return c.json().id as string;
  };
  const counts = async (id: string) => (await h.call('GET', `/v1/automations/${id}`)).json().counts;
  return { clock, h, receiver, endpoint, pass: () => automationPass(deps), calls, create, counts };
}

const open = createOutboundGuard({ all: true, origins: [] });
const stepCounts = (c: { steps: { step: string }[] }, id: string) => c.steps.find((s) => s.step === id) as unknown as { entered: number; waiting: number; sent: number; failed: Record<string, number>; paths: Record<string, number> };

test('a webhook step that fails once then succeeds is called again with the same webhook-id and the journey goes on once', async (t) => {
  const a = await setup(t, (n) => ({ status: n === 1 ? 500 : 204 }));
  const id = await a.create({
    trigger: { type: 'api' },
    steps: [
      { id: 'crm', type: 'webhook', endpoint_id: a.endpoint.id, body: { who: '{{ profile.custom_id }}', tier: '{{ tier }}', plan: '{{ event.attributes.plan }}', fixed: 7 } },
      { id: 'hi', type: 'send', channels: ['email'], content: { email: { subject: 'after the hook', text: 'Hi' } } },
    ],
  });
  const entered = await a.h.call('POST', `/v1/automations/${id}/entries`, { custom_id: 'ann', attributes: { plan: 'pro' } });
  assert.equal(entered.json().entered, true, entered.body);
  await a.pass();
  // The journey waits on its call; nothing is sent before a worker tries it.
  assert.equal(a.receiver.requests.length, 0);
  assert.equal(stepCounts(await a.counts(id), 'crm').waiting, 1);
  assert.equal(await a.calls(open), 1);
  assert.equal(a.receiver.requests.length, 1);
  assert.equal(await a.calls(open), 0, 'not due again before its back-off');
  await a.pass();
  const [m0] = await a.h.db.sql<{ n: number }[]>`select count(*)::int as n from messages where group_id = ${`automation:${id}`}`;
  assert.equal(m0!.n, 0, 'the journey waits while the call is retried');

  a.clock.advance(10_000);
  assert.equal(await a.calls(open), 1);
  assert.equal(a.receiver.requests.length, 2);
  const [first, second] = a.receiver.requests;
  assert.equal(first!.headers['webhook-id'], second!.headers['webhook-id']);
  assert.equal(first!.body, second!.body);
  assert.deepEqual(new Webhook(a.endpoint.secret).verify(second!.body, second!.headers), { who: 'ann', tier: 'gold', plan: 'pro', fixed: 7 });
  await a.pass();
  await a.pass();
  const [m1] = await a.h.db.sql<{ n: number }[]>`select count(*)::int as n from messages where group_id = ${`automation:${id}`}`;
  assert.equal(m1!.n, 1);
  a.clock.advance(3_600_000);
  assert.equal(await a.calls(open), 0, 'a delivered call is never tried again');
  const c = await a.counts(id);
  assert.equal(c.completed, 1);
  assert.deepEqual({ sent: stepCounts(c, 'crm').sent, waiting: stepCounts(c, 'crm').waiting, paths: stepCounts(c, 'crm').paths }, { sent: 1, waiting: 0, paths: { delivered: 1 } });
  const [call] = await a.h.db.sql<{ tries: number; outcome: string; last_status: number }[]>`select tries, outcome, last_status from automation_calls`;
  assert.deepEqual({ ...call }, { tries: 2, outcome: 'delivered', last_status: 204 });
});

test('a webhook step to a private address is refused by the guard before anything is sent, and recorded; the journey exits as the step says', async (t) => {
  const a = await setup(t, () => ({ status: 204 }));
  const id = await a.create({
    trigger: { type: 'api' },
    steps: [
      { id: 'crm', type: 'webhook', endpoint_id: a.endpoint.id, body: { who: '{{ profile.custom_id }}' }, on_failure: 'exit' },
      { id: 'hi', type: 'send', channels: ['email'], content: { email: { subject: 'never', text: 'Hi' } } },
    ],
  });
  await a.h.call('POST', `/v1/automations/${id}/entries`, { custom_id: 'ann' });
  await a.pass();
  assert.equal(await a.calls(createOutboundGuard()), 1);
  await a.pass();
  assert.equal(a.receiver.requests.length, 0);
  const c = await a.counts(id);
  assert.deepEqual(c.exited, { webhook_failed: 1 });
  assert.deepEqual(stepCounts(c, 'crm').failed, { forbidden_address: 1 });
  const [call] = await a.h.db.sql<{ tries: number; outcome: string; last_error: string }[]>`select tries, outcome, last_error from automation_calls`;
  assert.equal(call!.outcome, 'failed');
  assert.equal(call!.tries, 1, 'a refused address is not tried again');
  assert.match(call!.last_error, /127\.0\.0\.1/);

  // A journey that exits while its call waits (a stop) sends nothing.
  const other = await a.create({ trigger: { type: 'api' }, steps: [{ id: 'crm', type: 'webhook', endpoint_id: a.endpoint.id, body: { x: 1 } }] });
  await a.h.call('POST', `/v1/automations/${other}/entries`, { custom_id: 'ann' });
  await a.pass();
  assert.equal((await a.h.call('POST', `/v1/automations/${other}/stop`)).statusCode, 200);
  assert.equal(await a.calls(open), 1);
  assert.equal(a.receiver.requests.length, 0);
  // A definition naming an endpoint the project does not have is refused.
  const bad = await a.h.call('POST', '/v1/automations', { name: 'x', definition: { trigger: { type: 'api' }, steps: [{ id: 'w', type: 'webhook', endpoint_id: uuidv7(), body: {} }] } });
  assert.equal(bad.statusCode, 400);
  assert.equal(bad.json().error.code, 'invalid_automation');
  assert.match(bad.json().error.message, /steps\[0\]\.endpoint_id/);
});
