/**
 * Which channel reaches a campaign's recipient: the first content part of the campaign's priority
 * order ("push, else email") that the profile can be reached on, or why none can. Decided per
 * profile just before the send, over the rows the send step loads in bulk. Suppressed addresses,
 * opted-out numbers and invalidated tokens are the delivery pipeline's to skip (domain/recipients.ts),
 * with their own reasons, as for any message.
 */
import type { ContentPart } from '../channels.js';

export interface Reachability {
  /** Installations with a push token. */
  pushTokens: number;
  email: string | null;
  emailSubscription: string | null;
  phone: string | null;
  smsSubscription: string | null;
}

export type ChannelChoice = { part: ContentPart; target: string | null } | { part: null; reason: string };

const reach: Record<ContentPart, (r: Reachability) => { target: string | null } | string> = {
  push: (r) => (r.pushTokens > 0 ? { target: null } : 'no installation with push enabled'),
  email: (r) => (!r.email ? 'no email address' : r.emailSubscription === 'unsubscribed' ? 'unsubscribed from email' : { target: r.email.toLowerCase() }),
  sms: (r) => (!r.phone ? 'no phone number' : r.smsSubscription === 'unsubscribed' ? 'unsubscribed from SMS' : { target: r.phone }),
};

/** The first reachable part in `priority`; when none is, the reason the first one gave. */
export function chooseChannel(priority: readonly ContentPart[], r: Reachability): ChannelChoice {
  let first: string | undefined;
  for (const part of priority) {
    const got = reach[part](r);
    if (typeof got !== 'string') return { part, target: got.target };
    first ??= `${part}: ${got}`;
  }
  return { part: null, reason: first ?? 'the campaign has no channel' };
}
