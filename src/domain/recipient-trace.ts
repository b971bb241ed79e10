/**
 * "Did this person get that message, and if not, why?": a pure reading of what the fan-out left
 * (the message's deliveries to the person's installations, address and number) next to what the
 * person has now (profile, installations). It names, channel by channel, the reason a person was
 * not reached: no content for the channel, nothing to send to, or the delivery's own status and
 * reason (a skip, a failure, an invalidated token). The rules mirror domain/recipients.ts, which
 * made the deliveries in the first place.
 */
import { channelOf, channelFacts, contentParts, type ContentPart } from './channels.js';
import type { Recipients } from './recipients.js';

export interface TraceFacts {
  customId: string;
  recipients: Recipients;
  /** The content parts the message carries. */
  parts: readonly ContentPart[];
  /** False while the message waits for its fan-out (its deliveries do not exist yet). */
  fannedOut: boolean;
  profile: { email: string | null; phone: string | null } | undefined;
  installations: readonly { install_id: string; platform: string; push_enabled: boolean }[];
  /** The message's deliveries to the person's installations, address or number. */
  deliveries: readonly { platform: string; status: string; reason: string | null }[];
}

export type TraceVerdict = 'reached' | 'pending' | 'not_reached' | 'not_addressed';

export interface Trace {
  verdict: TraceVerdict;
  /** One line per content part: what happened on it for this person. */
  reasons: { part: ContentPart; reason: string }[];
}

const reached = new Set(['sent', 'delivered']);
const partOf = (platform: string): ContentPart => channelFacts[channelOf(platform)].part;

export function explainRecipient(f: TraceFacts): Trace {
  const named = (f.recipients.custom_ids ?? []).includes(f.customId);
  if (!named && f.deliveries.length === 0) {
    return {
      verdict: 'not_addressed',
      reasons: [{ part: f.parts[0] ?? 'push', reason: `the message does not name custom_id ${f.customId}, nor its installations, address or number` }],
    };
  }
  if (!f.fannedOut) {
    return { verdict: 'pending', reasons: [{ part: f.parts[0] ?? 'push', reason: 'the message is accepted; its recipients are not resolved yet' }] };
  }
  const reasons = contentParts.map((part) => ({ part, reason: partReason(f, part) }));
  const verdict: TraceVerdict = f.deliveries.some((d) => reached.has(d.status))
    ? 'reached'
    : f.deliveries.some((d) => d.status === 'queued') ? 'pending' : 'not_reached';
  return { verdict, reasons };
}

function partReason(f: TraceFacts, part: ContentPart): string {
  if (!f.parts.includes(part)) return `the message has no ${part} content`;
  const ds = f.deliveries.filter((d) => partOf(d.platform) === part);
  if (ds.length) {
    return ds.map((d) => `${d.platform}: ${d.status}${d.reason ? ` (${d.reason})` : ''}`).join('; ');
  }
  if (part === 'push') {
    if (!f.installations.length) return `custom_id ${f.customId} has no installation`;
    if (!f.installations.some((i) => i.push_enabled)) {
      return `none of its ${f.installations.length} installation(s) has a push token (push not enabled)`;
    }
    return 'its installations with a push token were attached after the message was sent';
  }
  const field = part === 'email' ? 'email' : 'phone';
  if (!f.profile) return `no profile with custom_id ${f.customId}`;
  if (!f.profile[field]) return `the profile has no ${field === 'email' ? 'email address' : 'phone number'}`;
  return `the profile's ${field} was set after the message was sent`;
}
