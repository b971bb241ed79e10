/**
 * Twilio's default opt-out and opt-in keywords (Twilio Support, "Twilio support for opt-out keywords
 * (SMS STOP filtering)"): a reply that is exactly one of them, case-insensitive and trimmed, opts
 * the sender out of, or back into, messages; "STOP PLEASE" does nothing. Messaging Services with
 * Advanced Opt-Out may define their own keywords and then tell which kind a reply was in the
 * webhook's `OptOutType` parameter, which wins when present. Pure.
 */

export const optOutKeywords = ['STOP', 'STOPALL', 'UNSUBSCRIBE', 'CANCEL', 'END', 'QUIT'] as const;
export const optInKeywords = ['START', 'YES', 'UNSTOP'] as const;

export type KeywordAction = 'opt_out' | 'opt_in';

/** What an inbound message asks for, if anything. */
export function keywordAction(body: string, optOutType?: string | null): KeywordAction | undefined {
  const type = optOutType?.trim().toUpperCase();
  if (type === 'STOP') return 'opt_out';
  if (type === 'START') return 'opt_in';
  const word = body.trim().toUpperCase();
  if ((optOutKeywords as readonly string[]).includes(word)) return 'opt_out';
  if ((optInKeywords as readonly string[]).includes(word)) return 'opt_in';
  return undefined;
}
