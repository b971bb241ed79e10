/**
 * How many SMS segments a body costs, and in which encoding it travels (https://www.twilio.com/docs/glossary/what-sms-character-limit). Twilio bills per segment, and the count also decides how long a long-code sender takes
 * (1 segment/s on a long code, https://help.twilio.com/articles/115002943027-Understanding-Twilio-Rate-Limits-and-Message-Queues), so Herald computes it before sending and records it per delivery. Pure.
 *
 * - GSM-7 (3GPP TS 23.038, "GSM 03.38"): 160 septets in one SMS, 153 per part of a concatenated one
 *   (the 6-byte user-data header takes 7 septets). Characters of the extension table cost 2 septets
 *   (escape 0x1B + code) and an escape pair is never split across parts.
 * - UCS-2 (in practice UTF-16): 70 code units in one SMS, 67 per part. Characters outside the BMP
 *   (most emoji) are a surrogate pair, 2 units, never split across parts.
 *
 * A single character outside GSM-7 turns the whole message into UCS-2.
 */

export type SmsEncoding = 'GSM-7' | 'UCS-2';

export interface SmsSegments {
  encoding: SmsEncoding;
  /** Septets for GSM-7 (extension characters count 2), UTF-16 code units for UCS-2. */
  units: number;
  /** Parts the message is sent as; an empty body is still one (empty) SMS. */
  segments: number;
}

/** Units in one SMS and in each part of a concatenated one, per encoding (https://www.twilio.com/docs/glossary/what-sms-character-limit). */
export const segmentLimits: Readonly<Record<SmsEncoding, { single: number; perPart: number }>> = {
  'GSM-7': { single: 160, perPart: 153 },
  'UCS-2': { single: 70, perPart: 67 },
};

/**
 * The GSM 03.38 default alphabet, in code order 0x00–0x7F. 0x1B (the escape to the extension table)
 * is not a character of its own and is left out.
 */
const basicTable =
  '@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !"#¤%&\'()*+,-./0123456789:;<=>?' +
  '¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà';

/** The extension table's characters (form feed, ^ { } \ [ ~ ] | €): 2 septets each. */
const extensionTable = '\f^{}\\[~]|€';

const basic = new Set(basicTable);
const extension = new Set(extensionTable);

/** Septets one character costs in GSM-7, or undefined when GSM-7 cannot carry it. */
export function gsmSeptets(ch: string): 1 | 2 | undefined {
  if (basic.has(ch)) return 1;
  if (extension.has(ch)) return 2;
  return undefined;
}

/** True when every character of `body` is in the GSM-7 default alphabet or its extension table. */
export function isGsm7(body: string): boolean {
  for (const ch of body) if (gsmSeptets(ch) === undefined) return false;
  return true;
}

/**
 * Encoding, units and segment count of a body. Parts are filled greedily, and a character that
 * does not fit whole (an escape pair, a surrogate pair) starts the next part, as handsets and
 * carriers split them.
 */
export function smsSegments(body: string): SmsSegments {
  const encoding: SmsEncoding = isGsm7(body) ? 'GSM-7' : 'UCS-2';
  // Iterating a string yields code points: a surrogate pair comes as one 2-unit character.
  const costs: number[] = [];
  let units = 0;
  for (const ch of body) {
    const cost = encoding === 'GSM-7' ? gsmSeptets(ch)! : ch.length;
    costs.push(cost);
    units += cost;
  }
  const limits = segmentLimits[encoding];
  if (units <= limits.single) return { encoding, units, segments: 1 };
  let segments = 1;
  let fill = 0;
  for (const cost of costs) {
    if (fill + cost > limits.perPart) {
      segments++;
      fill = 0;
    }
    fill += cost;
  }
  return { encoding, units, segments };
}
