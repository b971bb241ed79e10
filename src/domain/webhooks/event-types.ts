/**
 * The webhook event types Herald sends, and which of an endpoint's events it wants. The SQL that
 * writes events to the outbox (store/webhook-outbox.ts) matches types the same way as `wants`.
 */

/** Types Herald emits today, each from the statement that records its fact (docs/webhooks.md). */
export const webhookEventTypes = [
  'message.sent',
  'message.delivered',
  'message.failed',
  'message.skipped',
  'email.bounced',
  'email.complained',
  'email.unsubscribed',
  'sms.opted_out',
] as const;
export type WebhookEventType = (typeof webhookEventTypes)[number];

/** Named in the filter grammar already, emitted by a later version (docs/webhooks.md, "Coming"). */
export const comingEventTypes = ['profile.updated', 'subscription.changed'] as const;

const known = new Set<string>([...webhookEventTypes, ...comingEventTypes]);

export const isWebhookEventType = (t: string): boolean => known.has(t);

/** An endpoint's filter as stored: sorted, without repeats; empty means every type. */
export function normalizeFilter(types: readonly string[]): { ok: true; types: string[] } | { ok: false; unknown: string } {
  for (const t of types) if (!known.has(t)) return { ok: false, unknown: t };
  return { ok: true, types: [...new Set(types)].sort() };
}

/** Whether an endpoint with this filter receives an event of this type. */
export const wants = (filter: readonly string[], type: string): boolean => filter.length === 0 || filter.includes(type);
