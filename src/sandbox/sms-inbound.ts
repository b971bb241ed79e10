/**
 * POST /_sandbox/sms/inbound's body: `{"from", "to", "body", "url"}`, the message a user "replies"
 * and the webhook it goes to. Pure; the SMS simulator (sms.ts) signs and posts it.
 */
import { e164 } from './sms-checks.js';
import type { InboundMessage, InboundResult } from './sms.js';

export type { InboundMessage, InboundResult };

const fields = ['from', 'to', 'body', 'url'];
/** Optional: whose number `to` is (default: the account that last texted `from`). */
const optional = ['account_sid'];

/** The message, or what is wrong with the body (for the invalid_inbound error). */
export function parseInboundRequest(raw: unknown): InboundMessage | string {
  let input: unknown;
  try {
    input = JSON.parse(typeof raw === 'string' ? raw : '');
  } catch {
    return 'the body must be a JSON object: {"from": "+1…", "to": "+1…", "body": "STOP", "url": "https://…"}';
  }
  if (typeof input !== 'object' || input === null || Array.isArray(input)) return 'the body must be a JSON object';
  const o = input as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!fields.includes(k) && !optional.includes(k)) return `unknown field "${k}"; the body has ${[...fields, ...optional].join(', ')}`;
  if (o.account_sid !== undefined && (typeof o.account_sid !== 'string' || !/^AC[0-9a-f]{32}$/.test(o.account_sid))) {
    return 'account_sid must be an account SID: AC followed by 32 hex digits';
  }
  for (const k of fields) if (typeof o[k] !== 'string') return `${k} is required and must be a string`;
  const m = o as unknown as InboundMessage;
  if (!e164.test(m.from)) return 'from must be an E.164 number, e.g. +15005550006';
  if (!e164.test(m.to)) return 'to must be an E.164 number, e.g. +15005550006';
  try {
    const u = new URL(m.url);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') return 'url must be an http or https URL';
  } catch {
    return 'url must be an absolute URL';
  }
  return m;
}
