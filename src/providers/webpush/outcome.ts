/**
 * Push service answers → Herald's DeliveryOutcome (RFC 8030 §5, §7, §8.4; RFC 8292 §3). Push services answer with a status and a free-text or JSON body that
 * differs per service, so the status decides and the body only explains. Pure: no I/O.
 */
import type { DeliveryOutcome } from '../../domain/outcome.js';

/** The most of a push service's error body kept as the reason: enough for a sentence, not a page. */
const maxReasonLength = 200;

/**
 * What a push service said, as one line: Mozilla's autopush answers JSON with a `message`, FCM
 * and Apple plain text (FCM's as Chromium's sharing/web_push sender parses them); empty when it said nothing.
 */
export function reasonOf(body: Buffer | string): string | undefined {
  const text = (typeof body === 'string' ? body : body.toString('utf8')).trim();
  if (!text) return undefined;
  if (text.startsWith('{')) {
    try {
      const j = JSON.parse(text) as { message?: unknown; error?: unknown; reason?: unknown };
      for (const v of [j.message, j.reason, j.error]) {
        if (typeof v === 'string' && v) return oneLine(v);
      }
    } catch {
      // Not JSON after all: the text itself is the reason.
    }
  }
  return oneLine(text);
}

const oneLine = (s: string) => s.replace(/\s+/g, ' ').slice(0, maxReasonLength);

/**
 * One answer to one push. `location` is the push message resource of a 201 (RFC 8030 §5);
 * `retryAfterMs` comes from Retry-After (RFC 8030 §8.4, RFC 9110 §10.2.3).
 */
export function webPushOutcome(status: number, reason?: string, location?: string, retryAfterMs?: number): DeliveryOutcome {
  // 201 Created is the answer (RFC 8030 §5); 202 Accepted answers `Prefer: respond-async`
  // (§5.1). Any other 2xx is still success by HTTP's definition (RFC 9110 §15.3).
  if (status >= 200 && status < 300) return { kind: 'delivered', providerId: location || undefined };
  const why = reason ?? `HTTP ${status}`;
  switch (status) {
    // 404: "expired push message subscription" (RFC 8030 §7.3); 410 is what FCM and Mozilla answer for an
    // unsubscribed one. Both mean: delete the subscription.
    case 404:
    case 410:
      return { kind: 'token_invalid', reason: why, status };
    // 401: VAPID missing; 403: VAPID invalid, or not the key the subscription was made with
    // (RFC 8292 §4.2). The project's VAPID setup must be fixed; retrying cannot help.
    case 401:
    case 403:
      return { kind: 'credentials_invalid', reason: why, status };
    // Rate limited, "SHOULD also include a Retry-After" (RFC 8030 §8.4).
    case 429:
      return { kind: 'retry', reason: why, status, retryAfterMs };
    // The request timed out at the push service before it was complete (RFC 9110 §15.5.9).
    case 408:
      return { kind: 'retry', reason: why, status, retryAfterMs };
    default:
      break;
  }
  if (status >= 500) return { kind: 'provider_down', reason: why, status, retryAfterMs };
  // 400 (a bad TTL, Urgency, Topic or encryption header, or k equal to the keyid: RFC 8030 §5.2–5.4,
  // RFC 8292 §4.2), 413 (body too large, §7.2) and any other answer: the same request would be
  // refused again however often it is sent.
  return { kind: 'rejected', reason: why, status };
}
