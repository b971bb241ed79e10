/**
 * Two projects on one sandbox, neither with SMS credentials: each delivers on its own sandbox
 * account, whose token signs that project's webhooks only. A STOP forged with the general token the
 * inspection API lists, or with the other project's token, is refused (403) and opts nobody out;
 * the simulator's own callbacks and replies still verify for each project.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestHerald, eventually, type TestHerald } from '../support/herald.js';
import { createProject, type CreatedProject } from '../../src/store/projects.js';
import { twilioSignature } from '../../src/providers/sms/signature.js';
import { smsInboundUrl } from '../../src/domain/sms-webhook-urls.js';

let h: TestHerald;
let b: CreatedProject;
let inspection: string;
before(async () => {
  h = await startTestHerald();
  b = await createProject(h.db.sql, 'project B', h.keyring);
  inspection = h.herald.sandbox!.inspectionUrl;
});
after(async () => { await h.close(); });

const a = () => h.project;
const callbackBase = () => `http://127.0.0.1:${new URL(h.url).port}`;
const json = async (path: string) => (await (await fetch(inspection + path)).json()) as any;

async function sendSms(p: CreatedProject, phone: string): Promise<string> {
  const as = { authorization: `Bearer ${p.rest_key}` };
  const put = await h.call('PUT', `/v1/profiles/u-${phone.slice(1)}`, { phone, sms_subscription: 'subscribed' }, as);
  assert.ok(put.status < 300, JSON.stringify(put.body));
  const r = await h.call('POST', '/v1/transactional/send', { group_id: 'sms', recipients: { custom_ids: [`u-${phone.slice(1)}`] }, sms: { text: 'hi' } }, as);
  assert.equal(r.status, 202, JSON.stringify(r.body));
  return r.body.message_id;
}

const delivered = (p: CreatedProject, id: string) => eventually(async () => {
  const m = await h.call('GET', `/v1/messages/${id}`, undefined, { authorization: `Bearer ${p.rest_key}` });
  const [r] = m.body.recipients as { status: string }[];
  return r?.status === 'delivered' ? r : undefined;
}, 15_000, 'the simulator\'s signed delivered callback');

async function postInbound(projectId: string, token: string, from: string): Promise<number> {
  const url = smsInboundUrl(callbackBase(), projectId);
  const params = { MessageSid: `SM${'1'.repeat(32)}`, From: from, To: '+15005550006', Body: 'STOP', AccountSid: `AC${'0'.repeat(32)}` };
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': twilioSignature(token, url, params) },
    body: new URLSearchParams(params).toString(),
  });
  await res.arrayBuffer();
  return res.status;
}

const optedOut = async (projectId: string, phone: string) =>
  (await h.db.sql`select 1 from sms_opt_outs where project_id = ${projectId} and phone = ${phone}`).length > 0;

test('each project\'s sandbox account signs its own webhooks only: a forged STOP is a 403 and opts nobody out', async () => {
  const phoneA = `+1555${String(Date.now() % 1e7).padStart(7, '0')}`;
  const phoneB = `+1556${String(Date.now() % 1e7).padStart(7, '0')}`;
  // The simulator's own callbacks verify for each project (the message reaches `delivered`).
  await delivered(a(), await sendSms(a(), phoneA));
  await delivered(b, await sendSms(b, phoneB));

  const general = (await json('/_sandbox/credentials')).sms;
  assert.equal(await postInbound(a().project_id, general.auth_token, phoneA), 403, 'the token the inspection API lists signs for no project');
  const accountA = await json(`/_sandbox/credentials/sms/${a().project_id}`);
  const accountB = await json(`/_sandbox/credentials/sms/${b.project_id}`);
  assert.notEqual(accountA.auth_token, accountB.auth_token);
  assert.notEqual(accountA.account_sid, accountB.account_sid);
  assert.equal(await postInbound(a().project_id, accountB.auth_token, phoneA), 403, 'B\'s token does not sign A\'s webhooks');
  assert.equal(await optedOut(a().project_id, phoneA), false);

  // The simulator's reply to A's number goes to A's account (the one that texted it) and verifies.
  const reply = await fetch(`${inspection}/_sandbox/sms/inbound`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ from: phoneA, to: '+15005550006', body: 'STOP', url: smsInboundUrl(callbackBase(), a().project_id) }),
  });
  assert.equal(reply.status, 200, await reply.clone().text());
  assert.equal((await reply.json() as { status: number }).status, 200);
  assert.equal(await optedOut(a().project_id, phoneA), true);
  assert.equal(await postInbound(b.project_id, accountB.auth_token, phoneB), 200, 'B\'s own token signs B\'s webhooks');
});
