/**
 * Which calls may be sent again when an attempt's outcome is unknown (the connection dropped after
 * the request went out, the attempt timed out, a gateway answered 502 or 504): those whose second
 * application changes nothing the first did not. Every change carries an Idempotency-Key, but not
 * every route reads it, so this is decided per route, from what the API does (docs/sdk-node.md):
 *
 * - GET, HEAD, PUT and DELETE are idempotent methods (RFC 9110 §9.2.2), and Herald's are.
 * - Routes that honour Idempotency-Key: the same key and body replay the first answer, stored in the
 *   transaction of the effect (src/store/idempotency.ts).
 * - Routes whose body names the effect with client ids (events, attribute changes) or sets a state
 *   (an installation's registration, identify, logout, a segment's change, a key's revocation).
 * - Reads sent as POST (a segment's count or preview).
 *
 * Anything else (creating an API key, rotating the identity secret, a bulk import, a route this
 * table does not know) is repeated only when it certainly was not applied: a connection that was
 * never made, a 429 or a 503.
 */

/** POST and PATCH routes (path templates) that are safe to repeat. */
const repeatable = new Set([
  'POST /v1/transactional/send', // Idempotency-Key
  'POST /v1/audiences', // Idempotency-Key
  'POST /v1/audiences/{id}/members', // Idempotency-Key
  'POST /v1/audiences/{id}/uploads', // Idempotency-Key
  'POST /v1/sdk/installations', // an upsert by install_id
  'POST /v1/sdk/events', // client ids: a seen id is acknowledged, not stored again
  'POST /v1/sdk/attributes', // client id
  'POST /v1/sdk/push-events', // client ids
  'POST /v1/sdk/identify', // sets the installation's custom_id
  'POST /v1/sdk/logout', // clears it
  'POST /v1/segments', // the name is unique: a repeat is refused (409 segment_name_taken), never a second segment
  'PATCH /v1/segments/{id}', // sets fields
  'POST /v1/segments/{id}/count',
  'POST /v1/segments/count',
  'POST /v1/segments/{id}/preview',
  'POST /v1/segments/preview',
  'POST /v1/project/keys/{id}/revoke', // revoking a revoked key answers it as it is
]);

/**
 * A profile update is safe to repeat when every event in it has its id (a seen id is not stored
 * again); attribute changes are assignments, and $add / $remove are set operations. The SDK's
 * `profiles.update` gives an id to each event that has none.
 */
function profileUpdateRepeatable(body: unknown): boolean {
  if (!Array.isArray(body)) return false;
  return body.every((op: { events?: { id?: unknown }[] } | null) =>
    (op?.events ?? []).every((e) => typeof e?.id === 'string' && e.id.length > 0));
}

export function safeToRepeat(method: string, template: string, body: unknown): boolean {
  const m = method.toUpperCase();
  if (m === 'GET' || m === 'HEAD' || m === 'PUT' || m === 'DELETE' || m === 'OPTIONS') return true;
  if (m === 'POST' && template === '/v1/profiles/update') return profileUpdateRepeatable(body);
  return repeatable.has(`${m} ${template}`);
}

/** Methods that change something: they carry an Idempotency-Key. */
export function changes(method: string): boolean {
  const m = method.toUpperCase();
  return m !== 'GET' && m !== 'HEAD' && m !== 'OPTIONS';
}
