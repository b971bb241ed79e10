/**
 * W3C Trace Context (https://www.w3.org/TR/trace-context/): the `traceparent` a caller sends with a
 * request is kept with the message it creates and sent on every provider call made for it, so one
 * message can be followed from the caller's trace through the API, the worker's logs and the
 * provider's request logs.
 *
 * A message sent without one still has a trace: its id, a UUIDv7, is 32 hex digits and never all
 * zeros, which is what a trace-id is (W3C Trace Context §3.2.2.3), so nothing is generated or stored for it.
 */

/** What is kept of a caller's `traceparent`: its trace-id and flags (our calls are new spans). */
export interface TraceContext {
  traceId: string;
  flags: string;
}

const hex = /^[0-9a-f]+$/;
const zeros = /^0+$/;

/**
 * The caller's `traceparent`, or undefined when absent or invalid (W3C Trace Context §4.3: a receiver that cannot
 * parse it starts a new trace; an invalid header is never an error). Version 00 has exactly four
 * fields; a later version may append fields, which are ignored (W3C Trace Context §4.3, "versioning of traceparent");
 * version ff is invalid.
 */
export function parseTraceparent(header: string | undefined): TraceContext | undefined {
  if (header === undefined || header.length < 55) return undefined;
  const v = header.trim().split('-');
  const [version, traceId, parentId, flags] = v;
  if (!version || !traceId || !parentId || !flags) return undefined;
  if (version.length !== 2 || !hex.test(version) || version === 'ff') return undefined;
  if (version === '00' ? v.length !== 4 : flags.length !== 2) return undefined;
  if (traceId.length !== 32 || !hex.test(traceId) || zeros.test(traceId)) return undefined;
  if (parentId.length !== 16 || !hex.test(parentId) || zeros.test(parentId)) return undefined;
  if (flags.length !== 2 || !hex.test(flags)) return undefined;
  // Version 00 is what we speak; only the sampled bit of the flags is defined (W3C Trace Context §3.2.2.5).
  return { traceId, flags: (parseInt(flags, 16) & 1) === 1 ? '01' : '00' };
}

/** Stored with a message: `traceId-flags`, or null for the message's own trace. */
export const storedTrace = (t: TraceContext | undefined): string | null => (t ? `${t.traceId}-${t.flags}` : null);

/**
 * The `traceparent` of one provider call for a delivery: the message's trace (the caller's, or the
 * message id's), and a parent-id of its own taken from the delivery id's random bits (W3C Trace Context §3.2.2.4: 8
 * bytes, not all zeros), so each delivery is its own span and its logs can name it.
 */
export function deliveryTraceparent(stored: string | null, messageId: string, deliveryId: string): string {
  const [traceId, flags] = stored ? stored.split('-') : [messageId.replaceAll('-', ''), '00'];
  const id = deliveryId.replaceAll('-', '');
  const spanId = id.slice(16);
  return `00-${traceId}-${zeros.test(spanId) ? id.slice(0, 16) : spanId}-${flags}`;
}

/** The trace-id of a traceparent built above, for log lines. */
export const traceIdOf = (traceparent: string): string => traceparent.slice(3, 35);
